"""Stops: where a vessel is stopped, from its reported speed and from its positions.

A vessel is stopped by its speed with hysteresis, as in Global Fishing Watch's port visits (below
``stop_speed_kn``, and moving again only above ``move_speed_kn``), or by its positions: it stays
within ``stop_radius_m`` of a position for ``min_stop_min``, whatever its SOG says (a moored ship's
SOG can be the noise of a bad GPS, or missing). Either way a stop lasts at least ``min_stop_min``
from its first to its last stopped position, without a silence longer than ``max_gap_h``: one
slow fix among moving ones is not a stop.

Rows are positions sorted by vessel (or track) and time; ``first`` marks each vessel's first row
and ``breaks`` the rows after which the record is cut (a vessel's first row, or a silence).
Everything works on all vessels at once, with numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitor.core.geo import METRES_PER_DEG

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def forward_fill(values: np.ndarray, defined: Bools) -> np.ndarray:
    """Return ``values`` with each undefined row taking the last defined value before it.

    The first row must be defined (it is the first row of a vessel, where every state is).
    """
    rows = np.arange(values.size, dtype=np.int32 if values.size < 2**31 else np.int64)
    source = np.where(defined, rows, 0)
    np.maximum.accumulate(source, out=source)
    return values[source]


def speed_stopped(
    speed_kn: Floats, nulls: Bools, first: Bools, stop_speed_kn: float, move_speed_kn: float
) -> Bools:
    """Return, per row, whether the vessel is stopped by its speed (hysteresis, any duration).

    A row without a speed (``nulls``) keeps the state of the row before; NaN counts as moving,
    as polars orders it above every number.
    """
    slow = speed_kn < stop_speed_kn
    fast = (speed_kn > move_speed_kn) | (np.isnan(speed_kn) & ~nulls)
    result: Bools = forward_fill(slow, slow | fast | first)
    return result


def runs_lasting(flag: Bools, micros: Ints, breaks: Bools, min_us: float) -> Bools:
    """Return ``flag`` with its runs (cut at ``breaks``) spanning less than ``min_us`` cleared."""
    n = flag.size
    if n == 0 or min_us <= 0:
        return flag.copy()
    starts = flag.copy()
    starts[1:] &= ~flag[:-1] | breaks[1:]
    ends = flag.copy()
    ends[:-1] &= ~flag[1:] | breaks[1:]
    start_rows, end_rows = np.flatnonzero(starts), np.flatnonzero(ends)
    if start_rows.size == 0:
        return flag.copy()
    long_enough = (micros[end_rows] - micros[start_rows]) >= min_us
    run = np.cumsum(starts) - 1
    kept: Bools = flag & long_enough[np.maximum(run, 0)]
    return kept


def _far(lat: Floats, lon: Floats, a: Ints, b: Ints, radius_m: float) -> Bools:
    """Return whether the positions at rows ``b`` lie farther than ``radius_m`` from rows ``a``."""
    dlon = (lon[b] - lon[a] + 180.0) % 360.0 - 180.0
    dlon *= np.cos(np.radians((lat[a] + lat[b]) * 0.5))
    dlat = lat[b] - lat[a]
    reach = radius_m / METRES_PER_DEG
    far: Bools = dlon * dlon + dlat * dlat > reach * reach
    return far


def position_stopped(
    lat: Floats, lon: Floats, micros: Ints, breaks: Bools, radius_m: float, min_us: float
) -> Bools:
    """Return, per row, whether the vessel stays within ``radius_m`` of a position for ``min_us``.

    A row starts such a window when every row from it to the first row at least ``min_us``
    later, without a break between, lies within ``radius_m`` of it; every row of a window is
    stopped. ``min_us`` 0 finds none.
    """
    n = lat.size
    if n == 0 or min_us <= 0:
        return np.zeros(n, dtype=bool)
    segment = np.cumsum(breaks)
    seconds = (micros - micros[0]).astype(np.float64) / 1e6
    # Times made increasing across segments, so one search finds each window's end.
    stride = float(seconds.max() - seconds.min()) + min_us / 1e6 + 1.0
    rising = seconds + segment * stride
    end = np.searchsorted(rising, rising + min_us / 1e6, side="left")
    rows = np.arange(n, dtype=np.int64)
    valid = end < n
    valid[valid] = segment[end[valid]] == segment[valid]
    start = rows[valid]
    end = end[valid].astype(np.int64)
    ok = ~_far(lat, lon, start, end, radius_m)
    start, end = start[ok], end[ok]
    # Check the rows inside each window, one offset at a time, dropping windows as they fail.
    good = np.ones(start.size, dtype=bool)
    active = np.flatnonzero(end - start > 1)
    step = 1
    while active.size:
        inside = ~_far(lat, lon, start[active], start[active] + step, radius_m)
        good[active[~inside]] = False
        active = active[inside & (end[active] - start[active] > step + 1)]
        step += 1
    start, end = start[good], end[good]
    depth = np.zeros(n + 1, dtype=np.int64)
    np.add.at(depth, start, 1)
    np.add.at(depth, end + 1, -1)
    stopped: Bools = np.cumsum(depth[:n]) > 0
    return stopped


def stopped_rows(
    lat: Floats,
    lon: Floats,
    micros: Ints,
    speed_kn: Floats,
    speed_nulls: Bools,
    first: Bools,
    gap: Bools,
    *,
    stop_speed_kn: float,
    move_speed_kn: float,
    min_stop_min: float,
    stop_radius_m: float,
) -> Bools:
    """Return, per row, whether the vessel is stopped there (by speed or by position).

    ``gap`` marks rows after a silence longer than ``max_gap_h``: a stop is measured on each
    side of a silence separately.
    """
    breaks = first | gap
    min_us = min_stop_min * 60e6
    by_speed = speed_stopped(speed_kn, speed_nulls, first, stop_speed_kn, move_speed_kn)
    by_speed = runs_lasting(by_speed, micros, breaks, min_us)
    by_position = position_stopped(lat, lon, micros, breaks, stop_radius_m, min_us)
    result: Bools = by_speed | by_position
    return result
