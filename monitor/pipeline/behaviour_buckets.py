"""Dark periods, encounters and loitering split into per-vessel parts and small global ones.

What depends on one vessel's positions only runs in the bucket step with the other per-vessel
analyses (:func:`behaviour_parts`): its tracks, the silences of each track with what its own
positions tell of them (usual intervals, velocities at the ends), its loitering, its samples on
the encounters' time grid, and where and when each track was heard (one row per track, time bin
and cell: the rows of :func:`~monitor.analyse.reception_rows.heard_cells`) with its first and last
time, usual interval and intervals longer than half an hour. What depends on all vessels runs
over those parts in the driver (:func:`merge_behaviour`): the reception grids merged from the
buckets' rows, the causes of the silences judged with them, and the close pairs of samples
searched in space-time partitions (:mod:`monitor.pipeline.space_time`), each pair found in the
partition of its first sample only, then merged into encounters per pair.

The result is that of :func:`monitor.analyse.behaviour.find_behaviour` over all positions at
once, whatever the buckets and partitions: every part depends on one track's positions, the
grid's time bins start at the first time of all the data (given to every bucket), tracks are
numbered in the order one run gives them (by MMSI, then as segmented), and a pair of samples
depends on its two samples only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from monitor.analyse.behaviour import Behaviour, behaviour_tracks
from monitor.analyse.encounters import close_pairs, meeting_samples, meetings
from monitor.analyse.gap_evidence import (
    AlongFn,
    KnownFeatures,
    TrackArrays,
    read_along,
    rows_from,
)
from monitor.analyse.gaps import judged, open_until, silence_evidence
from monitor.analyse.geofences import Zone
from monitor.analyse.loitering import loitering_points, summarised
from monitor.analyse.reception_rows import (
    GridSpec,
    heard_cells,
    interval_counts,
    merged_grid,
    station_rhythm,
    track_times,
)
from monitor.analyse.track_restarts import Resume
from monitor.config import Settings
from monitor.core.jit import I64
from monitor.pipeline.space_time import SpaceTimeGrid, partitions_of
from monitor.schema import LOITERING_SCHEMA, RESTARTS_SCHEMA, conform

_NO_STATIONS = np.zeros(0, dtype=np.int64)


class KnownGrids(KnownFeatures, Protocol):
    """What the grids told of silences before, and the stored rows and stations' activity
    besides those of the parts of a merge."""

    def rhythm(self, codes: I64, tracks: I64, stations: I64) -> dict[str, I64]:
        """Return the stations' rhythm and reach (:func:`rhythm_arrays`) of the near rows
        of the parts (``stations``: of their first rows) and of those before."""
        ...

    def rows(self, name: str, from_bin: int) -> pl.DataFrame | None:
        """Return the rows of the grid ``name`` from time bin ``from_bin`` on that the parts
        do not hold (track_id, code and the others), None when none."""
        ...

    def name_tracks(self, ids: pl.DataFrame) -> None:
        """Take the ids of the merge's tracks (track: the number the grids know it by,
        track_id)."""
        ...


#: Names of a bucket's behaviour tables among its results.
PREFIX = "behaviour."
_US_PER_H = 3_600_000_000
#: Space-time partitions of the close-pair search: blocks of this many degrees, windows of a day.
BLOCK_DEG = 5.0
WINDOW_H = 24.0


@dataclass(frozen=True)
class BehaviourJob:
    """What the behaviour parts of a bucket need besides its positions."""

    zones: tuple[Zone, ...]
    settings: Settings
    #: The newest message time of all the data (a silence still open lasts until then). Only
    #: the merge uses it: a bucket's parts do not depend on it.
    data_end_us: int
    #: The first message time of all the data: the reception grids' bins start there.
    data_start_us: int
    #: Per vessel (mmsi, time in us), where its intervals are split between ``usual`` (those
    #: that begin before) and the others (see :func:`behaviour_parts`).
    cuts: tuple[tuple[int, int], ...] = ()

    @property
    def data_end(self) -> datetime:
        end = pl.Series([self.data_end_us]).cast(pl.Datetime("us", "UTC"))[0]
        assert isinstance(end, datetime)
        return end

    def cut_frame(self) -> pl.DataFrame:
        """Return :attr:`cuts` as a frame (mmsi, cut_us)."""
        schema = {"mmsi": pl.UInt32, "cut_us": pl.Int64}
        return pl.DataFrame(list(self.cuts), schema=schema, orient="row")

    def specs(self) -> tuple[GridSpec, GridSpec]:
        """Return the reception grids' bins and cells: near a vessel, and its region."""
        gaps = self.settings.gaps
        return tuple(
            GridSpec.of(bin_s=gaps.bin_min * 60.0, cell_km=km, t0_us=self.data_start_us)
            for km in (gaps.neighbour_km, gaps.region_km)
        )  # type: ignore[return-value]


