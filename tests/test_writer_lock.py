"""One writer of analysis results at a time, and a detection checkpoint that never runs ahead."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from processes import ROOT, pause_at, run, start, wait_for
from tracks_portcalls import IN_P, SEA_EAST, SEA_WEST, T0, Track

from monitor.config import load_config
from monitor.errors import StoreError
from monitor.pipeline.detect import detect_calls
from monitor.pipeline.ingest import ingest_paths
from monitor.store.calls import load_calls
from monitor.store.locks import writer_lock

CONFIG = """
[store]
path = "store"

[[geofences.circles]]
id = "P"
name = "Port P"
lat = 0.05
lon = 0.05
radius_m = 6000
"""
#: The first ingest ends here: every vessel is in port then, and has left by the end.
SPLIT = T0 + timedelta(hours=9)

_HOLDER = """
import sys, time
from pathlib import Path
from monitor.store.locks import writer_lock
with writer_lock(Path(sys.argv[1]), job="detect"):
    Path(sys.argv[2]).touch()
    while not Path(sys.argv[3]).exists():
        time.sleep(0.01)
"""


def _hold(tmp_path: Path, lock: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start a process that holds ``lock`` until the returned file exists."""
    held, done = tmp_path / "held", tmp_path / "done"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(lock), str(held), str(done)], env=env
    )
    wait_for(held.exists)
    return holder, done


def test_a_second_writer_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "store" / ".analysis.lock"
    holder, done = _hold(tmp_path, lock)
    try:
        with pytest.raises(StoreError) as refused, writer_lock(lock, job="report", wait_s=0):
            pass
        message = str(refused.value)
        assert "detect" in message and f"pid {holder.pid}" in message
        started = time.monotonic()
        with (
            pytest.raises(StoreError, match=r"waited 0\.3 s"),
            writer_lock(lock, job="report", wait_s=0.3),
        ):
            pass
        assert time.monotonic() - started >= 0.3
    finally:
        done.touch()
        holder.wait(timeout=60)


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "store" / ".analysis.lock"
    holder, done = _hold(tmp_path, lock)
    threading.Timer(0.5, done.touch).start()
    started = time.monotonic()
    with writer_lock(lock, job="report", wait_s=60):
        assert holder.poll() is not None or time.monotonic() - started >= 0.4
    holder.wait(timeout=60)


def test_the_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    lock = tmp_path / "store" / ".analysis.lock"
    holder, _ = _hold(tmp_path, lock)
    holder.kill()
    holder.wait(timeout=60)
    with writer_lock(lock, job="detect", wait_s=0):
        pass


def _tracks() -> list[Track]:
    tracks = []
    for i in range(6):
        track = Track(273_000_000 + i, start=T0 + timedelta(minutes=7 * i))
        track.fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 10).sail(SEA_EAST, 3)
        tracks.append(track)
    return tracks


def _csv(rows: list[dict[str, object]], path: Path) -> Path:
    frame = pl.DataFrame(rows).select(
        MMSI="mmsi", BaseDateTime="timestamp_utc", LAT="lat", LON="lon", SOG="sog_kn"
    )
    frame.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S")
    return path


def _inputs(folder: Path) -> tuple[Path, Path]:
    rows = [row for track in _tracks() for row in track.rows]
    early = [r for r in rows if r["timestamp_utc"] < SPLIT]  # type: ignore[operator]
    late = [r for r in rows if r["timestamp_utc"] >= SPLIT]  # type: ignore[operator]
    return _csv(early, folder / "early.csv"), _csv(late, folder / "late.csv")


def _project(folder: Path) -> tuple[Path, Path, Path]:
    folder.mkdir()
    (folder / "config.toml").write_text(CONFIG)
    return folder / "config.toml", *_inputs(folder)


def _calls(config: Path) -> pl.DataFrame:
    return load_calls(config.parent / "store").select(
        "call_id", "mmsi", "arrival_utc", "departure_utc", "status"
    )


def test_overlapping_detects_with_an_ingest_between_leave_no_stale_calls(tmp_path: Path) -> None:
    # One undisturbed ingest and detect, in this process: what every later run must agree with.
    clean, early, late = _project(tmp_path / "clean")
    settings = load_config(clean)
    ingest_paths([early, late], settings)
    detect_calls(settings)
    expected = _calls(clean)
    assert expected.height == 6 and set(expected["status"]) == {"departed"}

    config, early, late = _project(tmp_path / "raced")
    run("--config", str(config), "ingest", str(early))
    # Detect A reads the early data, then stops just before it writes its results.
    pause_a, pause_b = tmp_path / "a", tmp_path / "b"
    write = "monitor.store.table:atomic_write_parquet"
    detect = ("--config", str(config), "detect")
    first = start(
        *detect, log=tmp_path / "a.log", **pause_at(f"{write}:raw_calls.parquet", pause_a)
    )
    wait_for((pause_a / "paused").exists)
    run("--config", str(config), "ingest", str(late))
    # Detect B starts meanwhile; given the chance, it would stop just before its checkpoint.
    second = start(
        *detect, log=tmp_path / "b.log", **pause_at(f"{write}:checkpoint.parquet", pause_b)
    )
    wait_for(
        lambda: (
            (pause_b / "paused").exists()
            or "waiting" in (tmp_path / "b.log").read_text(errors="replace")
        )
    )
    (pause_a / "go").touch()
    assert first.wait(timeout=120) == 0, (tmp_path / "a.log").read_text()
    (pause_b / "go").touch()
    assert second.wait(timeout=120) == 0, (tmp_path / "b.log").read_text()

    # Every later run agrees with one run over all the data.
    run("--config", str(config), "detect")
    assert _calls(config).equals(expected)
