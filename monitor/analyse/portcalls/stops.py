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
from monitor.core.jit import I64, Bool, kernel

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


@kernel
def _held(
    lat: Floats, lon: Floats, coslat: Floats, micros: I64, breaks: Bool, min_us: int, reach: float
) -> Bool:
    """Return, per row, whether it lies in a window that starts at a row and ends at the first
    row at least ``min_us`` later, without a break, every row of it within ``reach`` (degrees
    of latitude) of the first: the equirectangular distance at the first row's latitude
    (``coslat``), exact enough for hundreds of metres."""
    n = lat.size
    out = np.zeros(n, np.bool_)
    reach2 = reach * reach
    segment_end = 0
    last = 0
    covered = -1
    for i in range(n):
        if i >= segment_end:
            segment_end = i + 1
            while segment_end < n and not breaks[segment_end]:
                segment_end += 1
        last = max(last, i)
        while last < segment_end and micros[last] - micros[i] < min_us:
            last += 1
        if last >= segment_end:
            continue
        ok = True
        # The last row first: a moving vessel's window fails there at once.
        for step in range(last - i):
            k = last if step == 0 else i + step
            dlon = ((lon[k] - lon[i] + 180.0) % 360.0 - 180.0) * coslat[i]
            dlat = lat[k] - lat[i]
            if dlon * dlon + dlat * dlat > reach2:
                ok = False
                break
        if ok:
            for k in range(max(i, covered + 1), last + 1):
                out[k] = True
            covered = max(covered, last)
    return out


def position_stopped(
    lat: Floats, lon: Floats, micros: Ints, breaks: Bools, radius_m: float, min_us: float
) -> Bools:
    """Return, per row, whether the vessel stays within ``radius_m`` of a position for ``min_us``.

    A row starts such a window when every row from it to the first row at least ``min_us``
    later, without a break between, lies within ``radius_m`` of it; every row of a window is
    stopped. ``min_us`` 0 finds none.
    """
    if lat.size == 0 or min_us <= 0:
        return np.zeros(lat.size, dtype=bool)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    held: Bools = _held(
        lat,
        np.ascontiguousarray(lon, dtype=np.float64),
        np.cos(np.radians(lat)),
        np.ascontiguousarray(micros, dtype=np.int64),
        np.ascontiguousarray(breaks, dtype=np.bool_),
        int(np.ceil(min_us)),
        radius_m / METRES_PER_DEG,
    )
    return held


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