def _local(found_ids: pl.Series, ids: pl.DataFrame) -> pl.Series:
    """Return the index in ``ids`` (track_id, track) of each track id of ``found_ids``."""
    frame = found_ids.to_frame("track_id").join(
        ids, on="track_id", how="left", maintain_order="left"
    )
    return frame["track"]


def behaviour_parts(
    positions: pl.DataFrame, job: BehaviourJob, seeds: pl.DataFrame | None = None
) -> dict[str, pa.Table]:
    """Return the per-vessel behaviour parts of ``positions`` (every position of the vessels
    of one bucket) as Arrow tables named with :data:`PREFIX`; tracks are numbered 0, 1, ... in
    the order of ``tracks`` (track_id, mmsi; by MMSI, then as segmented). ``usual`` counts the
    intervals of each track that begin before its vessel's cut (``job.cuts``; none without).

    With ``seeds`` (restart rows), the vessels go on from their restart points (``positions``
    holds theirs from there on): the parts are those of the positions from there on, ``recent``
    counts the intervals from the cut on, and ``failed`` names the vessels that could not go on
    (left out)."""
    settings = job.settings
    resume = None if seeds is None else Resume(conform(seeds, RESTARTS_SCHEMA), look=False)
    found = behaviour_tracks(positions, settings.tracks, resume)
    tracks = found.positions.select("track_id", "mmsi").unique("track_id", maintain_order=True)
    ids = tracks.select("track_id", track=pl.int_range(pl.len(), dtype=pl.Int64))
    heard = found.heard()
    arrays = TrackArrays.of(heard, "track_id")
    silences = silence_evidence(heard, arrays, job.zones, settings.gaps, key="track_id")
    # The heard positions' tracks, numbered as ``tracks``.
    first_rows = arrays.start[:-1]
    to_local = _local(heard["track_id"].gather(first_rows), ids).to_numpy().astype(np.int64)
    track = to_local[arrays.track]
    max_us = int(settings.gaps.min_gap_h * _US_PER_H)
    times, quiet = track_times(arrays.track, arrays.t_us, max_us)
    cuts = job.cut_frame()
    cut_us = tracks.join(cuts, on="mmsi", how="left", maintain_order="left")["cut_us"]
    usual, recent = interval_counts(
        track, arrays.t_us, max_us, cut_us.fill_null(np.iinfo(np.int64).min).to_numpy()
    )
    points = loitering_points(found.positions, job.zones, settings.loitering, key="track_id")
    loiter = summarised(points, settings.loitering, settled=True)
    out = {
        "tracks": tracks,
        "silences": silences.with_columns(track=pl.Series(to_local[silences["track"].to_numpy()])),
        "times": times.with_columns(track=pl.Series(to_local[times["track"].to_numpy()])),
        "quiet": quiet.with_columns(track=pl.Series(to_local[quiet["track"].to_numpy()])),
        "samples": meeting_samples(
            found.positions, "track_id", job.zones, settings.encounters
        ).sort("slot", maintain_order=True),
        "loitering": loiter,
        "loiter_points": points_to_keep(points, loiter, cuts),
        "start": pl.DataFrame({"first_us": [int(arrays.t_us.min()) if arrays.t_us.size else None]}),
        "usual": usual,
    }
    if resume is not None:
        out["recent"] = recent
        out["failed"] = found.failed.to_frame()
    near, region = job.specs()
    station = arrays.station
    if station is None:
        station = np.full(arrays.t_us.size, -1, dtype=np.int64)
    out["near"] = heard_cells(near, track, arrays.t_us, arrays.lat, arrays.lon, station=station)
    # The region's grid is asked only who was heard where: no places.
    out["region"] = heard_cells(region, track, arrays.t_us, arrays.lat, arrays.lon, places=False)
    return {PREFIX + name: frame.to_arrow() for name, frame in out.items()}


