"""Vessel buckets: how a detection is split, and the pure work on one bucket.

A bucket is the set of vessels whose MMSI hashes to one number in ``0..n-1``. Every per-vessel
analysis (tracks, calls, transits and what they give) depends on one vessel's positions only, so
a detection is the union of the detections of its buckets, whatever their number.

The work is two pure steps, so that any engine can run them where it likes:

* :func:`split_slice` (map): the positions of one slice of one store file (a few row groups),
  split into ``n`` Arrow tables, one per bucket;
* :func:`analyse_bucket` (reduce): the pieces of one bucket, in file order, in; the analysis'
  tables out, as Arrow tables. It reads no file and writes none.

The driver lists the files to read (the store's live files, never a directory listing) and keeps
everything else: what changed, enrichment, the writes.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from monitor.analyse.geofences import Zone
from monitor.analyse.portcalls import detect as portcalls
from monitor.analyse.track_restarts import Resume, far_apart_s
from monitor.analyse.tracks import concurrent_tracks
from monitor.config import DetectSettings, EngineSettings, Settings, TrackSettings
from monitor.pipeline.behaviour_buckets import PREFIX, BehaviourJob, behaviour_parts
from monitor.schema import (
    CONCURRENT_SCHEMA,
    LABELLED_SCHEMA,
    MULTI_TRACK_SCHEMA,
    POSITIONS_SCHEMA,
    RESTARTS_SCHEMA,
    conform,
    empty_frame,
)

#: Knuth's multiplicative hash constant: MMSIs come in blocks by country (their first three
#: digits), so a hash spreads them over the buckets where ``mmsi % n`` would not.
_MULTIPLIER = np.uint64(2_654_435_761)
_LOW_32 = np.uint64(0xFFFF_FFFF)
#: Columns of the positions the analyses read (``station``: the behaviour analyses only).
COLUMNS = ("mmsi", "timestamp_utc", "lat", "lon", "sog_kn", "cog_deg", "station")
#: Read as dictionaries: a few distinct values, repeated.
_DICTIONARY_COLUMNS = ["station"]


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def buckets_of(mmsi: npt.ArrayLike, n_buckets: int) -> npt.NDArray[np.uint32]:
    """Return the bucket (``0..n_buckets-1``) of each MMSI."""
    hashed = (np.asarray(mmsi).astype(np.uint64) * _MULTIPLIER) & _LOW_32
    return ((hashed * np.uint64(n_buckets)) >> np.uint64(32)).astype(np.uint32)


def bucket_count(positions_per_vessel: pl.DataFrame, per_bucket: int, fixed: int = 0) -> int:
    """Return how many buckets to split vessels into: ``fixed``, or enough that a bucket holds
    about ``per_bucket`` positions (``positions_per_vessel``: mmsi, n_positions)."""
    if fixed:
        return fixed
    total = int(positions_per_vessel["n_positions"].sum())
    return max(1, -(-total // per_bucket))


@dataclass(frozen=True)
class FileSlice:
    """Row groups of one Parquet file of the store: the unit a map step reads."""

    path: str
    row_groups: tuple[int, ...]
    n_rows: int


def file_slices(
    paths: Sequence[str],
    max_rows: int,
    filesystem: Any = None,
    *,
    vessels: npt.ArrayLike | None = None,
) -> list[FileSlice]:
    """Return ``paths`` cut into slices of whole row groups, each of at most about ``max_rows``
    rows (a row group larger than that is a slice of its own); with ``vessels`` (MMSIs), only
    the row groups whose statistics say they may hold one of them (a compacted file's rows are
    by vessel). Reads the files' footers only."""
    wanted = None if vessels is None else np.unique(np.asarray(vessels, dtype=np.int64))
    slices: list[FileSlice] = []
    for path in paths:
        meta = pq.ParquetFile(path, filesystem=filesystem).metadata
        names = [meta.schema.column(j).path for j in range(meta.num_columns)]
        mmsi = names.index("mmsi") if "mmsi" in names else None
        group: list[int] = []
        rows = 0
        for i in range(meta.num_row_groups):
            if wanted is not None and mmsi is not None and not _may_hold(meta, i, mmsi, wanted):
                continue
            n = meta.row_group(i).num_rows
            if group and rows + n > max_rows:
                slices.append(FileSlice(path, tuple(group), rows))
                group, rows = [], 0
            group.append(i)
            rows += n
        if group:
            slices.append(FileSlice(path, tuple(group), rows))
    return slices


