"""What the cause of a silence is judged by, and the rules that judge it.

Per silence (from :func:`monitor.analyse.gaps.silences`):

- the vessel's usual interval: the interval that half of its time falls in, over
  ``gaps.window_h`` before the silence and after it (the longer of the two counts; other
  silences left out), and how long it was heard there at all;
- how it moved at its ends: the SOG and COG it reported at its last position before and first
  after, else its velocity over the positions around them (under 1 kn: lying still);
- whether the vessels near it fell silent with it (:meth:`ReceptionGrid.fell_silent_with`),
  and how much of the silence they were heard as regularly as usual
  (:meth:`ReceptionGrid.kept_heard`);
- in how much of the silence other vessels were heard near where it is taken to have been
  (:meth:`ReceptionGrid.quiet_along`);
- whether its reception was fading: sparser in the hour before the silence (or after it) than
  usual.

:func:`causes` turns these into ``coverage``, ``outage``, ``range`` or ``dark`` (see the README
for the rules and the figures that set them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from monitor.analyse.reception import (
    F64,
    ONWARD,
    ONWARD_MAX_US,
    OUT_AND_BACK,
    STRAIGHT,
    GridGeometry,
    ReceptionGrid,
)
from monitor.analyse.reception_rows import reception_grid, station_codes
from monitor.analyse.reception_stations import (
    MAX_OWN_STATIONS,
    STATIONS_UNKNOWN,
    STATIONS_WORKING,
)
from monitor.core.geo import METRES_PER_DEG, METRES_PER_NM
from monitor.core.jit import I64, kernel

if TYPE_CHECKING:
    from monitor.config import GapSettings

_US_PER_H = 3_600_000_000
#: A receiver station that heard nobody over half a silence is taken to have stopped only if
#: that would happen by this chance or less, were it working as it did over the hours before
#: (after) the silence (see :meth:`ReceptionGrid.stations_stopped`).
STATION_ACTIVITY_US = 6 * _US_PER_H
STATION_CHANCE = 0.05
#: The stations that heard a vessel within this long before a silence (after it) are asked:
#: the shore receiver that usually hears it may have gone down a little before it fell silent
#: (a satellite passing over heard it since).
STATION_LOOKBACK_US = _US_PER_H


@kernel
def _usual_interval_us(
    t_us: I64, track_start: I64, track: I64, row: I64, window_us: int, cap_us: int, after: bool
) -> tuple[I64, I64, I64]:
    """Per silence starting at ``row``: the time-weighted median interval of its track within
    ``window_us`` before the silence (``after``: after it) of the intervals shorter than
    ``cap_us`` (-1 without any; at most the 4,096 nearest the silence count), the time those
    intervals add up to, and the time in longer ones (other silences)."""
    out = np.full(row.size, -1, dtype=np.int64)
    heard = np.zeros(row.size, dtype=np.int64)
    silent = np.zeros(row.size, dtype=np.int64)
    buf = np.empty(4096, dtype=np.int64)
    for g in range(row.size):
        lo, hi = track_start[track[g]], track_start[track[g] + 1]
        n = 0
        # Step k is the interval between positions j and j + 1, walking away from the silence.
        j = row[g] + 1 if after else row[g] - 1
        edge = t_us[row[g] + 1] if after and row[g] + 1 < hi else t_us[row[g]]
        while lo <= j and j + 1 < hi and (j > row[g] if after else True):
            if (t_us[j + 1] - edge if after else edge - t_us[j]) > window_us:
                break
            dt = t_us[j + 1] - t_us[j]
            if dt < cap_us:
                heard[g] += dt
                if n < buf.size:
                    buf[n] = dt
                    n += 1
            else:
                silent[g] += dt
            j += 1 if after else -1
        if n == 0:
            continue
        values = np.sort(buf[:n])
        half = values.sum() / 2.0
        acc = 0
        for v in values:
            acc += v
            if acc >= half:
                out[g] = v
                break
    return out, heard, silent


@kernel
def _velocities(
    t_us: I64, lat: F64, lon: F64, track_start: I64, track: I64, row: I64, span_us: int
) -> F64:
    """Per silence after ``row``: the velocity (degrees of latitude and longitude per
    microsecond) over at least ``span_us`` up to its last position before, and from its first
    position after; 0 where no such fix is within four times ``span_us``."""
    out = np.zeros((row.size, 4), dtype=np.float64)
    for g in range(row.size):
        lo, hi = track_start[track[g]], track_start[track[g] + 1]
        i = row[g]
        j = i - 1
        while j >= lo and t_us[i] - t_us[j] < span_us:
            j -= 1
        if j >= lo and t_us[i] - t_us[j] <= 4 * span_us:
            dt = float(t_us[i] - t_us[j])
            out[g, 0] = (lat[i] - lat[j]) / dt
            out[g, 1] = ((lon[i] - lon[j] + 180.0) % 360.0 - 180.0) / dt
        i += 1
        if i >= hi:
            continue
        j = i + 1
        while j < hi and t_us[j] - t_us[i] < span_us:
            j += 1
        if j < hi and t_us[j] - t_us[i] <= 4 * span_us:
            dt = float(t_us[j] - t_us[i])
            out[g, 2] = (lat[j] - lat[i]) / dt
            out[g, 3] = ((lon[j] - lon[i] + 180.0) % 360.0 - 180.0) / dt
    return out


def _reported_velocities(
    frame: pl.DataFrame, row: I64, is_open: npt.NDArray[np.bool_], lat0: F64, lat1: F64
) -> F64:
    """Return the velocities (as ``_velocities``) that the vessel reported (SOG and COG) at its
    last position before and first after each silence; NaN where it reported none."""
    out = np.full((row.size, 4), np.nan)
    if "sog_kn" not in frame.columns or "cog_deg" not in frame.columns:
        return out
    after = np.minimum(row + 1, frame.height - 1)
    for col, rows, lat in ((0, row, lat0), (2, after, lat1)):
        at = frame.select("sog_kn", "cog_deg")[rows].cast(pl.Float64).fill_null(np.nan)
        deg_per_us = at["sog_kn"].to_numpy() * METRES_PER_NM / METRES_PER_DEG / _US_PER_H
        cog = np.radians(at["cog_deg"].to_numpy())
        out[:, col] = deg_per_us * np.cos(cog)
        out[:, col + 1] = deg_per_us * np.sin(cog) / np.maximum(np.cos(np.radians(lat)), 0.01)
    out[is_open, 2:] = np.nan
    return out


def _presumed(
    ends: F64, velocities: F64, mode: I64, start: I64, end: I64, f: float
) -> tuple[F64, F64]:
    """Return where each silent vessel is taken to be a share ``f`` into its silence (as
    :mod:`monitor.analyse.reception` takes it; a silence still open stays put)."""
    t = start + (end - start) * f
    share = np.clip((t - start) / np.maximum(end - start, 1), 0.0, 1.0)
    dlon = (ends[:, 3] - ends[:, 1] + 180.0) % 360.0 - 180.0
    lat = ends[:, 0] + (ends[:, 2] - ends[:, 0]) * share
    lon = ends[:, 1] + dlon * share
    out_leg = np.minimum(t - start, ONWARD_MAX_US)
    back_leg = np.minimum(end - t, ONWARD_MAX_US)
    out_and_back = mode == OUT_AND_BACK
    going = out_and_back & (t <= (start + end) / 2.0)
    coming = out_and_back & ~going
    lat = np.where(going, ends[:, 0] + velocities[:, 0] * out_leg, lat)
    lon = np.where(going, ends[:, 1] + velocities[:, 1] * out_leg, lon)
    lat = np.where(coming, ends[:, 2] - velocities[:, 2] * back_leg, lat)
    lon = np.where(coming, ends[:, 3] - velocities[:, 3] * back_leg, lon)
    return np.clip(lat, -89.9, 89.9), (lon + 180.0) % 360.0 - 180.0


def _speed_kn(velocity: F64, lat: F64) -> F64:
    """Return speeds in knots of velocities in degrees per microsecond at ``lat``."""
    north = velocity[:, 0]
    east = velocity[:, 1] * np.cos(np.radians(lat))
    kn: F64 = np.hypot(north, east) * METRES_PER_DEG / METRES_PER_NM * _US_PER_H
    return kn


def _distance_km(lat0: F64, lon0: F64, lat1: F64, lon1: F64) -> F64:
    dlon = (lon1 - lon0 + 180.0) % 360.0 - 180.0
    coslat = np.cos(np.radians((lat0 + lat1) / 2.0))
    km: F64 = np.hypot(dlon * coslat, lat1 - lat0) * (METRES_PER_DEG / 1000.0)
    return km


@dataclass(frozen=True)
class TrackArrays:
    """Tracks as arrays: positions sorted by track and time, track k at rows
    ``start[k]:start[k + 1]``."""

    track: I64
    start: I64
    t_us: I64
    lat: F64
    lon: F64
    #: The receiver station of each position (:func:`station_codes`; -1 where not known), or
    #: None when no position's is.
    station: I64 | None = None

    @classmethod
    def of(cls, frame: pl.DataFrame, key: str) -> TrackArrays:
        """Return the arrays of ``frame`` (sorted by ``key`` and time)."""
        track = frame.select(pl.col(key).rle_id()).to_series().to_numpy().astype(np.int64)
        n_tracks = int(track[-1]) + 1 if track.size else 0
        station = None
        if "station" in frame.columns and frame["station"].null_count() < frame.height:
            station = station_codes(frame["station"])
        return cls(
            track=track,
            start=np.searchsorted(track, np.arange(n_tracks + 1)).astype(np.int64),
            t_us=frame["timestamp_utc"].dt.epoch("us").to_numpy().astype(np.int64),
            lat=frame["lat"].to_numpy().astype(np.float64),
            lon=frame["lon"].to_numpy().astype(np.float64),
            station=station,
        )

    def grid(
        self, settings: GapSettings, cell_km: float, *, stations: bool = False
    ) -> ReceptionGrid:
        """Return the reception grid of these tracks with cells of ``cell_km`` (holding who
        heard each, with ``stations``)."""
        return reception_grid(
            self.track,
            self.t_us,
            self.lat,
            self.lon,
            bin_s=settings.bin_min * 60.0,
            cell_km=cell_km,
            max_interval_us=int(settings.min_gap_h * _US_PER_H),
            station=self.station if stations else None,
        )


#: Velocity columns of :func:`own_features`: north and east at the last position before, then
#: at the first after (degrees of latitude and longitude per microsecond).
VELOCITY_COLUMNS = ("v_lat0", "v_lon0", "v_lat1", "v_lon1")


def _silence_arrays(gaps: pl.DataFrame) -> tuple[I64, I64, I64, npt.NDArray[np.bool_], F64]:
    """Return the silences' tracks, start and end times, whether open, and their ends: lat/lon
    before and after (after: before, while still open)."""
    lat0 = gaps["start_lat"].to_numpy().astype(np.float64)
    lon0 = gaps["start_lon"].to_numpy().astype(np.float64)
    is_open = gaps["open"].to_numpy().astype(bool)
    lat1 = np.where(is_open, lat0, gaps["end_lat"].to_numpy().astype(np.float64))
    lon1 = np.where(is_open, lon0, gaps["end_lon"].to_numpy().astype(np.float64))
    return (
        gaps["track"].to_numpy().astype(np.int64),
        gaps["start_us"].to_numpy().astype(np.int64),
        gaps["end_us"].to_numpy().astype(np.int64),
        is_open,
        np.column_stack([lat0, lon0, lat1, lon1]),
    )


def own_features(
    frame: pl.DataFrame, arrays: TrackArrays, gaps: pl.DataFrame, settings: GapSettings
) -> pl.DataFrame:
    """Return ``gaps`` (from :func:`monitor.analyse.gaps.silences` on ``frame``, whose arrays
    ``arrays`` are) with what the vessel's own positions tell: its usual intervals, how it
    moved at the ends (:data:`VELOCITY_COLUMNS`), how it is taken to have moved while silent
    (``mode``). Depends on the silent track's positions only."""
    row = gaps["row"].to_numpy().astype(np.int64)
    track, start, end, is_open, ends = _silence_arrays(gaps)
    lat0, lon0, lat1, lon1 = (np.ascontiguousarray(column) for column in ends.T)
    window = int(settings.window_h * _US_PER_H)
    cap = int(settings.min_gap_h * _US_PER_H)
    before_us, heard_before, silent_before = _usual_interval_us(
        arrays.t_us, arrays.start, track, row, window, cap, False
    )
    after_us, heard_after, silent_after = _usual_interval_us(
        arrays.t_us, arrays.start, track, row, window, cap, True
    )
    hour = _US_PER_H
    last_us, _, _ = _usual_interval_us(arrays.t_us, arrays.start, track, row, hour, cap, False)
    first_us, _, _ = _usual_interval_us(arrays.t_us, arrays.start, track, row, hour, cap, True)
    velocities = _velocities(
        arrays.t_us, arrays.lat, arrays.lon, arrays.start, track, row, 10 * 60_000_000
    )
    reported = _reported_velocities(frame, row, is_open, lat0, lat1)
    velocities = np.where(np.isnan(reported), velocities, reported)
    # Below 1 kn a vessel is taken to lie still: position noise is no course to follow.
    velocities[_speed_kn(velocities[:, :2], lat0) < 1.0, :2] = 0.0
    velocities[_speed_kn(velocities[:, 2:], lat1) < 1.0, 2:] = 0.0
    distance = _distance_km(lat0, lon0, lat1, lon1)
    hours = (end - start) / _US_PER_H
    implied_kn = distance * 1000.0 / METRES_PER_NM / np.maximum(hours, 1e-9)
    moving_kn = np.maximum(_speed_kn(velocities[:, :2], lat0), _speed_kn(velocities[:, 2:], lat1))
    mode = np.where(
        is_open,
        ONWARD,
        np.where((moving_kn < 1.0) | (implied_kn >= 0.5 * moving_kn), STRAIGHT, OUT_AND_BACK),
    ).astype(np.int64)
    return gaps.with_columns(
        *(pl.Series(name, velocities[:, i]) for i, name in enumerate(VELOCITY_COLUMNS)),
        mode=pl.Series(mode),
        duration_h=pl.Series(hours),
        distance_km=pl.Series(np.where(is_open, np.nan, distance)).fill_nan(None),
        implied_speed_kn=pl.Series(np.where(is_open, np.nan, implied_kn)).fill_nan(None),
        usual_before_h=pl.Series(np.where(before_us < 0, np.nan, before_us / _US_PER_H)),
        usual_after_h=pl.Series(np.where(after_us < 0, np.nan, after_us / _US_PER_H)),
        last_hour_h=pl.Series(np.where(last_us < 0, np.nan, last_us / _US_PER_H)),
        first_hour_h=pl.Series(np.where(first_us < 0, np.nan, first_us / _US_PER_H)),
        history_before_h=pl.Series(heard_before / _US_PER_H),
        history_after_h=pl.Series(heard_after / _US_PER_H),
        silent_before_h=pl.Series(silent_before / _US_PER_H),
        silent_after_h=pl.Series(silent_after / _US_PER_H),
    )


