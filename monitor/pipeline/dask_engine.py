"""The Dask engine: a detection's slices and vessel buckets as tasks on a Dask cluster.

Each slice of a store file is one map task (read, split by bucket); each bucket is one reduce
task that gets its pieces from the map tasks' workers and runs the pure analysis. Only the
results (calls, transits, ...) come back to the driver. Needs ``pip install 'monitor[dask]'``
here and on every worker, and workers that can read the store's path.
"""

from __future__ import annotations

import contextlib
import logging
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from monitor.errors import ConfigError
from monitor.pipeline.buckets import (
    BucketJob,
    BucketPlan,
    FileSlice,
    analyse_bucket,
    count_slice,
    merge_counts,
    split_slice,
)
from monitor.pipeline.engines import MERGE_FAN_IN, R, T, counts_frame

log = logging.getLogger(__name__)

#: How long a client tries to reach a running scheduler before giving up.
CONNECT_TIMEOUT = "30s"


@contextlib.contextmanager
def dask_client(scheduler: str) -> Iterator[Any]:
    """Yield a Dask client of ``scheduler``: ``tcp://HOST:PORT`` or ``local:N`` (a cluster of N
    worker processes on this machine, closed afterwards)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError(
            "engine.kind = 'dask' needs Dask: pip install 'monitor[dask]' (here and on the "
            "workers), or set engine.kind = 'local'"
        ) from exc
    # Dask logs each worker's start and stop at INFO on its own logger: only as verbose as ours.
    logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
    if scheduler.startswith("local:"):
        n_workers = int(scheduler.removeprefix("local:"))
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                # A cluster for one run: no dashboard.
                scheduler_kwargs={"dashboard": False},
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise ConfigError(
            f"engine.scheduler: no Dask scheduler answers at {scheduler} ({exc}); start one "
            "(dask scheduler) and its workers, or check the address"
        ) from exc
    with client:
        yield client


class DaskEngine:
    """Runs the steps as tasks through a Dask client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def count(self, slices: Sequence[FileSlice], filesystem: Any = None) -> pl.DataFrame:
        """Return per vessel its positions and their first and last time, counted by the
        workers slice by slice and added up in a tree of tasks."""
        if not slices:
            return counts_frame(None)
        level = [self.client.submit(count_slice, part, filesystem, pure=False) for part in slices]
        while len(level) > 1:
            level = [
                self.client.submit(merge_counts, level[i : i + MERGE_FAN_IN], pure=False)
                for i in range(0, len(level), MERGE_FAN_IN)
            ]
        return counts_frame(level[0].result())

    def run(self, plan: BucketPlan, job: BucketJob) -> list[dict[str, pa.Table]]:
        """Return each bucket's analysis (see :func:`run_on`)."""
        return run_on(self.client, plan, job)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Return ``fn`` of each item, run as tasks on the cluster."""
        return list(self.client.gather(self.client.map(fn, items, pure=False)))


#: Bytes a position takes between the map and the reduce steps (six columns in Arrow).
BYTES_PER_POSITION = 48
#: Share of the cluster's memory that the pieces between the steps may take at once.
SHUFFLE_SHARE = 0.25


def waves(n_buckets: int, n_positions: int, shuffle_bytes: int) -> list[range]:
    """Return the buckets in consecutive groups whose pieces fit in ``shuffle_bytes`` at once."""
    per_bucket = max(1, n_positions // max(n_buckets, 1)) * BYTES_PER_POSITION
    size = max(1, min(n_buckets, shuffle_bytes // per_bucket))
    return [range(start, min(start + size, n_buckets)) for start in range(0, n_buckets, size)]


def run_on(
    client: Any, plan: BucketPlan, job: BucketJob, shuffle_bytes: int | None = None
) -> list[dict[str, pa.Table]]:
    """Return each bucket's analysis, run as tasks through the Dask ``client``.

    The pieces between the map and the reduce steps wait in the workers' memory. When those of
    every bucket would take more than ``shuffle_bytes`` (default: a quarter of the cluster's
    memory), buckets run in waves, each of which reads the store's slices again.
    """
    if shuffle_bytes is None:
        workers = client.scheduler_info()["workers"].values()
        shuffle_bytes = int(SHUFFLE_SHARE * sum(w.get("memory_limit") or 0 for w in workers))
    groups = waves(plan.n_buckets, plan.n_positions, shuffle_bytes or 2**62)
    if len(groups) > 1:
        log.info("detect: %d vessel buckets in %d waves", plan.n_buckets, len(groups))
    [shared_job] = client.scatter([job], broadcast=True)
    vessels = None
    if plan.vessels is not None:
        [vessels] = client.scatter([plan.vessels], broadcast=True)
    results: list[dict[str, pa.Table]] = []
    for group in groups:
        maps = [
            client.submit(
                split_slice,
                part,
                plan.n_buckets,
                vessels=vessels,
                filesystem=plan.filesystem,
                keep=group,
                pure=False,
            )
            for part in plan.slices
        ]
        reduces = []
        for i in range(len(group)):
            pieces = [client.submit(operator.getitem, m, i, pure=False) for m in maps]
            seeds = plan.bucket_seeds(group[i])
            reduces.append(client.submit(analyse_bucket, pieces, shared_job, seeds, pure=False))
        results.extend(client.gather(reduces))
        del maps, reduces
    return results
