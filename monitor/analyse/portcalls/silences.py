"""Silences in port: which are one stay, and which end the call at the vessel's last position.

A vessel that goes silent inside a port and is heard again inside the same port may have stayed
(a berth out of the receivers' reach, AIS switched off alongside), or left and come back, or
crossed the port's approaches twice. The silence is bridged only when the data is consistent
with staying; otherwise the call ends at the last position before it (departure not observed)
and what follows is a new call, or a transit.
"""

from __future__ import annotations

import numpy as np

from monitor.analyse.portcalls.visits import US_PER_H
from monitor.config import DetectSettings


def unbridged_silences(
    micros: np.ndarray,
    port: np.ndarray,
    gap: np.ndarray,
    speed_kn: np.ndarray,
    resting: np.ndarray,
    harbour: np.ndarray,
    settings: DetectSettings,
) -> np.ndarray:
    """Return, per row, whether the silence before it, inside one port, ends the visit there.

    A silence longer than ``max_gap_h`` with the vessel in the same port on both sides is one
    stay when it is at most ``max_silent_stay_h`` long and the vessel was not passing through on
    both sides: under way (above ``move_speed_kn``, not stopped, not at rest) outside the
    harbour (in an anchorage or the exit buffer). A vessel seen only crossing the approaches
    may have gone to a berth of this port or of its neighbour, or anywhere; one seen inside the
    basin or stopped, on either side, stayed.
    """
    split = np.zeros(port.size, dtype=bool)
    rows = np.flatnonzero(gap)
    rows = rows[(port[rows] >= 0) & (port[rows] == port[rows - 1])]
    if rows.size == 0:
        return split
    passing = (speed_kn > settings.move_speed_kn) & ~resting & ~harbour
    too_long = micros[rows] - micros[rows - 1] > settings.max_silent_stay_h * US_PER_H
    split[rows] = too_long | (passing[rows - 1] & passing[rows])
    return split