def points_to_keep(points: pl.DataFrame, loiter: pl.DataFrame, cuts: pl.DataFrame) -> pl.DataFrame:
    """Return the ``points`` (:data:`~monitor.analyse.loitering.POINTS_SCHEMA`) of the
    loitering rows ``loiter`` that a later run may go on (not settled before their vessel's cut,
    mmsi, cut_us of ``cuts``; every one of a vessel without): it merges their points before its
    ``X`` with those found from its cut on (:func:`~monitor.pipeline.behaviour_resume.splice`)."""
    rows = loiter.join(cuts.select("mmsi", "cut_us"), on="mmsi", how="left").filter(
        pl.col("settled_utc").is_null()
        | pl.col("cut_us").is_null()
        | (pl.col("settled_utc").dt.epoch("us") >= pl.col("cut_us"))
    )
    return points.join(
        rows.select("mmsi", "track_id", run_utc="start_utc"),
        on=["mmsi", "track_id", "run_utc"],
        how="semi",
    )


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


#: Runs a function over each item, as an engine does (in order, results in order).
MapFn = Callable[[Callable[..., pl.DataFrame], Sequence[object]], list[pl.DataFrame]]


def _in_order(fn: Callable[..., pl.DataFrame], items: Sequence[object]) -> list[pl.DataFrame]:
    return [fn(item) for item in items]


#: Finds the close pairs of the merge: of the buckets' samples (tables sorted by slot, tracks
#: numbered in their bucket), ``to_global`` (how they are numbered in all) and the tracks of all
#: (track, track_id, mmsi; numbered as in all).
PairsFn = Callable[[list[pa.Table], list[npt.NDArray[np.int64]], pl.DataFrame], pl.DataFrame]


def partition_pairs(part: pl.DataFrame, max_distance_m: float) -> pl.DataFrame:
    """Return the close pairs of samples of one space-time partition that it owns: those whose
    sample of the lower track lies in it (``home``)."""
    if part.height < 2:
        return pl.DataFrame()
    return close_pairs(part, max_distance_m).filter("home_a").drop("home_a")


