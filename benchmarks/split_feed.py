"""Detection cycles over a real week against one batch run: the same tables, and what each cost.

    python benchmarks/split_feed.py [--week socal|nyharbor] [--hours 12] [--cycles 14]

Stores a real week from the shared data folder (``MONITOR_DATA``): the Southern California week
(``positions/derived/socal_2018-06-01_07_marinecadastre.csv.gz``, the default) or the New York
harbour week (``positions/tracktable_NYHarbor_2020_12_first_week.traj.gz``, no SOG), part after
part, ``--hours`` of it each, with a detection after each part, then detects the whole week at
once in a second store. Prints per
cycle its time and what it did (vessels changed and resumed, positions read, close-pair windows
searched), and whether each table of the two stores is equal (calls, raw calls, transits,
pending visits, tracks, displaced runs, events, and the stored behaviour parts).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from detect import HERE, NY, SOCAL, read_socal, read_traj  # noqa: E402

from monitor.config import GeofenceSettings, Settings, StoreSettings  # noqa: E402
from monitor.pipeline import pairs_cycle  # noqa: E402
from monitor.pipeline.behaviour_buckets import close_pairs_by_window  # noqa: E402
from monitor.pipeline.behaviour_cycle import FOLDER, NAMES, read_tables  # noqa: E402
from monitor.pipeline.detect import detect_calls  # noqa: E402
from monitor.store.calls import JUMPS, PENDING, RAW_CALLS, TRACKS, TRANSITS, load_calls  # noqa: E402
from monitor.store.events import load_events  # noqa: E402
from monitor.store.table import atomic_write_parquet  # noqa: E402

GEOFENCES = HERE / "geofences" / "socal.geojson"


def _socal(path: Path) -> pl.DataFrame:
    return read_socal(path, course=True)


#: The real weeks: their positions, how to read them, and their ports.
WEEKS: dict[str, tuple[Path, Callable[[Path], pl.DataFrame], Path]] = {
    "socal": (SOCAL, _socal, GEOFENCES),
    "nyharbor": (NY, read_traj, HERE / "geofences" / "nyharbor.geojson"),
}


def store_part(store: Path, part: pl.DataFrame, name: str) -> None:
    """Store ``part`` as one more file in each of its days, as an ingest does."""
    for (day,), rows in part.group_by(pl.col("timestamp_utc").dt.date(), maintain_order=True):
        atomic_write_parquet(rows, store / "positions" / f"date={day}" / f"{name}.parquet")


def tables(store: Path) -> dict[str, pl.DataFrame]:
    """Return the calls, events and the detection's own tables of ``store``."""
    found = {"calls": load_calls(store), "events": load_events(store)}
    for table in (RAW_CALLS, TRANSITS, PENDING, TRACKS, JUMPS):
        found[table.title] = table.read(store)
    return {name: frame.sort(pl.all()) for name, frame in found.items()}


def stored_table(store: Path, name: str) -> pl.DataFrame:
    """Return the stored behaviour parts' table ``name`` (or another table of theirs), tracks
    by id, rows sorted."""
    found = read_tables(store)
    assert found is not None
    frame = found[name] if name in found else pl.read_parquet(store / FOLDER / f"{name}.parquet")
    if "track" in frame.columns:
        ids = found["tracks"]["track_id"].gather(frame["track"].cast(pl.Int64))
        frame = frame.with_columns(track=ids)
    return frame.sort(pl.all())


def settings_of(root: Path, geofences: Path = GEOFENCES) -> Settings:
    return Settings(
        store=StoreSettings(path=root / "store"), geofences=GeofenceSettings(files=[geofences])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--week", choices=sorted(WEEKS), default="socal")
    parser.add_argument("--hours", type=int, default=12)
    parser.add_argument("--cycles", type=int, default=14)
    args = parser.parse_args()
    path, read, geofences = WEEKS[args.week]
    if not path.is_file():
        print(f"{path} not found (set MONITOR_DATA): nothing to do")
        return
    week = read(path).sort("timestamp_utc")
    t0 = week["timestamp_utc"].min()
    slot = (pl.col("timestamp_utc") - t0).dt.total_hours() // args.hours
    parts = [p for _, p in week.group_by(slot.clip(0, args.cycles - 1), maintain_order=True)]
    searched: list[Any] = []

    def recorded(*a: Any, **k: Any) -> pl.DataFrame:
        searched.append(k.get("windows"))
        return close_pairs_by_window(*a, **k)

    setattr(pairs_cycle, "close_pairs_by_window", recorded)  # noqa: B010
    with tempfile.TemporaryDirectory() as tmp:
        split, batch = Path(tmp) / "split", Path(tmp) / "batch"
        print(f"{week.height:,} positions, {week['mmsi'].n_unique()} vessels, {len(parts)} cycles")
        for i, part in enumerate(parts):
            store_part(split / "store", part, f"part{i:03d}")
            started = time.perf_counter()
            summary = detect_calls(settings_of(split, geofences))
            took = time.perf_counter() - started
            windows = searched[-1] if searched else None
            print(
                f"  cycle {i + 1:2d}: {took:5.1f} s, {part.height:7,} new positions, "
                f"{summary.vessels_processed:4d} vessels changed, {summary.vessels_resumed:4d} "
                f"resumed, {summary.positions_processed:9,} positions detected, "
                f"{summary.behaviour_resumed:4d} behaviour parts from a cut, pair windows "
                f"searched: {'all' if windows is None else len(windows)}"
            )
        store_part(batch / "store", week, "all")
        started = time.perf_counter()
        detect_calls(settings_of(batch, geofences))
        print(f"  batch: {time.perf_counter() - started:.1f} s")
        got, want = tables(split / "store"), tables(batch / "store")
        for name, frame in want.items():
            same = got[name].equals(frame)
            print(f"  {name:16} {frame.height:6,} rows  {'identical' if same else 'DIFFERENT'}")
            if not same:
                extra = got[name].join(frame, on=frame.columns, how="anti", nulls_equal=True)
                print(f"    {extra.height} rows only in the cycles, e.g. {extra.head(3)}")
        # along, features: what the grids told of the silences.
        for name in (*NAMES, "along", "features"):
            if name == "usual":  # how often each interval occurs before a cut: cycle state
                continue
            kept, whole = stored_table(split / "store", name), stored_table(batch / "store", name)
            if name == "loiter_points":
                # Kept while a run may go on past its vessel's cut (which cycles move).
                whole = whole.join(kept, on=["track_id", "run_utc"], how="semi")
            print(f"  stored {name:9} {'identical' if kept.equals(whole) else 'DIFFERENT'}")
        kinds = want["events"].group_by("kind").len().sort("kind")
        print("  events: " + ", ".join(f"{k} {n}" for k, n in kinds.iter_rows()))


if __name__ == "__main__":
    main()
