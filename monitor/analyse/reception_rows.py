"""Building a reception grid (:class:`~monitor.analyse.reception.ReceptionGrid`): from the
positions of all tracks at once, or from rows that groups of tracks give on their own and that
are merged later.

Each group of tracks (a vessel bucket) gives, with the same :class:`GridSpec`, the rows of where
its tracks were heard (:func:`heard_cells`: one per track, time bin and cell) and of their times
(:func:`track_times`: first and last time, usual interval, intervals of half an hour or more);
:func:`merged_grid` sorts the rows of all groups into one grid. Nothing in a group's rows depends
on the other groups, so the grid is that of all positions at once (:func:`reception_grid`).
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.analyse.cells import PLACE_BITS, PLACE_MASK, col_of, pack, row_of
from monitor.analyse.reception import F64, QUIET_MIN_US, ReceptionGrid
from monitor.core.geo import METRES_PER_DEG
from monitor.core.jit import I64, kernel


@kernel
def _codes(t_us: I64, lat: F64, lon: F64, t0_us: int, bin_us: int, cell_deg: float) -> I64:
    out = np.empty(t_us.size, dtype=np.int64)
    for i in range(t_us.size):
        row = row_of(lat[i], cell_deg)
        out[i] = pack((t_us[i] - t0_us) // bin_us, row, col_of(lon[i], row, cell_deg))
    return out


@kernel
def usual_intervals(track_start: I64, t_us: I64, max_us: int) -> I64:
    """Return per track (rows ``track_start[k]:track_start[k + 1]`` of ``t_us``, sorted) the
    interval half its time falls in, of its intervals shorter than ``max_us``; ``max_us`` for
    a track without any."""
    n_tracks = track_start.size - 1
    out = np.full(n_tracks, max_us, dtype=np.int64)
    for k in range(n_tracks):
        lo, hi = track_start[k], track_start[k + 1]
        if hi - lo < 2:
            continue
        dt = t_us[lo + 1 : hi] - t_us[lo : hi - 1]
        dt = np.sort(dt[dt < max_us])
        if dt.size == 0:
            continue
        half = dt.sum() / 2.0
        acc = 0
        for v in dt:
            acc += v
            if acc >= half:
                out[k] = v
                break
    return out


@dataclass(frozen=True)
class GridSpec:
    """Time bins and cells of a reception grid: what every part of it must share."""

    bin_us: int
    cell_deg: float
    #: Bin 0 starts here: the first time of all the data.
    t0_us: int

    @classmethod
    def of(cls, *, bin_s: float, cell_km: float, t0_us: int) -> GridSpec:
        """Return the grid of bins of ``bin_s`` seconds from ``t0_us`` and cells of ``cell_km``."""
        return cls(max(int(bin_s * 1e6), 1), cell_km * 1000.0 / METRES_PER_DEG, t0_us)


def station_codes(station: pl.Series) -> I64:
    """Return a code per receiver station name (-1 for null): the same name gets the same
    non-negative code in every process, so that rows found apart can be merged."""
    names = station.cast(pl.String)
    known = names.drop_nulls().unique().sort()
    codes = [
        int.from_bytes(hashlib.blake2b(name.encode(), digest_size=7).digest(), "little")
        for name in known.to_list()
    ]
    found = names.replace_strict(known, codes, default=-1, return_dtype=pl.Int64)
    return np.ascontiguousarray(found.to_numpy(), dtype=np.int64)


def heard_cells(
    spec: GridSpec,
    track: I64,
    t_us: I64,
    lat: F64,
    lon: F64,
    *,
    places: bool = True,
    station: I64 | None = None,
) -> pl.DataFrame:
    """Return where tracks were heard (positions sorted by track and time): code (bin and
    cell), track, lat, lon (the first position there then), and with ``station`` (per
    position, :func:`station_codes`) the receiver station, one row per run of a track's
    positions in one bin and cell (and heard by one station). Without ``places``, only code and
    track, once each: all a grid needs but :meth:`ReceptionGrid.fell_silent_with` and
    :meth:`ReceptionGrid.stations_stopped`. Tracks of disjoint sets of positions give disjoint
    rows, so the rows of several sets are those of their union."""
    codes = _codes(t_us, lat, lon, spec.t0_us, spec.bin_us, spec.cell_deg)
    # About one row per track, bin and cell: a track's fixes in one bin follow each other, and
    # dropping repeats of the row before leaves the rest (a track back and forth across a cell
    # edge within a bin stays twice, which no query minds).
    first = np.ones(codes.size, dtype=bool)
    first[1:] = (codes[1:] != codes[:-1]) | (track[1:] != track[:-1])
    if places and station is not None:
        first[1:] |= station[1:] != station[:-1]
    kept = np.flatnonzero(first)
    if not places:
        return pl.DataFrame({"code": codes[kept], "track": track[kept]}).unique(maintain_order=True)
    rows = {"code": codes[kept], "track": track[kept], "lat": lat[kept], "lon": lon[kept]}
    if station is not None:
        rows["station"] = station[kept]
    return pl.DataFrame(rows)


def track_times(track: I64, t_us: I64, max_interval_us: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return, of positions sorted by track (0, 1, ... in order) and time, per track its first
    and last time and usual interval (intervals of ``max_interval_us`` or more are silences, not
    its usual interval): track, first_us, last_us, usual_us; and its intervals of
    :data:`QUIET_MIN_US` or longer: track, from_us, to_us."""
    n_tracks = int(track.max()) + 1 if track.size else 0
    start = np.searchsorted(track, np.arange(n_tracks + 1)).astype(np.int64)
    times = pl.DataFrame(
        {
            "track": np.arange(n_tracks, dtype=np.int64),
            "first_us": t_us[start[:-1]],
            "last_us": t_us[start[1:] - 1],
            "usual_us": usual_intervals(start, np.ascontiguousarray(t_us), max_interval_us),
        }
    )
    long = np.flatnonzero((track[1:] == track[:-1]) & (t_us[1:] - t_us[:-1] >= QUIET_MIN_US))
    quiet = pl.DataFrame({"track": track[long], "from_us": t_us[long], "to_us": t_us[long + 1]})
    return times, quiet