#: Reads a grid along silences as :meth:`ReceptionGrid.quiet_along` does: ``name`` says which
#: reading of :func:`grid_features` it is ("near", "region" or "straight"), ``gaps`` the
#: silences read (rows of :func:`own_features`), then quiet_along's arguments.
AlongFn = Callable[
    [str, ReceptionGrid, pl.DataFrame, I64, I64, I64, F64, F64, I64], tuple[I64, I64, I64]
]


def read_along(
    name: str,
    grid: ReceptionGrid,
    gaps: pl.DataFrame,
    track: I64,
    start: I64,
    end: I64,
    ends: F64,
    velocities: F64,
    mode: I64,
) -> tuple[I64, I64, I64]:
    """Read ``grid`` along the silences (an :data:`AlongFn` that keeps nothing)."""
    return grid.quiet_along(track, start, end, ends, velocities, mode)[:3]


#: What :func:`grid_features` keeps of a silence for a later run (:class:`KnownFeatures`):
#: what the stations that heard it at each end told (``station_*``: whether they kept hearing
#: others, ``decider_*``: which one told), those that heard it near where it fell silent
#: (``mine_start``), and the other tracks heard near each end (``near_tracks_*``; who of them
#: fell silent with it, and how regularly they were heard on, is asked again from their times
#: on every run, as those go on).
KEPT_SCHEMA: dict[str, pl.DataType] = {
    "station_start": pl.Int64(),
    "station_end": pl.Int64(),
    "decider_start": pl.Int64(),
    "decider_end": pl.Int64(),
    "mine_start": pl.List(pl.Int64()),
    "near_tracks_start": pl.List(pl.Int64()),
    "near_tracks_end": pl.List(pl.Int64()),
}
_STATIONS = ("station_start", "station_end", "decider_start", "decider_end")
_HALF_HOUR_US = 1_800_000_000
_TEN_MIN_US = 600_000_000