def merge_behaviour(
    parts: Sequence[MutableMapping[str, pa.Table]],
    job: BehaviourJob,
    map_fn: MapFn = _in_order,
    *,
    space_time: SpaceTimeGrid | None = None,
    pairs_fn: PairsFn | None = None,
    along: AlongFn = read_along,
    known: KnownGrids | None = None,
) -> Behaviour:
    """Return the dark periods, encounters and loitering of all tracks from the buckets'
    ``parts`` (from :func:`behaviour_parts`; each table is taken out of them as it is used, so
    that its memory goes as soon as what is made of it is made); ``map_fn`` runs the close-pair
    search partition by partition (here, or on an engine's workers) of ``space_time`` (default:
    blocks of :data:`BLOCK_DEG`, windows of :data:`WINDOW_H`); ``pairs_fn``, if given, finds
    the close pairs instead (e.g. keeping those of the windows that did not change);
    ``along`` reads the reception grids along the silences (e.g. keeping what was read);
    ``known`` says what the grids told of silences before, when and where the stations heard
    anyone, and holds the stored rows the parts lack: the grids then hold the rows that the
    silences asked again need only."""
    settings = job.settings

    def tables(name: str) -> list[pa.Table]:
        return [p.pop(PREFIX + name) for p in parts]

    def frames(name: str) -> list[pl.DataFrame]:
        return [_frame(t) for t in tables(name)]

    starts = [s for f in frames("start") for s in f["first_us"].drop_nulls().to_list()]
    if starts and min(starts) != job.data_start_us:
        raise ValueError(
            f"the reception grids start at {job.data_start_us} us, the data at {min(starts)}"
        )
    # Tracks numbered as one run over all positions numbers them: by MMSI, then as segmented
    # (each MMSI is in one bucket); ``to_global[b][k]`` is track k of bucket b.
    local = [
        t.with_columns(bucket=pl.lit(b), local=pl.int_range(pl.len()))
        for b, t in enumerate(frames("tracks"))
    ]
    tracks = pl.concat(local).sort("mmsi", maintain_order=True).with_row_index("track")
    tracks = tracks.with_columns(pl.col("track").cast(pl.Int64))
    to_global = [
        tracks.filter(pl.col("bucket") == b).sort("local")["track"].to_numpy()
        for b in range(len(parts))
    ]

    def merged(name: str, *order: str) -> pl.DataFrame:
        found = [
            f.with_columns(track=pl.Series(to_global[b][f["track"].to_numpy()], dtype=pl.Int64))
            for b, f in enumerate(frames(name))
        ]
        frame = pl.concat(found)
        return frame.sort(*order) if order else frame

    times = merged("times", "track")
    quiet = merged("quiet", "track", "from_us")
    near_spec, region_spec = job.specs()
    near, region_rows = _arrays(tables("near"), to_global), _arrays(tables("region"), to_global)
    stations = near.get("station", _NO_STATIONS)
    rhythm = (station_rhythm if known is None else known.rhythm)(
        near["code"], near["track"], stations
    )
    silences = merged("silences")
    data_end = job.data_end
    near_from = region_from = 0
    if known is not None:
        known.name_tracks(tracks.select("track", "track_id"))
        judging = open_until(silences, data_end, settings.gaps)
        near_from, region_from = rows_from(
            judging, known.settled(judging), near_spec, region_spec, along
        )
        ids = tracks.select("track_id", "track")
        near = _with_rows(near, known.rows("near", near_from), ids)
        region_rows = _with_rows(region_rows, known.rows("region", region_from), ids)
    grid = merged_grid(near_spec, near, times, quiet, from_bin=near_from, rhythm=rhythm)
    region = merged_grid(region_spec, region_rows, times, quiet, from_bin=region_from)
    del near, region_rows
    gaps = judged(
        silences, grid, region, settings.gaps, key="track_id", data_end=data_end, along=along,
        known=known,
    )  # fmt: skip
    del grid, region
    dark = gaps.filter(pl.col("cause") == "dark").select(
        "track_id", start_utc="gap_start_utc", end_utc=pl.col("gap_end_utc").fill_null(data_end)
    )
    ids = tracks.select("track", key="track_id", mmsi="mmsi", track_id="track_id")
    if pairs_fn is None:
        pairs = close_pairs_by_window(tables("samples"), to_global, job, map_fn, space_time)
    else:
        pairs = pairs_fn(tables("samples"), to_global, tracks.select("track", "track_id", "mmsi"))
    found = meetings(pairs, ids, settings.encounters, dark=dark)
    loiter = pl.concat(
        [pl.DataFrame(schema=LOITERING_SCHEMA)]
        + [f.drop("settled_utc", "lead_utc", strict=False) for f in frames("loitering")]
    )
    return Behaviour(gaps=gaps, encounters=found, loitering=loiter.sort("start_utc", "mmsi"))


def _with_rows(
    arrays: dict[str, npt.NDArray[Any]], rows: pl.DataFrame | None, ids: pl.DataFrame
) -> dict[str, npt.NDArray[Any]]:
    """Return the grid rows ``arrays`` (as :func:`_arrays` gives them) and ``rows`` (tracks by
    id; ``ids``: track_id, track of all)."""
    if rows is None or not rows.height:
        return arrays
    rows = rows.join(ids, on="track_id").drop("track_id")
    return {c: np.concatenate([arrays[c], rows[c].to_numpy()]) for c in arrays}


def _arrays(
    found: list[pa.Table | None], to_global: list[npt.NDArray[np.int64]]
) -> dict[str, npt.NDArray[Any]]:
    """Return the rows of the buckets' tables ``found`` (a ``track`` column numbered in its
    bucket, numeric others) as one array per column, tracks numbered as ``to_global`` says;
    each table is let go once copied."""
    first = found[0]
    assert first is not None
    n = sum(t.num_rows for t in found if t is not None)
    out = {
        c: np.empty(n, dtype=first.schema.field(c).type.to_pandas_dtype())
        for c in first.schema.names
    }
    at = 0
    for b, table in enumerate(found):
        assert table is not None
        found[b] = None
        m = table.num_rows
        for name in table.schema.names:
            column = table.column(name).to_numpy()
            out[name][at : at + m] = to_global[b][column] if name == "track" else column
        at += m
        del table
    return out