def _may_hold(
    meta: pq.FileMetaData, group: int, column: int, wanted: npt.NDArray[np.int64]
) -> bool:
    """Return whether row group ``group`` may hold one of the ``wanted`` values (sorted) of
    ``column``: unless its statistics' range holds none (no statistics: it may)."""
    stats = meta.row_group(group).column(column).statistics
    if stats is None or not stats.has_min_max:
        return True
    k = int(np.searchsorted(wanted, int(stats.min)))
    return k < wanted.size and wanted[k] <= int(stats.max)


def split_slice(
    part: FileSlice,
    n_buckets: int,
    *,
    vessels: pa.Table | None = None,
    columns: Sequence[str] = COLUMNS,
    filesystem: Any = None,
    keep: range | None = None,
) -> list[pa.Table]:
    """Return the rows of ``part`` (``columns`` only) split into ``n_buckets`` tables, one per
    bucket, each in file order; only the rows of ``vessels`` (a table with ``mmsi``), if given,
    and only the tables of the buckets in ``keep``, if given."""
    metadata = pq.read_metadata(part.path, filesystem=filesystem)
    present = set(metadata.schema.to_arrow_schema().names)
    source = pq.ParquetFile(
        part.path,
        filesystem=filesystem,
        metadata=metadata,
        # Only those the file has: a file written before one existed has none to name.
        read_dictionary=[c for c in _DICTIONARY_COLUMNS if c in present],
    )
    table = source.read_row_groups(
        list(part.row_groups), columns=[c for c in columns if c in present]
    )
    for name in columns:
        if name not in present:
            # A file written before the column existed.
            kind = pa.dictionary(pa.int32(), pa.string()) if name in _DICTIONARY_COLUMNS else None
            table = table.append_column(name, pa.nulls(table.num_rows, kind))
    table = table.select(list(columns))
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if vessels is not None:
        wanted = pl.from_arrow(vessels)
        assert isinstance(wanted, pl.DataFrame)
        if "restart_utc" in wanted.columns:
            # Resumed vessels: their positions from their restart point on only.
            frame = frame.join(wanted, on="mmsi", maintain_order="left").filter(
                pl.col("restart_utc").is_null() | (pl.col("timestamp_utc") >= pl.col("restart_utc"))
            )
            frame = frame.drop("restart_utc")
        else:
            frame = frame.filter(pl.col("mmsi").is_in(wanted["mmsi"].implode()))
    if n_buckets == 1:
        return [frame.to_arrow()]
    bucket = buckets_of(frame["mmsi"].to_numpy(), n_buckets)
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n_buckets + 1))
    ordered = frame[order].to_arrow()
    pieces = [ordered.slice(a, b - a) for a, b in itertools.pairwise(bounds.tolist())]
    return pieces if keep is None else [pieces[b] for b in keep]


def count_slice(part: FileSlice, filesystem: Any = None) -> pa.Table:
    """Return, per vessel of ``part``, its positions with a finite place and their first and
    last time: mmsi, n_positions, first_utc, last_utc."""
    table = pq.ParquetFile(part.path, filesystem=filesystem).read_row_groups(
        list(part.row_groups), columns=["mmsi", "timestamp_utc", "lat", "lon"]
    )
    frame = _frame(table).filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
    return (
        frame.group_by("mmsi")
        .agg(
            n_positions=pl.len().cast(pl.UInt64),
            first_utc=pl.col("timestamp_utc").min(),
            last_utc=pl.col("timestamp_utc").max(),
        )
        .to_arrow()
    )


def merge_counts(parts: Sequence[pa.Table]) -> pa.Table:
    """Return the per-vessel counts of :func:`count_slice` tables added up."""
    frames = [_frame(p) for p in parts]
    return (
        pl.concat(frames)
        .group_by("mmsi")
        .agg(pl.col("n_positions").sum(), pl.col("first_utc").min(), pl.col("last_utc").max())
        .to_arrow()
    )