class KnownFeatures(Protocol):
    """What an earlier run found of some silences (kept between runs by the pipeline)."""

    def settled(self, gaps: pl.DataFrame) -> pl.DataFrame:
        """Return, per silence of ``gaps`` (in order), whether all its :data:`KEPT_SCHEMA`
        features are known (``whole``: nothing they depend on changed) or those of its start
        (``start``: mine_start and near_tracks_start), and the known ones (tracks by the
        numbers the grids know them by)."""
        ...

    def keep(self, gaps: pl.DataFrame, features: pl.DataFrame) -> None:
        """Take what this run found of ``gaps``: :data:`KEPT_SCHEMA`, a row each (tracks by
        the grids' numbers)."""
        ...


def rows_from(
    gaps: pl.DataFrame,
    settled: pl.DataFrame,
    near: GridGeometry,
    region: GridGeometry,
    along: AlongFn,
) -> tuple[int, int]:
    """Return the first time bins of the near and the region grid whose rows
    :func:`grid_features` reads of ``gaps`` when ``settled`` (from
    :meth:`KnownFeatures.settled`) is known, and ``along`` can tell what it reads (a
    ``first_bin`` method); else 0, 0."""
    plan = getattr(along, "first_bin", None)
    if plan is None:
        return 0, 0
    track, start, end, is_open, ends = _silence_arrays(gaps)
    velocities = np.ascontiguousarray(
        gaps.select(VELOCITY_COLUMNS).to_numpy().astype(np.float64).reshape(-1, 4)
    )
    mode = gaps["mode"].to_numpy().astype(np.int64)
    whole, known = settled["whole"].to_numpy(), settled["start"].to_numpy()
    # Near both ends of the silences not known whole, but the start of one still open whose
    # start is known (who kept being heard near it is asked of a silence that ended only).
    back = max(STATION_LOOKBACK_US, _HALF_HOUR_US) + near.bin_us
    at = np.concatenate([start[~whole & ~(known & is_open)], end[~whole]]) - back
    near_from = [int((at.min() - near.t0_us) // near.bin_us)] if at.size else []
    near_from.append(plan("near", near, gaps, track, start, end, ends, velocities, mode))
    ended = ~is_open
    straight = np.full(int(ended.sum()), STRAIGHT, dtype=np.int64)
    region_from = (
        plan("region", region, gaps, track, start, end, ends, velocities, mode),
        plan(
            "straight", region, gaps.filter(pl.Series(ended)), track[ended], start[ended],
            end[ended], ends[ended], velocities[ended], straight,
        ),
    )  # fmt: skip
    return max(min(near_from), 0), max(min(region_from), 0)


def grid_features(
    gaps: pl.DataFrame,
    grid: ReceptionGrid,
    region: ReceptionGrid,
    along: AlongFn = read_along,
    known: KnownFeatures | None = None,
) -> pl.DataFrame:
    """Return ``gaps`` (from :func:`own_features`, ``track`` numbered as in the grids) with what
    the other vessels tell: who was heard near it and where it is taken to have been
    (``grid``, cells of ``gaps.neighbour_km``), and in the region around (``region``); the
    grids are read along the silences by ``along``. What ``known`` says is settled is taken
    from it, not found again (the grids then need hold the rows :func:`rows_from` names
    only)."""
    track, start, end, is_open, ends = _silence_arrays(gaps)
    lat0, lon0, lat1, lon1 = (np.ascontiguousarray(column) for column in ends.T)
    velocities = np.ascontiguousarray(
        gaps.select(VELOCITY_COLUMNS).to_numpy().astype(np.float64).reshape(-1, 4)
    )
    mode = gaps["mode"].to_numpy().astype(np.int64)
    n_bins, n_heard, _ = along("near", grid, gaps, track, start, end, ends, velocities, mode)
    # Nobody in the region is only evidence if it holds wherever the vessel went: on its
    # presumed course, and on the straight line between where it was last and first seen
    # (a silence still open has no such line: its course is all there is).
    _, _, region_quiet = along("region", region, gaps, track, start, end, ends, velocities, mode)
    ended = ~is_open
    straight = np.full(int(ended.sum()), STRAIGHT, dtype=np.int64)
    _, _, quiet_direct = along(
        "straight", region, gaps.filter(pl.Series(ended)), track[ended], start[ended],
        end[ended], ends[ended], velocities[ended], straight,
    )  # fmt: skip
    region_quiet[ended] = np.minimum(region_quiet[ended], quiet_direct)
    n = track.size
    if known is None:
        settled = pl.DataFrame(
            {"whole": np.zeros(n, dtype=bool), "start": np.zeros(n, dtype=bool)}
        ).with_columns(pl.lit(None, dtype).alias(c) for c, dtype in KEPT_SCHEMA.items())
    else:
        settled = known.settled(gaps)
    old = {c: settled[c] for c in KEPT_SCHEMA}
    whole = settled["whole"].to_numpy().astype(bool)
    # The start's features where not known; the end's where not known whole.
    start_todo = ~whole & ~settled["start"].to_numpy().astype(bool)
    todo = ~whole
    found: dict[str, npt.NDArray[Any]] = {c: np.zeros(n, dtype=np.int64) for c in _STATIONS}
    for c in _STATIONS:
        found[c][whole] = old[c].filter(pl.Series(whole)).to_numpy()
    # Who was near each end (where not known: found from the rows near it; none at the end of
    # one still open), and who of them fell silent with it, from their times: asked of every
    # silence, as those times go on.
    near: dict[str, pl.Series] = {}
    asked: dict[str, tuple[I64, I64]] = {}
    for side, rows, known_rows, at, lat, lon, before in (
        ("start", start_todo, ~start_todo, start, lat0, lon0, True),
        ("end", todo & ~is_open, whole, end, lat1, lon1, False),
    ):
        counts, tracks = grid.near_tracks(
            track[rows], at[rows], lat[rows], lon[rows], lookback_us=_HALF_HOUR_US, before=before
        )
        lengths = np.zeros(n, dtype=np.int64)
        lengths[rows] = counts
        near[side] = pl.select(
            pl.when(pl.Series(known_rows))
            .then(old[f"near_tracks_{side}"])
            .otherwise(_lists(lengths, tracks))
        ).to_series()
        asked[side] = _flat(near[side])
        found[f"near_{side}"] = asked[side][0]
        found[f"silent_{side}"] = grid.silent_among(
            asked[side], at, quiet_us=(_TEN_MIN_US, 3 * _TEN_MIN_US), before=before
        )
    found["silent_end"][is_open] = 0
    near0, near1 = found["near_start"], found["near_end"]
    # Kept only where vessels were near it at both ends, the only place the answer counts;
    # those near it when it fell silent over the first half of the silence, those near it
    # when it came back over the second.
    both = (near0 > 0) & (near1 > 0)
    mid = (start + end) // 2
    for side, during in (
        ("start", (start + _TEN_MIN_US, mid)),
        ("end", (mid, end - _TEN_MIN_US)),
    ):
        share = grid.kept_among(asked[side], during, min_regular_us=3 * _TEN_MIN_US)
        found[f"kept_{side}"] = np.where(both, share, np.nan)
    # Per receiver: did the stations that heard it before (after) hear anyone else near it
    # over the first (second) half of the silence? A silence still open has only its start,
    # whose stations are asked again as it goes on.
    mine0 = np.full((n, MAX_OWN_STATIONS), -1, dtype=np.int64)
    known_mine = ~start_todo
    if known_mine.any():
        lists = old["mine_start"].filter(pl.Series(known_mine)).to_list()
        for i, row in zip(np.flatnonzero(known_mine), lists, strict=True):
            mine0[i, : len(row)] = row
    mine0[start_todo] = grid.own_stations(
        track[start_todo], start[start_todo], lat0[start_todo], lon0[start_todo],
        lookback_us=STATION_LOOKBACK_US, before=True,
    )  # fmt: skip
    ask0 = todo | is_open
    found["station_start"][ask0], found["decider_start"][ask0] = grid.stations_decide(
        mine0[ask0], start[ask0], before=True,
        during=(start[ask0] + _TEN_MIN_US, np.where(is_open, end, mid)[ask0]),
        activity_us=STATION_ACTIVITY_US, chance=STATION_CHANCE,
    )  # fmt: skip
    found["station_end"][todo], found["decider_end"][todo] = grid.stations_stopped(
        track[todo], end[todo], lat1[todo], lon1[todo], lookback_us=STATION_LOOKBACK_US,
        before=False, during=(mid[todo], end[todo] - _TEN_MIN_US),
        activity_us=STATION_ACTIVITY_US, chance=STATION_CHANCE,
    )  # fmt: skip
    found["station_end"][is_open] = STATIONS_UNKNOWN
    station0, station1 = found["station_start"], found["station_end"]
    decider0, decider1 = found["decider_start"], found["decider_end"]
    # Whether where it is taken to have been stays where the stations that told kept hearing
    # anyone, ever: it did not leave their reach (not for a silence still open). Asked of
    # every silence, those known too: the cells a station ever heard grow with every run.
    working = ~is_open & (station0 == STATIONS_WORKING) & (station1 == STATIONS_WORKING)
    reach = working.copy()
    for f in np.linspace(0.0, 1.0, 9):
        lat, lon = _presumed(ends[working], velocities[working], mode[working], start[working],
                             end[working], f)  # fmt: skip
        reach[working] &= grid.station_covers(decider0[working], lat, lon) | grid.station_covers(
            decider1[working], lat, lon
        )
    # One station's reach is about a disc around it, and a chord of a disc stays inside: heard
    # by the same station at both ends, having gone about straight, it never left its reach
    # (even where nobody else was ever heard on the way).
    reach |= working & (decider0 == decider1) & (decider0 >= 0) & (mode == STRAIGHT)
    kept = pl.DataFrame(
        {
            **{c: found[c] for c in _STATIONS},
            "mine_start": mine0.tolist(),
            **{f"near_tracks_{side}": lists for side, lists in near.items()},
        }
    ).select(pl.col(c).cast(t) for c, t in KEPT_SCHEMA.items())
    if known is not None:
        known.keep(gaps, kept)
    return gaps.with_columns(
        region_quiet_h=pl.Series(region_quiet * region.bin_us / _US_PER_H),
        bins=pl.Series(n_bins),
        heard_bins=pl.Series(n_heard),
        **{c: pl.Series(found[c]) for c in ("near_start", "silent_start", "near_end",
                                             "silent_end", "kept_start", "kept_end",
                                             "station_start", "station_end")},
        station_reach=pl.Series(reach),
    )  # fmt: skip


def _flat(lists: pl.Series) -> tuple[I64, I64]:
    """Return the lengths of ``lists`` and their values, one after the other."""
    arrow = lists.to_arrow()
    lengths = pc.list_value_length(arrow).fill_null(0).to_numpy(zero_copy_only=False)
    values = pc.list_flatten(arrow).to_numpy(zero_copy_only=False)
    return lengths.astype(np.int64), values.astype(np.int64)


def _lists(lengths: I64, values: I64) -> pl.Series:
    """Return ``values`` cut into lists of ``lengths``."""
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    lists = pl.from_arrow(pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)))
    assert isinstance(lists, pl.Series)
    return lists


