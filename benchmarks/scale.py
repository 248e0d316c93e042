"""Benchmark of detection past one process: vessel buckets here against a local Dask cluster.

Run: ``python benchmarks/scale.py [--positions 10000000,30000000] [--workers 2] [--dir DIR]``.

For each size, a store of generated positions (vessels sailing between 10 ports, as in
``benchmarks/detect.py``, in day partitions of 1M-row files) is detected from scratch, each run in
a process of its own:

1. ``one bucket``: every position at once in one process, as before buckets (baseline; only up
   to ``--plain-max`` positions, since it needs about 300 bytes per position);
2. ``buckets``: the local engine, vessel bucket by vessel bucket in one process;
3. ``dask local:W``: a local Dask cluster of W worker processes (started before the clock runs,
   as a running cluster would be).

It prints wall time, the driver's peak memory and each Dask worker's, checks that every run wrote
the same calls, transits and events (dark periods, encounters and loitering included), and times
the steps of one bucket (read and split a slice; its calls; its behaviour parts; their merge) and
the size of its behaviour parts, for the estimate of larger runs in the README.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from detect import synthetic_positions, synthetic_zones

from monitor.config import EngineSettings, GeofenceSettings, Settings, StoreSettings
from monitor.pipeline.behaviour_buckets import BehaviourJob, merge_behaviour
from monitor.pipeline.buckets import (
    BucketJob,
    analyse_bucket,
    behaviour_of,
    file_slices,
    split_slice,
)
from monitor.pipeline.detect import detect_calls
from monitor.schema import POSITIONS_SCHEMA, conform
from monitor.store.calls import RAW_CALLS, TRANSITS
from monitor.store.events import EVENTS
from monitor.store.parquet import Store, live_files
from monitor.store.table import atomic_write_parquet

HERE = Path(__file__).resolve().parent


def peak_rss_mb() -> float:
    """Return this process's peak resident memory in MiB.

    Read from VmHWM on Linux: ``ru_maxrss`` survives ``exec``, so a process started by a large
    parent would report the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_store(root: Path, n_positions: int) -> Path:
    """Write a store of about ``n_positions`` generated positions and its geofences; return the
    geofence file. Reused when it is already there."""
    zones_file = root / "zones.geojson"
    if (root / "done").is_file():
        return zones_file
    frame = synthetic_positions(n_positions).sort("timestamp_utc")
    frame = conform(
        frame.with_columns(
            msg_type=pl.lit(1, pl.UInt8),
            msg_key=pl.int_range(pl.len(), dtype=pl.UInt64),
            source=pl.lit("bench"),
        ).with_columns(
            pl.lit(None, dtype).alias(name)
            for name, dtype in POSITIONS_SCHEMA.items()
            if name not in frame.columns and name not in ("msg_type", "msg_key", "source")
        ),
        POSITIONS_SCHEMA,
    )
    store = Store(root / "store")
    days = frame.with_columns(day=pl.col("timestamp_utc").dt.date())
    for (day,), part in days.partition_by("day", as_dict=True, include_key=False).items():
        assert isinstance(day, date)
        for chunk in part.iter_slices(1_000_000):
            folder = store.partition_dir(day)
            atomic_write_parquet(chunk, folder / f"part-{uuid.uuid4().hex}.parquet")
    features = [
        {
            "type": "Feature",
            "properties": {"id": z.id, "name": z.name, "kind": z.kind}
            | ({"port": z.port_id} if z.port_id != z.id else {}),
            "geometry": z.geometry.__geo_interface__,
        }
        for z in synthetic_zones()
    ]
    zones_file.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    (root / "done").write_text(str(frame.height))
    return zones_file


def _digest(store: Path) -> str:
    tables = [RAW_CALLS.read(store), TRANSITS.read(store), EVENTS.read(store)]
    return hashlib.sha256(b"".join(t.write_ipc(None).getvalue() for t in tables)).hexdigest()[:12]


def run_one(mode: str, root: Path, workers: int) -> dict[str, Any]:
    """Detect the store under ``root`` from scratch with ``mode``; return the figures."""
    store = root / "store"
    shutil.rmtree(store / "calls", ignore_errors=True)
    shutil.rmtree(store / "events", ignore_errors=True)
    engine = {"one bucket": EngineSettings(partitions=1), "buckets": EngineSettings()}.get(mode)
    cluster: Any = None
    if engine is None:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        engine = EngineSettings(kind="dask", scheduler=cluster.scheduler_address)
    settings = Settings(
        store=StoreSettings(path=store),
        geofences=GeofenceSettings(files=[root / "zones.geojson"]),
        engine=engine,
    )
    started, cpu = time.perf_counter(), time.process_time()
    summary = detect_calls(settings)
    wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    figures: dict[str, Any] = {
        "mode": mode,
        "wall_s": wall_s,
        "driver_cpu_s": cpu_s,
        "load": os.getloadavg()[0],
        "driver_peak_mb": peak_rss_mb(),
        "positions": summary.positions_processed,
        "calls": summary.calls_total,
        "transits": summary.transits_total,
        "events": summary.events_per_kind,
        "digest": _digest(store),
    }
    if cluster is not None:
        with Client(cluster) as client:
            peaks = client.run(peak_rss_mb)
        figures["worker_peak_mb"] = sorted(peaks.values())
        cluster.close()
    if mode == "buckets":
        figures.update(step_costs(store, settings))
    return figures