@dataclass(frozen=True)
class BucketPlan:
    """What to read and how to split it: the same for every engine."""

    slices: list[FileSlice]
    n_buckets: int
    #: Only these vessels' positions (a table with ``mmsi``); None: every vessel.
    vessels: pa.Table | None = None
    #: The store's filesystem (pyarrow or fsspec), None for a local path.
    filesystem: Any = None
    #: Positions of the vessels to detect (sizes the work).
    n_positions: int = 0
    #: Restart rows (RESTARTS_SCHEMA) of the vessels resumed from their restart points.
    seeds: pa.Table | None = None

    def bucket_seeds(self, bucket: int) -> pa.Table | None:
        """Return the restart rows of the vessels of ``bucket``."""
        if self.seeds is None or self.n_buckets == 1:
            return self.seeds
        seeds = _frame(self.seeds)
        mine = buckets_of(seeds["mmsi"].to_numpy(), self.n_buckets) == bucket
        return seeds.filter(pl.Series(mine)).to_arrow()


def plan_buckets(
    slices: list[FileSlice],
    positions_per_vessel: pl.DataFrame,
    engine: EngineSettings,
    *,
    vessels: pl.Series | pl.DataFrame | None = None,
    filesystem: Any = None,
    seeds: pl.DataFrame | None = None,
) -> BucketPlan:
    """Return the plan to detect ``vessels`` (None: all) from the store's ``slices``.

    ``positions_per_vessel`` (mmsi, n_positions) sizes the buckets. ``vessels`` is a series of
    MMSIs, or a frame of mmsi and ``restart_utc`` (their positions from then on only), which
    ``seeds`` resume.
    """
    counts = positions_per_vessel
    if vessels is not None:
        mmsi = vessels if isinstance(vessels, pl.Series) else vessels["mmsi"]
        counts = counts.filter(pl.col("mmsi").is_in(mmsi.implode()))
    n_buckets = bucket_count(counts, engine.partition_positions, engine.partitions)
    if isinstance(vessels, pl.Series):
        vessels = pl.DataFrame({"mmsi": vessels})
    return BucketPlan(
        slices=slices,
        n_buckets=n_buckets,
        vessels=None if vessels is None else vessels.to_arrow(),
        filesystem=filesystem,
        n_positions=int(counts["n_positions"].sum()),
        seeds=None if seeds is None else seeds.to_arrow(),
    )


@dataclass(frozen=True)
class BucketJob:
    """What the analysis of a bucket needs besides its positions (sent to every worker)."""

    zones: tuple[Zone, ...]
    detect: DetectSettings
    tracks: TrackSettings
    #: Two tracks of one MMSI at least this far apart at the same time share it
    #: (``events.shared_min_distance_km``).
    shared_min_distance_km: float
    #: Resume vessels from their restart points and look for new ones.
    resume: bool = False
    #: The per-vessel parts of dark periods, encounters and loitering too, if given.
    behaviour: BehaviourJob | None = None
    #: False: the behaviour parts only, no calls.
    calls: bool = True

    @classmethod
    def of(
        cls,
        zones: Sequence[Zone],
        settings: Settings,
        *,
        resume: bool = False,
        behaviour: BehaviourJob | None = None,
    ) -> BucketJob:
        """Return the job of detecting in ``zones`` with ``settings``' thresholds."""
        return cls(
            zones=tuple(zones),
            detect=settings.detect,
            tracks=settings.tracks,
            shared_min_distance_km=settings.events.shared_min_distance_km,
            resume=resume,
            behaviour=behaviour,
        )


#: Tables of a bucket's detection that stay on the worker: used there, too large to send back.
_KEPT_ON_WORKER = {"multi_track": MULTI_TRACK_SCHEMA, "labelled": LABELLED_SCHEMA}


