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
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from monitor.errors import ConfigError
from monitor.pipeline.buckets import BucketJob, BucketPlan, analyse_bucket, split_slice

log = logging.getLogger(__name__)


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
    if scheduler.startswith("local:"):
        n_workers = int(scheduler.removeprefix("local:"))
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout="30s")
    except OSError as exc:
        raise ConfigError(
            f"engine.scheduler: no Dask scheduler answers at {scheduler} ({exc}); start one "
            "(dask scheduler) and its workers, or check the address"
        ) from exc
    with client:
        yield client


def run_dask(plan: BucketPlan, job: BucketJob, scheduler: str) -> list[dict[str, pa.Table]]:
    """Return each bucket's analysis, run as tasks on the Dask cluster at ``scheduler``."""
    with dask_client(scheduler) as client:
        return run_on(client, plan, job)


def run_on(client: Any, plan: BucketPlan, job: BucketJob) -> list[dict[str, pa.Table]]:
    """Return each bucket's analysis, run as tasks through the Dask ``client``."""
    [shared_job] = client.scatter([job], broadcast=True)
    vessels = None
    if plan.vessels is not None:
        [vessels] = client.scatter([plan.vessels], broadcast=True)
    maps = [
        client.submit(
            split_slice,
            part,
            plan.n_buckets,
            vessels=vessels,
            filesystem=plan.filesystem,
            pure=False,
        )
        for part in plan.slices
    ]
    reduces = []
    for bucket in range(plan.n_buckets):
        pieces = [client.submit(operator.getitem, m, bucket, pure=False) for m in maps]
        reduces.append(client.submit(analyse_bucket, pieces, shared_job, pure=False))
    results: list[dict[str, pa.Table]] = client.gather(reduces)
    return results
