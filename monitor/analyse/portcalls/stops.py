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

from dataclasses import dataclass

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
    speed_kn: Floats,
    nulls: Bools,
    first: Bools,
    stop_speed_kn: float,
    move_speed_kn: float,
    prior: Bools | None = None,
) -> Bools:
    """Return, per row, whether the vessel is stopped by its speed (hysteresis, any duration).

    A row without a speed (``nulls``) keeps the state of the row before; NaN counts as moving,
    as polars orders it above every number. ``prior`` is, at a first row, the state of the row
    before it when detection goes on from there (a restart point).
    """
    slow = speed_kn < stop_speed_kn
    fast = (speed_kn > move_speed_kn) | (np.isnan(speed_kn) & ~nulls)
    start = slow if prior is None else np.where(first & ~slow & ~fast, prior, slow)
    result: Bools = forward_fill(start, slow | fast | first)
    return result


def run_starts(flag: Bools, micros: Ints, breaks: Bools, since_us: Ints | None = None) -> Ints:
    """Return, per row of a run of ``flag`` (cut at ``breaks``), the time its run began (-1
    outside runs). ``since_us`` is, at a first row, when the run it continues began (-1: none)."""
    starts = flag.copy()
    starts[1:] &= ~flag[:-1] | breaks[1:]
    begin = np.where(starts, micros, -1)
    if since_us is not None:
        begin = np.where(starts & (since_us >= 0), since_us, begin)
    result: Ints = np.where(flag, forward_fill(begin, starts | ~flag), -1)
    return result


def runs_lasting(flag: Bools, micros: Ints, breaks: Bools, min_us: float, begin: Ints) -> Bools:
    """Return ``flag`` with its runs (cut at ``breaks``, begun at ``begin``, from
    :func:`run_starts`) spanning less than ``min_us`` cleared."""
    n = flag.size
    if n == 0 or min_us <= 0:
        return flag.copy()
    ends = flag.copy()
    ends[:-1] &= ~flag[1:] | breaks[1:]
    end_rows = np.flatnonzero(ends)
    if end_rows.size == 0:
        return flag.copy()
    long_enough = (micros[end_rows] - begin[end_rows]) >= min_us
    run = np.cumsum(np.r_[False, ends[:-1]])
    kept: Bools = flag & long_enough[np.minimum(run, end_rows.size - 1)]
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


@dataclass
class Stops:
    """Per row: whether the vessel is stopped, and the state detection goes on from."""

    stopped: Bools
    #: Stopped by speed before the run's length is judged (the hysteresis state).
    by_speed: Bools
    #: When its run of ``by_speed`` began (-1 outside runs).
    since_us: Ints


@dataclass
class Resumed:
    """What stops need where detection goes on from a restart point (at first rows)."""

    #: The hysteresis state of the row before.
    prior: Bools
    #: When the run of stopped-by-speed the row before is in began (-1: none).
    since_us: Ints
    #: Positions before restart points (every one less than ``min_stop_min`` before the
    #: position before the restart point): lat, lon, time, and the row each comes before.
    lat: Floats
    lon: Floats
    micros: Ints
    before: Ints


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
    max_gap_us: int,
    resumed: Resumed | None = None,
) -> Stops:
    """Return, per row, whether the vessel is stopped there (by speed or by position).

    ``gap`` marks rows after a silence longer than ``max_gap_h`` (``max_gap_us``): a stop is
    measured on each side of a silence separately. With ``resumed``, rows that begin a vessel
    go on from the state before them, and positions are stopped by the windows that begin
    among the positions given before them.
    """
    breaks = first | gap
    min_us = min_stop_min * 60e6
    prior = since = None
    if resumed is not None:
        prior, since = resumed.prior, resumed.since_us
    raw = speed_stopped(speed_kn, speed_nulls, first, stop_speed_kn, move_speed_kn, prior)
    begin = run_starts(raw, micros, breaks, since)
    by_speed = runs_lasting(raw, micros, breaks, min_us, begin)
    if resumed is None or resumed.before.size == 0:
        by_position = position_stopped(lat, lon, micros, breaks, stop_radius_m, min_us)
    else:
        at = resumed.before
        all_lat = np.insert(lat, at, resumed.lat)
        all_lon = np.insert(lon, at, resumed.lon)
        all_us = np.insert(micros, at, resumed.micros)
        own = np.insert(np.ones(lat.size, dtype=bool), at, False)
        own_rows = np.flatnonzero(own)
        # The first of the positions given before a row begins the vessel, not the row.
        lead = np.zeros(own.size, dtype=bool)
        lead[own_rows] = first
        lead |= ~own & np.r_[True, own[:-1]]
        lead[own_rows[np.unique(at)]] = False
        all_gap = np.zeros(own.size, dtype=bool)
        all_gap[1:] = np.diff(all_us) > max_gap_us
        held = position_stopped(all_lat, all_lon, all_us, lead | all_gap, stop_radius_m, min_us)
        by_position = held[own]
    result: Bools = by_speed | by_position
    return Stops(result, raw, begin)