def analyse_bucket(
    pieces: Sequence[pa.Table], job: BucketJob, seeds: pa.Table | None = None
) -> dict[str, pa.Table]:
    """Return the detection of one bucket's positions (``pieces``, in file order) as Arrow
    tables: one per table of :class:`~monitor.analyse.portcalls.detect.Detection` but the
    positions of MMSIs with several tracks, ``concurrent`` (their tracks active at once far
    apart) and the counts as a one-row table ``counts``.

    With ``job.resume``, vessels with restart rows in ``seeds`` go on from their restart points
    (``pieces`` hold their positions from there on); the detection's ``labelled`` then holds,
    per vessel, the positions it worked on with their track ids, and ``restarts`` each
    vessel's new restart point."""
    if pieces:
        positions = _frame(pa.concat_tables(pieces))
    else:
        positions = empty_frame({c: POSITIONS_SCHEMA[c] for c in COLUMNS})
    if job.behaviour is not None and not job.calls:
        resumed = None
        if job.resume:
            resumed = _frame(seeds) if seeds is not None else empty_frame(RESTARTS_SCHEMA)
        return behaviour_parts(positions, job.behaviour, resumed)
    resume = None
    if job.resume:
        seeds_frame = _frame(seeds) if seeds is not None else empty_frame(RESTARTS_SCHEMA)
        resume = Resume(seeds=conform(seeds_frame, RESTARTS_SCHEMA))
    found = portcalls.detect_all(
        positions.drop("station", strict=False),
        job.zones,
        job.detect,
        job.tracks,
        resume=resume,
        far_s=far_apart_s(job.tracks, job.shared_min_distance_km),
    )
    concurrent = concurrent_tracks(found.multi_track, job.tracks, job.shared_min_distance_km)
    out: dict[str, pa.Table] = {"concurrent": concurrent.to_arrow()}
    counts: dict[str, list[int]] = {}
    for field in dataclasses.fields(found):
        value = getattr(found, field.name)
        if field.name in _KEPT_ON_WORKER:
            continue
        if isinstance(value, pl.DataFrame):
            out[field.name] = value.to_arrow()
        else:
            counts[field.name] = [int(value)]
    out["counts"] = pa.table(counts)
    if job.behaviour is not None:
        out.update(behaviour_parts(positions, job.behaviour))
    return out


@dataclass
class BucketsFound:
    """The detection of every bucket, as one run over all vessels gives it."""

    #: Without the positions of MMSIs with several tracks (``multi_track`` is empty).
    detection: portcalls.Detection
    #: Tracks of one MMSI active at the same time far apart, :data:`CONCURRENT_SCHEMA`.
    concurrent: pl.DataFrame
    #: Each bucket's behaviour parts (:func:`behaviour_parts`), if it found them.
    behaviour: list[dict[str, pa.Table]] = dataclasses.field(default_factory=list)


def combine(results: Sequence[dict[str, pa.Table]]) -> BucketsFound:
    """Return one detection made of the detections of buckets (each vessel is in one bucket).

    Tables are joined in bucket order and sorted stably by MMSI, as one run over all vessels
    orders them; counts are added up. ``results`` holds at least one bucket's.
    """
    if not results:
        raise ValueError("no bucket to combine: analyse at least one, even an empty one")

    def joined(name: str) -> pl.DataFrame:
        return pl.concat([_frame(r[name]) for r in results]).sort("mmsi", maintain_order=True)

    values: dict[str, Any] = {}
    for field in dataclasses.fields(portcalls.Detection):
        name = field.name
        if name in _KEPT_ON_WORKER:
            values[name] = empty_frame(_KEPT_ON_WORKER[name])
        elif name in results[0]:
            values[name] = joined(name)
        else:
            values[name] = sum(int(r["counts"][name][0].as_py()) for r in results)
    return BucketsFound(
        portcalls.Detection(**values),
        conform(joined("concurrent"), CONCURRENT_SCHEMA),
        behaviour_of(results),
    )


def behaviour_of(results: Sequence[dict[str, pa.Table]]) -> list[dict[str, pa.Table]]:
    """Return the behaviour parts of buckets' ``results`` (those that have them)."""
    parts = [{k: v for k, v in r.items() if k.startswith(PREFIX)} for r in results]
    return [p for p in parts if p]


def merge_found(parts: Sequence[BucketsFound]) -> BucketsFound:
    """Return the detections of disjoint sets of vessels as one (``parts``: at least one)."""
    if len(parts) == 1:
        return parts[0]
    values: dict[str, Any] = {}
    for field in dataclasses.fields(portcalls.Detection):
        items = [getattr(p.detection, field.name) for p in parts]
        if isinstance(items[0], pl.DataFrame):
            values[field.name] = pl.concat(items).sort("mmsi", maintain_order=True)
        else:
            values[field.name] = sum(items)
    concurrent = pl.concat([p.concurrent for p in parts]).sort("mmsi", maintain_order=True)
    behaviour = [b for p in parts for b in p.behaviour]
    return BucketsFound(portcalls.Detection(**values), concurrent, behaviour)
