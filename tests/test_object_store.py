"""A store in an S3-compatible object store: a real S3 server (moto's) on loopback, started by
the tests, gives the same store, calls and locks as a local folder."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from simulate_fixtures import write_config

from monitor.cli import main
from monitor.config import EngineSettings, Settings, StoreSettings, load_config
from monitor.errors import ConfigError, StoreError
from monitor.pipeline.detect import detect_calls
from monitor.simulate import simulate
from monitor.store.calls import RAW_CALLS, TRANSITS, load_calls
from monitor.store.fs import store_path
from monitor.store.object_lock import ANALYSIS_OBJECT, WRITER_OBJECT
from monitor.store.parquet import MAX_FILES_PER_PARTITION, Store, live_files

moto_server = pytest.importorskip("moto.server")
s3fs = pytest.importorskip("s3fs")

BUCKET = "monitor-test"


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """Return the URL of a bucket on an S3 server on 127.0.0.1, with the variables that reach
    it set as a user would set them."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "test")
        env.setenv("AWS_SECRET_ACCESS_KEY", "test")
        env.setenv("AWS_REGION", "us-east-1")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        s3fs.S3FileSystem(skip_instance_cache=True).mkdir(BUCKET)
        yield f"s3://{BUCKET}"
    server.stop()


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[Path]]:
    """Return a config with four ports and a day of simulated NMEA cut into ten files."""
    folder = tmp_path_factory.mktemp("feed")
    settings = load_config(write_config(folder))
    result = simulate(settings, days=1, vessels=8, seed=3, output=folder / "sim")
    lines = b"".join(p.read_bytes() for p in sorted((folder / "sim" / "nmea").glob("*.nmea")))
    rows = lines.splitlines(keepends=True)
    parts = []
    for i in range(10):
        part = folder / f"part-{i:02d}.nmea"
        part.write_bytes(b"".join(rows[i * len(rows) // 10 : (i + 1) * len(rows) // 10]))
        parts.append(part)
    assert result.n_position_reports > 1000 and result.n_calls > 0
    return settings, parts


def _ingest_and_detect(settings: Settings, store: str | Path, parts: list[Path]) -> None:
    for part in parts:
        result = CliRunner().invoke(
            main,
            ["ingest", str(part), "--store", str(store), "--config", str(settings.source_path)],
        )
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        main, ["detect", "--store", str(store), "--config", str(settings.source_path)]
    )
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def local_store(
    feed: tuple[Settings, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    settings, parts = feed
    root = tmp_path_factory.mktemp("local") / "store"
    _ingest_and_detect(settings, root, parts)
    return root


@pytest.fixture(scope="module")
def s3_store(s3: str, feed: tuple[Settings, list[Path]]) -> str:
    """Return the URL of a store in the bucket after the feed's ingests and a detect."""
    settings, parts = feed
    url = f"{s3}/cli"
    _ingest_and_detect(settings, url, parts)
    return url


def _positions(store: str | Path) -> pl.DataFrame:
    return Store(store).scan_positions().collect().sort("mmsi", "timestamp_utc", "msg_key")


def test_ingest_detect_and_calls_on_s3_equal_a_local_store(
    s3_store: str, local_store: Path
) -> None:
    url = s3_store
    assert _positions(url).equals(_positions(local_store))
    assert load_calls(url).height > 0
    assert load_calls(url).equals(load_calls(local_store))
    assert TRANSITS.read(url).equals(TRANSITS.read(local_store))
    listed = CliRunner().invoke(main, ["calls", "--store", url, "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    assert (
        listed.output
        == CliRunner()
        .invoke(main, ["calls", "--store", str(local_store), "--format", "csv"])
        .output
    )


def test_no_temp_objects_and_compaction_in_the_object_store(s3_store: str) -> None:
    url = s3_store
    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
    prefix = url.removeprefix("s3://")
    names = fs.find(prefix)
    assert names and not [n for n in names if n.endswith(".tmp") or "/." in n]
    assert f"{prefix}/{WRITER_OBJECT}" not in names
    # Ten ingests of one day's positions: more part files than a partition keeps, compacted.
    store = Store(url)
    [day] = [d for d in store.positions_dir.glob("date=*")]
    assert 1 <= len(live_files(day)) <= MAX_FILES_PER_PARTITION
    assert len(list(day.glob("*.parquet"))) > len(live_files(day))
    # Each compaction's output is by vessel and time.
    outputs = [json.loads(j.read_text())["output"] for j in day.glob("_compaction-*.json")]
    assert outputs
    for name in outputs:
        keys = pl.read_parquet(
            io.BytesIO((day / name).read_bytes()), columns=["mmsi", "timestamp_utc"]
        )
        assert keys.height and keys.equals(keys.sort("mmsi", "timestamp_utc"))


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(s3: str) -> None:
    url = f"{s3}/locked"
    held = r"another ingest \(pid \d+ on .*, since .* UTC\)"
    with Store(url).writer():
        with pytest.raises(StoreError, match=held), Store(url).writer():
            pass
        assert store_path(url).joinpath(WRITER_OBJECT).is_file()
    assert not store_path(url).joinpath(WRITER_OBJECT).exists()
    with Store(url).writer():
        pass


def test_the_lock_of_a_killed_writer_on_this_host_is_taken_over(s3: str) -> None:
    url = f"{s3}/stale"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    info = {
        "job": "ingest",
        "pid": int(gone.stdout),
        "host": socket.gethostname(),
        "since_utc": "2024-01-01T00:00:00+00:00",
        "token": "x",
    }
    store_path(url).joinpath(WRITER_OBJECT).write_text(json.dumps(info))
    with Store(url).writer():
        pass
    # One held by a live process elsewhere is not.
    info["host"] = "another-host"
    store_path(url).joinpath(WRITER_OBJECT).write_text(json.dumps(info))
    with pytest.raises(StoreError, match="if it was killed, delete s3://"), Store(url).writer():
        pass


def test_dask_workers_read_the_object_store(
    s3: str, s3_store: str, feed: tuple[Settings, list[Path]], local_store: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    settings, _ = feed
    url = f"{s3}/dask"
    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
    fs.copy(s3_store.removeprefix("s3://"), url.removeprefix("s3://"), recursive=True)
    # Workers started now get the variables that reach the server, as a cluster's would.
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        on_dask = settings.model_copy(
            update={
                "store": settings.store.model_copy(update={"path": url}),
                "engine": EngineSettings(
                    kind="dask", scheduler=cluster.scheduler_address, partitions=3
                ),
            }
        )
        (store_path(url) / "calls" / "state.json").unlink()
        assert detect_calls(on_dask).full_run
    assert RAW_CALLS.read(url).equals(RAW_CALLS.read(local_store))
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_a_second_detect_waits_for_the_first_then_runs(s3: str) -> None:
    url = f"{s3}/analysis"
    first = Store(url).analysis_writer("detect", wait_s=0)
    first.__enter__()
    with (
        pytest.raises(StoreError, match=r"another detect \(pid"),
        Store(url).analysis_writer("detect", wait_s=0),
    ):
        pass
    # The first ends while the second waits: the second gets the lock.
    releaser = threading.Timer(1.5, first.__exit__, args=(None, None, None))
    releaser.start()
    with Store(url).analysis_writer("detect", wait_s=30):
        assert not releaser.is_alive()
    assert not store_path(url).joinpath(ANALYSIS_OBJECT).exists()


def test_the_service_databases_need_a_local_store() -> None:
    on_s3 = StoreSettings(path="s3://bucket/prefix")
    assert on_s3.path == "s3://bucket/prefix"
    with pytest.raises(ConfigError, match=r"store.path s3://bucket/prefix: .*local"):
        on_s3.folder()
    assert StoreSettings(path="data/store").folder() == Path("data/store")
