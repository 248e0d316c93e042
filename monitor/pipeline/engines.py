"""The engines that run a detection's vessel buckets: here, one bucket after another, or on Dask.

Both run the same two pure steps of :mod:`monitor.pipeline.buckets` on the same slices of the
store's live files and give the same tables. The local engine first splits every slice by bucket
into temporary Arrow files (one pass over the store), then analyses one bucket at a time, so that
its memory is that of one slice or one bucket, whatever the store's size. The Dask engine sends
the slices and the buckets to a cluster as tasks (:mod:`monitor.pipeline.dask_engine`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import polars as pl
import pyarrow as pa

from monitor.analyse.geofences import Zone
from monitor.config import EngineSettings, Settings
from monitor.pipeline.behaviour_buckets import PREFIX, BehaviourJob
from monitor.pipeline.buckets import (
    BucketJob,
    BucketPlan,
    BucketsFound,
    FileSlice,
    analyse_bucket,
    behaviour_of,
    combine,
    count_slice,
    merge_counts,
    plan_buckets,
    split_slice,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Temporary bucket files are compressed with LZ4: written and read at memory speed.
_SPILL_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


class LocalEngine:
    """Runs the steps in this process, one slice or one bucket at a time.

    With a ``spill`` folder, each bucket's behaviour parts are written there as they come and
    read back memory-mapped: the driver holds them on disk, not in its memory, until they are
    merged.
    """

    def __init__(self, spill: Path | None = None) -> None:
        self.spill = spill
        self._n_spilled = 0

    def _spilled(self, result: dict[str, pa.Table]) -> dict[str, pa.Table]:
        if self.spill is None:
            return result
        self._n_spilled += 1
        for name in [n for n in result if n.startswith(PREFIX)]:
            path = self.spill / f"{self._n_spilled}-{name}.arrow"
            table = result[name]
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            with pa.memory_map(str(path)) as source:
                result[name] = pa.ipc.open_file(source).read_all()
        return result

    def count(self, slices: Sequence[FileSlice], filesystem: Any = None) -> pl.DataFrame:
        """Return per vessel its positions and their first and last time (see
        :func:`~monitor.pipeline.buckets.count_slice`)."""
        merged: list[pa.Table] = []
        for part in slices:
            merged.append(count_slice(part, filesystem))
            if len(merged) >= MERGE_FAN_IN:
                merged = [merge_counts(merged)]
        return counts_frame(merge_counts(merged) if merged else None)

    def run(self, plan: BucketPlan, job: BucketJob) -> list[dict[str, pa.Table]]:
        """Return each bucket's analysis, one bucket after another."""

        def split(part: FileSlice) -> list[pa.Table]:
            return split_slice(
                part, plan.n_buckets, vessels=plan.vessels, filesystem=plan.filesystem
            )

        if plan.n_buckets == 1:
            pieces = [split(part)[0] for part in plan.slices]
            return [self._spilled(analyse_bucket(pieces, job, plan.seeds))]
        results: list[dict[str, pa.Table]] = []
        with tempfile.TemporaryDirectory(prefix="monitor-buckets-") as spill:
            written: dict[int, list[Path]] = {}
            for i, part in enumerate(plan.slices):
                for bucket, piece in enumerate(split(part)):
                    if piece.num_rows == 0:
                        continue
                    path = Path(spill) / f"{bucket}-{i}.arrow"
                    with (
                        pa.OSFile(str(path), "wb") as sink,
                        pa.ipc.new_file(sink, piece.schema, options=_SPILL_OPTIONS) as writer,
                    ):
                        writer.write_table(piece)
                    written.setdefault(bucket, []).append(path)
            for bucket in sorted(written):
                pieces = []
                for path in written[bucket]:
                    with pa.memory_map(str(path)) as source:
                        pieces.append(pa.ipc.open_file(source).read_all())
                found = analyse_bucket(pieces, job, plan.bucket_seeds(bucket))
                results.append(self._spilled(found))
                for path in written[bucket]:
                    path.unlink()
        return results or [analyse_bucket([], job, None)]

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Return ``fn`` of each item, one after another."""
        return [fn(item) for item in items]


#: Per-vessel counts are added up this many tables at a time.
MERGE_FAN_IN = 16


def counts_frame(table: pa.Table | None) -> pl.DataFrame:
    """Return merged counts as a frame sorted by MMSI (empty with their columns when None)."""
    if table is None:
        return pl.DataFrame(
            schema={
                "mmsi": pl.UInt32(),
                "n_positions": pl.UInt64(),
                "first_utc": pl.Datetime("us", "UTC"),
                "last_utc": pl.Datetime("us", "UTC"),
            }
        )
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.sort("mmsi")


class Engine(Protocol):
    """What the detection job needs of an engine."""

    def count(self, slices: Sequence[FileSlice], filesystem: Any = None) -> pl.DataFrame: ...

    def run(self, plan: BucketPlan, job: BucketJob) -> list[dict[str, pa.Table]]: ...

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...


@contextlib.contextmanager
def open_engine(engine: EngineSettings) -> Iterator[Engine]:
    """Yield the engine of ``engine`` (for Dask, connected to its scheduler until the end)."""
    if engine.kind == "dask":
        from monitor.pipeline.dask_engine import DaskEngine, dask_client

        with dask_client(engine.scheduler) as client:
            yield DaskEngine(client)
        return
    with tempfile.TemporaryDirectory(prefix="monitor-parts-") as spill:
        yield LocalEngine(Path(spill))


def detect_in_buckets(
    engine: Engine,
    slices: list[FileSlice],
    positions_per_vessel: pl.DataFrame,
    zones: Sequence[Zone],
    settings: Settings,
    *,
    vessels: pl.Series | pl.DataFrame | None = None,
    filesystem: Any = None,
    seeds: pl.DataFrame | None = None,
    resume: bool = False,
    behaviour: BehaviourJob | None = None,
) -> BucketsFound:
    """Return the detection of ``vessels`` (None: every vessel) in the store's ``slices``, run
    by ``engine`` bucket by bucket; with ``resume``, vessels with ``seeds`` from their restart
    points (``vessels`` then holds their ``restart_utc``), and new restart points are found.

    ``slices`` cut the store's live files (never a directory listing: a compaction leaves the
    files it replaced on disk for a while). The result is the same for any engine and any number
    of buckets. With ``behaviour`` (and every vessel), the buckets find the behaviour parts of
    their vessels too (see :func:`behaviour_in_buckets`).
    """
    plan = plan_buckets(
        slices,
        positions_per_vessel,
        settings.engine,
        vessels=vessels,
        filesystem=filesystem,
        seeds=seeds,
    )
    if behaviour is not None and (vessels is not None or seeds is not None):
        raise ValueError("behaviour parts need every vessel's whole history")
    job = BucketJob.of(zones, settings, resume=resume, behaviour=behaviour)
    started = time.perf_counter()
    results = engine.run(plan, job)
    log.info(
        "detect: %d slices in %d vessel buckets on the %s engine in %.1f s",
        len(plan.slices),
        plan.n_buckets,
        settings.engine.kind,
        time.perf_counter() - started,
    )
    return combine(results)


def behaviour_in_buckets(
    engine: Engine,
    slices: list[FileSlice],
    positions_per_vessel: pl.DataFrame,
    zones: Sequence[Zone],
    settings: Settings,
    behaviour: BehaviourJob,
    *,
    filesystem: Any = None,
    vessels: pl.Series | pl.DataFrame | None = None,
    seeds: pl.DataFrame | None = None,
) -> list[dict[str, pa.Table]]:
    """Return the behaviour parts (:func:`~monitor.pipeline.behaviour_buckets.behaviour_parts`)
    of ``vessels`` (None: every vessel) of the store's ``slices``, bucket by bucket, without
    their calls: for a run that detects the calls of some vessels only. With ``seeds``,
    ``vessels`` (mmsi, restart_utc) go on from those restart points."""
    plan = plan_buckets(
        slices,
        positions_per_vessel,
        settings.engine,
        vessels=vessels,
        filesystem=filesystem,
        seeds=seeds,
    )
    job = BucketJob.of(zones, settings, behaviour=behaviour, resume=seeds is not None)
    job = dataclasses.replace(job, calls=False)
    return behaviour_of(engine.run(plan, job))
