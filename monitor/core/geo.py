"""Geodesy constants: one Earth radius, one length of a degree, one nautical mile.

Every local metric projection in the monitor (geofence buffers, outlier speeds, track thinning,
the simulator's plane) uses these, so that a distance means the same in each of them.
"""

from __future__ import annotations

import math

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8
#: Metres in one degree of latitude (and of longitude at the equator) on that sphere: 111,195 m.
METRES_PER_DEG = math.pi * EARTH_RADIUS_M / 180.0
#: Metres in one international nautical mile.
METRES_PER_NM = 1852.0
#: Metres per second in one knot.
MPS_PER_KN = METRES_PER_NM / 3600.0
