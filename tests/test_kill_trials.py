"""`kill -9` of real ingest, detect and report processes, at chosen moments and at random ones:
the next run always gives what one undisturbed run gives, and a report is always there."""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import polars as pl
import pytest
from processes import kill, pause_at, run, start, wait_for

from monitor.config import Settings, load_config, shipped_config_path
from monitor.pipeline.detect import detect_calls
from monitor.pipeline.ingest import ingest_paths
from monitor.simulate import simulate
from monitor.store.calls import load_calls
from monitor.store.parquet import Store

SINCE, UNTIL = "2024-03-04T00:00", "2024-03-05T00:00"
FOLDER = "20240304T0000Z_20240305T0000Z"


def _settings(store: Path) -> Settings:
    config = load_config(shipped_config_path("korea"))
    return config.model_copy(update={"store": config.store.model_copy(update={"path": store})})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a folder with a simulated day (``sim/nmea``) and, from it, undisturbed runs:
    ``ingested/`` (a store after one ingest) and ``detected/`` (the same, after detect)."""
    root = tmp_path_factory.mktemp("world")
    simulate(_settings(root / "unused"), days=1, vessels=12, seed=5, output=root / "sim")
    ingest_paths([root / "sim" / "nmea"], _settings(root / "ingested"))
    shutil.copytree(root / "ingested", root / "detected")
    detect_calls(_settings(root / "detected"))
    return root


def _rows(store: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    positions = Store(store).scan_positions().collect().drop("source")
    statics = Store(store).scan_statics().collect().drop("source")
    manifest = Store(store).read_manifest().select("n_lines", "n_positions", "n_statics")
    return (
        positions.sort(positions.columns),
        statics.sort("mmsi", "timestamp_utc", "msg_key"),
        manifest.sort(manifest.columns),
    )


def _ingest_args(world: Path, store: Path) -> list[str]:
    config = str(shipped_config_path("korea"))
    return ["--config", config, "ingest", str(world / "sim" / "nmea"), "--store", str(store)]


def _killed(args: list[str], log: Path, moment: str | float, pause: Path) -> None:
    """Run ``monitor ARGS`` and kill it with SIGKILL at ``moment``: a pause point (see
    processes.pause_at) or a number of seconds."""
    if isinstance(moment, str):
        process = start(*args, log=log, **pause_at(moment, pause))
        wait_for(lambda: (pause / "paused").exists() or process.poll() is not None)
        assert process.poll() is None, log.read_text()
    else:
        process = start(*args, log=log)
        time.sleep(moment)
    kill(process)


@pytest.mark.parametrize(
    "moment",
    [
        "monitor.store.parquet:atomic_write_parquet:part-*",  # before the first rows
        "monitor.store.table:atomic_write_parquet:manifest.parquet:2",  # rows in, not recorded
        random.Random(1).uniform(0.5, 3.0),
    ],
)
def test_a_killed_ingest_is_finished_by_the_next(
    world: Path, tmp_path: Path, moment: str | float
) -> None:
    store = tmp_path / "store"
    _killed(_ingest_args(world, store), tmp_path / "killed.log", moment, tmp_path / "pause")
    run(*_ingest_args(world, store))
    got, expected = _rows(store), _rows(world / "ingested")
    assert got[0].equals(expected[0])
    assert got[1].equals(expected[1])
    assert got[2].equals(expected[2])


@pytest.mark.parametrize(
    "moment",
    ["monitor.store.table:atomic_write_parquet:calls.parquet", random.Random(2).uniform(0.5, 2)],
)
def test_a_killed_detect_is_finished_by_the_next(
    world: Path, tmp_path: Path, moment: str | float
) -> None:
    store = tmp_path / "store"
    shutil.copytree(world / "ingested", store)
    args = ["--config", str(shipped_config_path("korea")), "detect", "--store", str(store)]
    _killed(args, tmp_path / "killed.log", moment, tmp_path / "pause")
    run(*args)
    assert load_calls(store).equals(load_calls(world / "detected"))


def _report_args(world: Path, out: Path) -> list[str]:
    args = ["--config", str(shipped_config_path("korea")), "report", "--store"]
    args += [str(world / "detected"), "--since", SINCE, "--until", UNTIL, "--output", str(out)]
    return [*args, "--offline"]


@pytest.fixture(scope="module")
def reported(world: Path) -> Path:
    """Return a reports folder after one undisturbed report run."""
    out = world / "reported"
    run(*_report_args(world, out))
    return out


@pytest.mark.parametrize("moment", ["os:replace:" + FOLDER, random.Random(3).uniform(1, 4)])
def test_a_killed_report_leaves_the_previous_one(
    world: Path, reported: Path, tmp_path: Path, moment: str | float
) -> None:
    # The previous report, as a run left it (its links are relative: a copy is the same).
    out = tmp_path / "reports"
    shutil.copytree(reported, out, symlinks=True)
    args = _report_args(world, out)
    index = out / FOLDER / "index.html"
    before = index.read_text()
    _killed(args, tmp_path / "killed.log", moment, tmp_path / "pause")
    # The previous report, or the new one whole; never none.
    assert index.read_text() in (before, (out / FOLDER / "index.html").read_text())
    assert "</html>" in index.read_text()
    run(*args)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".lock", ".lock.json", ".versions", FOLDER, "index.html", "manifest.json"]
    )
    assert len(list((out / ".versions").iterdir())) == 1