def causes(feats: pl.DataFrame, settings: GapSettings) -> pl.Series:
    """Return the cause of each silence of ``feats`` (from :func:`grid_features`), the first
    rule that holds:

    1. ``coverage``: the vessel's own reception is sparse or unknown: heard for under an hour
       around the silence, or its usual interval is more than 1 / ``coverage_ratio`` of the
       silence, or it spent three times as long in other silences around it as heard.
    2. ``outage``: where the receiver stations are known (``station`` of the positions), the
       station that heard it last near its last position (within the hour before, and heard
       others there then) heard nobody else there over the first half of the silence, and
       likewise the station that heard it first after over the second half
       (:meth:`ReceptionGrid.stations_stopped`; an end whose stations tell nothing does not
       count; a silence still open has its start only). Where no end's stations tell anything:
       of
       at least two vessels heard near its last position in the half hour before (or first
       position in the half hour after), at least ``outage_share`` were heard nowhere for the
       next half hour, or three of their own usual intervals if longer; or the vessels near it
       at both ends were heard as regularly as usual in under 1 - ``outage_share`` of their
       half of the silence; or vessels were near it before or after, and none was heard near it
       all through the silence.
    3. ``range``: unless the stations that told at both ends kept working and the straight
       line between its ends stays within cells where they ever heard anyone, or one station
       told at both ends and it went about straight (a chord of that station's reach, about a
       disc, stays inside): nobody was heard
       near it all through the silence (and none was near before or after it either); or for
       ``min_gap_h`` or more of the silence nobody at all was heard in the region around where
       it is taken to have been (3 x 3 cells of ``region_km``; on its presumed course and,
       once it came back, on the straight line between its ends); or others
       were heard near it in under half of the silence while its own reception was fading
       (a vessel usually heard every few minutes with, in the hour before the silence or after
       it, fewer than two positions, or intervals three times its usual and over 5 minutes).
    4. ``dark``: it was heard regularly, and the receivers around it kept working.
    """
    usual = pl.max_horizontal(
        pl.col("usual_before_h").fill_nan(None), pl.col("usual_after_h").fill_nan(None)
    )

    def regular(side: str) -> pl.Expr:
        heard = pl.col(f"history_{side}_h")
        return heard / (heard + pl.col(f"silent_{side}_h")).clip(1e-9)

    def fell_silent(side: str) -> pl.Expr:
        near = pl.col(f"near_{side}")
        return (near >= 2) & (pl.col(f"silent_{side}") >= settings.outage_share * near)

    def lost_with(side: str) -> pl.Expr:
        # NaN (not asked) is not less than anything.
        near = pl.col(f"near_{side}")
        return (near >= 1) & (pl.col(f"kept_{side}") < (1 - settings.outage_share) * near)

    def faded(recent: str, side: str) -> pl.Expr:
        # Only a vessel heard every few minutes can be seen to fade: one heard at satellite
        # passes often has a single position in the hour before a silence.
        usual_side = pl.col(f"usual_{side}_h").fill_nan(None)
        latest = pl.col(recent).fill_nan(None)
        return (usual_side < 1 / 6) & (
            latest.is_null() | (latest > pl.max_horizontal(3 * usual_side, pl.lit(1 / 12)))
        )

    start, end = pl.col("station_start"), pl.col("station_end")
    by_station = (start != STATIONS_UNKNOWN) | (end != STATIONS_UNKNOWN)
    stations_stopped = (start != STATIONS_WORKING) & (end != STATIONS_WORKING)
    heard = pl.col("heard_bins") / pl.col("bins").clip(1)
    fading = faded("last_hour_h", "before") | (~pl.col("open") & faded("first_hour_h", "after"))
    history = pl.max_horizontal("history_before_h", "history_after_h")
    return feats.select(
        pl.when(
            usual.is_null()
            | (history < 1.0)
            | (pl.col("duration_h") < settings.coverage_ratio * usual)
            | (pl.max_horizontal(regular("before"), regular("after")) < 0.25)
        )
        .then(pl.lit("coverage"))
        .when(
            pl.when(by_station)
            .then(stations_stopped)
            .otherwise(
                fell_silent("start")
                | fell_silent("end")
                | (lost_with("start") & lost_with("end"))
                | ((pl.col("heard_bins") == 0) & (pl.col("near_start") + pl.col("near_end") > 0))
            )
        )
        .then(pl.lit("outage"))
        .when(
            ~pl.col("station_reach")
            & (
                (pl.col("heard_bins") == 0)
                | (pl.col("region_quiet_h") >= settings.min_gap_h)
                | ((heard < 0.5) & fading)
            )
        )
        .then(pl.lit("range"))
        .otherwise(pl.lit("dark"))
        .alias("cause")
    ).to_series()