def close_pairs_by_window(
    samples: list[pa.Table],
    to_global: list[npt.NDArray[np.int64]],
    job: BehaviourJob,
    map_fn: MapFn = _in_order,
    space_time: SpaceTimeGrid | None = None,
    *,
    windows: Collection[int] | None = None,
) -> pl.DataFrame:
    """Return the close pairs of the buckets' ``samples`` (each sorted by slot; tracks numbered
    in their bucket, ``to_global`` says how in all), one window of ``space_time`` after another
    (pairs are of one grid time, so windows need no overlap): only one window's samples are
    gathered at a time. Only of the ``windows`` given (numbered as :func:`window_slots` says),
    if any; each pair with its ``window``."""
    space_time = _space_time(job, space_time)
    window = window_slots(job, space_time)
    slots = [t.column("slot").to_numpy() for t in samples]
    ends = [(int(s[0]), int(s[-1])) for s in slots if s.size]
    if not ends:
        return pl.DataFrame()
    first = min(a for a, _ in ends) // window
    last = max(z for _, z in ends) // window
    todo = range(first, last + 1) if windows is None else sorted(windows)
    found: list[pl.DataFrame] = []
    for w in todo:
        lo, hi = w * window, (w + 1) * window
        pieces = []
        for b, (table, slot) in enumerate(zip(samples, slots, strict=True)):
            a, z = np.searchsorted(slot, [lo, hi])
            if z > a:
                piece = _frame(table.slice(a, z - a))
                pieces.append(
                    piece.with_columns(
                        track=pl.Series(to_global[b][piece["track"].to_numpy()], dtype=pl.Int64)
                    )
                )
        if pieces:
            pairs = close_pairs_by_partition(pl.concat(pieces), job, map_fn, space_time)
            if pairs.width:
                found.append(pairs.with_columns(window=pl.lit(w, dtype=pl.Int64)))
    return pl.concat(found) if found else pl.DataFrame()


def _space_time(job: BehaviourJob, space_time: SpaceTimeGrid | None) -> SpaceTimeGrid:
    """Return ``space_time``, or the default partitions of the close-pair search."""
    if space_time is not None:
        return space_time
    max_m = job.settings.encounters.max_distance_m
    return SpaceTimeGrid(reach_m=2 * max_m, block_deg=BLOCK_DEG, window_h=WINDOW_H)


def window_slots(job: BehaviourJob, space_time: SpaceTimeGrid | None = None) -> int:
    """Return how many grid times a window of the close-pair search holds: window ``w`` holds
    the samples of slots ``w * n`` to ``(w + 1) * n - 1`` (a UTC day by default)."""
    step_us = int(job.settings.encounters.grid_min * 60e6)
    return max(int(_space_time(job, space_time).window_h * _US_PER_H // step_us), 1)


def close_pairs_by_partition(
    samples: pl.DataFrame,
    job: BehaviourJob,
    map_fn: MapFn = _in_order,
    space_time: SpaceTimeGrid | None = None,
) -> pl.DataFrame:
    """Return every close pair of ``samples`` (as :func:`close_pairs` over all at once), found
    in the partitions of ``space_time``: samples of one grid time within ``max_distance_m`` meet
    in the partition of either (a reach of twice the distance is well over any edge), which
    keeps the pair when it holds the first sample."""
    max_m = job.settings.encounters.max_distance_m
    space_time = _space_time(job, space_time)
    if space_time.reach_m < 2 * max_m:
        raise ValueError(f"space_time.reach_m must be at least {2 * max_m} m")
    if samples.height < 2:
        return pl.DataFrame()
    step_us = int(job.settings.encounters.grid_min * 60e6)
    places = samples.select(
        "lat",
        "lon",
        timestamp_utc=pl.from_epoch(pl.col("slot") * step_us, "us").dt.replace_time_zone("UTC"),
    )
    copies = partitions_of(places, space_time).sort("partition", "row")
    del places
    # Each partition's samples, one after another: one copy of the samples, cut in slices.
    laid_out = samples[copies["row"].to_numpy()].with_columns(home=copies["home"])
    code = copies["partition"].to_numpy()
    cuts = [0, *(np.flatnonzero(code[1:] != code[:-1]) + 1).tolist(), code.size]
    del copies, code
    parts = [laid_out.slice(a, b - a) for a, b in itertools.pairwise(cuts)]
    pairs_in = partial(partition_pairs, max_distance_m=max_m)
    found = [p for p in map_fn(pairs_in, parts) if p.width]
    return pl.concat(found) if found else pl.DataFrame()