def step_costs(store: Path, settings: Settings) -> dict[str, float]:
    """Return the CPU seconds per million positions of the map step (read and split a slice)
    and of the reduce step (analyse a bucket), measured on the first slice and bucket."""
    files = [str(f) for d in sorted((store / "positions").glob("date=*")) for f in live_files(d)]
    engine = settings.engine
    [part, *_] = file_slices(files, engine.partition_positions)
    cpu = time.process_time()
    pieces = split_slice(part, 1)
    map_s = time.process_time() - cpu
    per_bucket = [split_slice(p, 16)[0] for p in file_slices(files, engine.partition_positions)]
    n_bucket = sum(p.num_rows for p in per_bucket)
    from monitor.analyse.geofences import load_zones

    zones = [zone for zone in load_zones(settings) if zone.kind != "area"]
    times = pl.concat([pl.from_arrow(p).select("timestamp_utc") for p in per_bucket])  # type: ignore[union-attr]
    t_us = times["timestamp_utc"].dt.epoch("us")
    behaviour = BehaviourJob(tuple(zones), settings, int(t_us.max()), int(t_us.min()))  # type: ignore[arg-type]
    costs: dict[str, float] = {}
    for name, job in (
        ("calls", BucketJob.of(zones, settings)),
        (
            "behaviour",
            dataclasses.replace(BucketJob.of(zones, settings, behaviour=behaviour), calls=False),
        ),
    ):
        cpu = time.process_time()
        found = analyse_bucket(per_bucket, job)
        costs[f"{name}_cpu_s_per_m"] = (time.process_time() - cpu) / n_bucket * 1e6
    parts = behaviour_of([found])
    costs["parts_bytes_per_position"] = sum(t.nbytes for t in parts[0].values()) / n_bucket
    cpu = time.process_time()
    merge_behaviour(parts, behaviour)
    costs["merge_cpu_s_per_m"] = (time.process_time() - cpu) / n_bucket * 1e6
    return costs | {
        "map_cpu_s_per_m": map_s / pieces[0].num_rows * 1e6,
        "bucket_positions": n_bucket,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", default="10000000,30000000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plain-max", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/monitor-scale-bench"))
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, args.dir, args.workers)))
        return
    for n in (int(x) for x in args.positions.split(",")):
        root = args.dir / f"store-{n}"
        t = time.perf_counter()
        build_store(root, n)
        print(f"\n{n:,} positions (store under {root}, ready in {time.perf_counter() - t:.0f} s)")
        modes = ["one bucket"] if n <= args.plain_max else []
        modes += ["buckets", f"dask local:{args.workers}"]
        digests = set()
        for mode in modes:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--run",
                    mode,
                    "--dir",
                    str(root),
                    "--workers",
                    f"{args.workers}",
                ],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            ).stdout
            fig = json.loads(out.strip().splitlines()[-1])
            digests.add(fig["digest"])
            workers = fig.get("worker_peak_mb")
            print(
                f"  {mode:>14}: {fig['wall_s']:6.1f} s wall (load {fig['load']:.1f}), driver "
                f"{fig['driver_cpu_s']:5.1f} CPU-s, peak "
                f"{fig['driver_peak_mb']:6.0f} MiB"
                + (
                    f", worker peaks {', '.join(f'{w:.0f}' for w in workers)} MiB"
                    if workers
                    else ""
                )
                + f"; {fig['positions']:,} positions, {fig['calls']:,} calls, "
                f"{fig['transits']:,} transits"
            )
            print(f"  {'':>14}  events {fig['events']}")
            if "map_cpu_s_per_m" in fig:
                print(
                    f"  {'steps':>14}: per M positions, read+split {fig['map_cpu_s_per_m']:.2f} "
                    f"CPU-s, calls {fig['calls_cpu_s_per_m']:.2f}, behaviour parts "
                    f"{fig['behaviour_cpu_s_per_m']:.2f}, their merge "
                    f"{fig['merge_cpu_s_per_m']:.2f}; behaviour parts "
                    f"{fig['parts_bytes_per_position']:.1f} bytes a position "
                    f"(bucket of {fig['bucket_positions']:,})"
                )
        print(f"  same calls, transits and events in every run: {len(digests) == 1}")


if __name__ == "__main__":
    main()