def interval_counts(
    track: I64, t_us: I64, max_interval_us: int, cut_us: I64
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return, of positions sorted by track (0, 1, ... in order) and time, how often each
    interval shorter than ``max_interval_us`` occurs per track (track, dt_us, n): of those that
    begin before the track's ``cut_us`` (per track), and of the others. What
    :func:`usual_from_counts` makes of both together is :func:`track_times`' usual interval."""
    same = track[1:] == track[:-1]
    dt = t_us[1:] - t_us[:-1]
    keep = same & (dt < max_interval_us)
    rows = pl.DataFrame(
        {
            "track": track[:-1][keep],
            "dt_us": dt[keep],
            "early": t_us[:-1][keep] < cut_us[track[:-1][keep]],
        }
    )
    counts = rows.group_by("track", "early", "dt_us").agg(n=pl.len().cast(pl.Int64))
    counts = counts.sort("track", "dt_us")
    early = counts.filter("early").drop("early")
    return early, counts.filter(~pl.col("early")).drop("early")


def usual_from_counts(counts: pl.DataFrame, max_interval_us: int) -> pl.DataFrame:
    """Return per track of ``counts`` (track, dt_us, n; a track's rows may repeat a value) its
    usual interval as :func:`usual_intervals` finds it (the interval half its time falls in):
    track, usual_us."""
    summed = counts.group_by("track", "dt_us").agg(pl.col("n").sum()).sort("track", "dt_us")
    time = pl.col("dt_us") * pl.col("n")
    found = summed.with_columns(
        acc=time.cum_sum().over("track"), half=time.sum().over("track").cast(pl.Float64) / 2.0
    )
    usual = (
        found.filter(pl.col("acc") >= pl.col("half"))
        .group_by("track")
        .agg(usual_us=pl.col("dt_us").min())
    )
    tracks = counts.select("track").unique()
    return tracks.join(usual, on="track", how="left").with_columns(
        pl.col("usual_us").fill_null(max_interval_us)
    )


def merged_grid(
    spec: GridSpec,
    heard: MutableMapping[str, npt.NDArray[Any]],
    times: pl.DataFrame,
    quiet: pl.DataFrame,
    *,
    from_bin: int = 0,
    rhythm: dict[str, I64] | None = None,
) -> ReceptionGrid:
    """Return the grid of the :func:`heard_cells` rows of all tracks, numbered 0, 1, ..., as
    arrays (code, track, and lat and lon or none: a grid that cannot tell who fell silent with
    a vessel; taken out of ``heard`` as they are used) and their :func:`track_times` (``times``
    one row per track in that order; ``quiet`` sorted by track and time). Only the rows from
    time bin ``from_bin`` on are kept (the stations' rhythm and reach are of all: ``rhythm``
    if given, from :func:`station_rhythm`)."""
    code = heard.pop("code")
    stations = heard.pop("station", np.zeros(0, dtype=np.int64))
    if rhythm is None:
        rhythm = station_rhythm(code, heard["track"], stations)
    kept = code >= (from_bin << PLACE_BITS) if from_bin > 0 else slice(None)
    # Stable: a track's rows in one bin and cell stay in the order it was heard in, whatever
    # order the tracks come in (who heard it last is asked of them).
    order = np.argsort(code[kept], kind="stable")
    codes = code[kept][order]
    del code
    tracks = heard.pop("track")[kept][order]
    where = np.zeros((0, 2))
    if "lat" in heard:
        where = np.column_stack([heard.pop("lat")[kept][order], heard.pop("lon")[kept][order]])
    if stations.size:
        stations = stations[kept][order]
    del order
    n_tracks = times.height
    quiet_track = quiet["track"].to_numpy().astype(np.int64)

    def column(frame: pl.DataFrame, name: str) -> I64:
        return np.ascontiguousarray(frame[name].to_numpy(), dtype=np.int64)

    return ReceptionGrid(
        bin_us=spec.bin_us,
        cell_deg=spec.cell_deg,
        t0_us=spec.t0_us,
        codes=np.ascontiguousarray(codes, dtype=np.int64),
        tracks=np.ascontiguousarray(tracks, dtype=np.int64),
        where=np.ascontiguousarray(where, dtype=np.float64),
        track_first_us=column(times, "first_us"),
        track_last_us=column(times, "last_us"),
        track_usual_us=column(times, "usual_us"),
        quiet_start=np.searchsorted(quiet_track, np.arange(n_tracks + 1)).astype(np.int64),
        quiet_from_us=column(quiet, "from_us"),
        quiet_to_us=column(quiet, "to_us"),
        stations=np.ascontiguousarray(stations, dtype=np.int64),
        **rhythm,
    )


def station_activity(codes: I64, tracks: I64, stations: I64) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return, of rows of the near grid (in any order; ``stations`` of the first rows, none
    for a grid without), per station the bins in which it heard anyone, anywhere, with how many
    tracks it heard in each (station, bin, n_tracks), and the cells in which it heard anyone,
    with the first bin it did (station, cell, first_bin); both sorted."""
    n = stations.size
    rows = pl.DataFrame(
        {"station": stations, "bin": codes[:n] >> PLACE_BITS, "cell": codes[:n] & PLACE_MASK,
         "track": tracks[:n]}
    ).filter(pl.col("station") >= 0)  # fmt: skip
    active = (
        rows.group_by("station", "bin")
        .agg(n_tracks=pl.col("track").n_unique().cast(pl.Int64))
        .sort("station", "bin")
    )
    cells = (
        rows.group_by("station", "cell").agg(first_bin=pl.col("bin").min()).sort("station", "cell")
    )
    return active, cells


def rhythm_arrays(active: pl.DataFrame, cells: pl.DataFrame) -> dict[str, I64]:
    """Return what a :class:`ReceptionGrid` holds of its stations from
    :func:`station_activity`'s tables: the known stations (sorted codes) and, per station,
    the bins in which it heard anyone (sorted), with how many tracks it heard in each, and the
    cells in which it ever heard anyone (sorted)."""
    ids = active.group_by("station", maintain_order=True).len()
    cell_counts = ids.select("station").join(
        cells.group_by("station").len(), on="station", how="left", maintain_order="left"
    )

    def column(frame: pl.DataFrame, name: str) -> I64:
        return np.ascontiguousarray(frame[name].to_numpy(), dtype=np.int64)

    return {
        "station_ids": column(ids, "station"),
        "station_start": np.concatenate([[0], np.cumsum(column(ids, "len"))]).astype(np.int64),
        "station_bins": column(active, "bin"),
        "station_tracks": column(active, "n_tracks"),
        "cell_start": np.concatenate([[0], np.cumsum(column(cell_counts, "len"))]).astype(np.int64),
        "station_cells": column(cells, "cell"),
    }


def station_rhythm(codes: I64, tracks: I64, stations: I64) -> dict[str, I64]:
    """Return :func:`rhythm_arrays` of the rows of a near grid (:func:`station_activity`)."""
    return rhythm_arrays(*station_activity(codes, tracks, stations))


def reception_grid(
    track: I64,
    t_us: I64,
    lat: F64,
    lon: F64,
    *,
    bin_s: float,
    cell_km: float,
    max_interval_us: int,
    station: I64 | None = None,
) -> ReceptionGrid:
    """Return the grid of positions sorted by track (0, 1, ... in order) and time, heard by
    ``station`` (:func:`station_codes`) if known; intervals of ``max_interval_us`` or more are
    silences, not a track's usual interval."""
    spec = GridSpec.of(bin_s=bin_s, cell_km=cell_km, t0_us=int(t_us.min()) if t_us.size else 0)
    times, quiet = track_times(track, t_us, max_interval_us)
    heard = heard_cells(spec, track, t_us, lat, lon, station=station)
    return merged_grid(spec, {c: heard[c].to_numpy() for c in heard.columns}, times, quiet)
