"""monitor: an AIS port-activity monitor.

Reads raw AIS (NMEA) and CSV position files into a Parquet store, finds port calls in configured
geofences, flags dark periods and writes HTML map reports.
Importing the package has no side effects.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
