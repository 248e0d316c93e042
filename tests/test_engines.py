"""Detection by vessel buckets: in this process and on a real local Dask cluster, the same tables
as one detection over every position, for any number of buckets."""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from test_calls import make_settings
from test_space_time import reference_pairs, samples_near_edges
from tracks_events import MEETING_A, MEETING_B, meeting_across_edges
from tracks_portcalls import (
    ANCHOR,
    BERTH,
    IN_P,
    IN_Q,
    SEA_EAST,
    SEA_WEST,
    T0,
    Track,
    positions,
    statics,
)

from monitor.analyse.events import events_table
from monitor.analyse.geofences import load_zones
from monitor.cli import main
from monitor.config import EngineSettings, Settings
from monitor.errors import ConfigError
from monitor.pipeline import dask_engine, ledger, placing
from monitor.pipeline.buckets import (
    COLUMNS,
    BucketJob,
    buckets_of,
    combine,
    file_slices,
    plan_buckets,
    split_slice,
)
from monitor.pipeline.dask_engine import BYTES_PER_POSITION, DaskEngine, run_on, waves
from monitor.pipeline.detect import DetectSummary, detect_calls
from monitor.pipeline.engines import MERGE_FAN_IN, LocalEngine
from monitor.pipeline.space_time import SpaceTimeGrid, close_pairs, split_partitions
from monitor.schema import POSITIONS_SCHEMA
from monitor.store.calls import (
    CALLS,
    CONCURRENT,
    JUMPS,
    PENDING,
    RAW_CALLS,
    TRACKS,
    TRANSITS,
)
from monitor.store.events import EVENTS
from monitor.store.parquet import Store, live_files
from monitor.store.table import atomic_write_parquet

PLACES = [IN_P, IN_Q, BERTH, ANCHOR, SEA_EAST, SEA_WEST]
#: Every table a detection writes.
TABLES = [CALLS, RAW_CALLS, TRANSITS, PENDING, TRACKS, JUMPS, CONCURRENT, EVENTS]


def _fleet(n_vessels: int, seed: int) -> pl.DataFrame:
    """Return the positions of ``n_vessels`` sailing between ports P and Q and the sea."""
    rng = random.Random(seed)
    tracks = []
    for i in range(n_vessels):
        # Consecutive MMSIs of one country, as a fleet's are.
        track = Track(273_000_000 + i, start=T0 + timedelta(minutes=rng.randrange(600)))
        track.fix(*rng.choice(PLACES), 10)
        for _ in range(rng.randrange(3, 8)):
            step = rng.random()
            if step < 0.5:
                track.sail(rng.choice(PLACES), rng.uniform(0.5, 4), every_min=rng.choice([5, 10]))
            elif step < 0.85:
                track.stay(track.here or IN_P, rng.uniform(0.5, 6), sog=rng.choice([0.0, 0.3]))
            else:
                track.silence(rng.uniform(1, 8))
        tracks.append(track)
    # Two ships broadcasting one MMSI at once, in ports P and Q, and a ship whose fixes jump
    # 50 km away for three reports and come back.
    shared = 273_000_777
    tracks.append(Track(shared).stay(IN_P, 6, sog=0.0))
    tracks.append(Track(shared, start=T0 + timedelta(minutes=5)).stay(IN_Q, 6, sog=0.0))
    jumpy = Track(273_000_888).stay(IN_Q, 2, sog=0.0)
    for _ in range(3):
        jumpy.fix(1.5, 0.45, 0.0)
    tracks.append(jumpy.stay(IN_Q, 2, sog=0.0))
    return positions(*tracks)


#: The fleet, and two vessels that meet across edges of the encounters' space-time partitions.
FLEET = pl.concat([_fleet(40, seed=7), positions(*meeting_across_edges())])


def _by_day(frame: pl.DataFrame) -> dict[tuple[object, ...], pl.DataFrame]:
    days = frame.with_columns(day=pl.col("timestamp_utc").dt.date())
    return days.partition_by("day", as_dict=True, include_key=False)


def _write(root: Path, frame: pl.DataFrame, files_per_day: int) -> None:
    """Write ``frame`` into a store as day partitions of several files each, in time order."""
    store = Store(root)
    frame = frame.sort("timestamp_utc").with_columns(
        msg_key=pl.int_range(pl.len(), dtype=pl.UInt64), source=pl.lit("test")
    )
    for (day,), part in _by_day(frame).items():
        assert isinstance(day, date)
        size = -(-part.height // files_per_day)
        for i, chunk in enumerate(part.iter_slices(size)):
            atomic_write_parquet(chunk, store.partition_dir(day) / f"part-{i}.parquet")
    ship = statics([{"mmsi": 273_000_001, "timestamp_utc": T0, "vessel_name": "FIRST"}])
    atomic_write_parquet(ship, store.statics_dir / "part-0.parquet")


def _tables(settings: Settings, summary: DetectSummary | None = None) -> dict[str, pl.DataFrame]:
    """Return the detector's tables in the store, and the summary of the run that wrote them."""
    root = settings.store.path
    found = {table.name: table.read(root) for table in TABLES}
    if summary is not None:
        found["summary"] = pl.DataFrame([summary.to_dict()])
    return found


def _same(found: dict[str, pl.DataFrame], plain: dict[str, pl.DataFrame]) -> bool:
    return found.keys() <= plain.keys() and all(found[k].equals(plain[k]) for k in found)


def _with_engine(settings: Settings, **engine: object) -> Settings:
    return settings.model_copy(update={"engine": EngineSettings.model_validate(engine)})


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    """The tables of one detection over every position at once (one bucket)."""
    settings = make_settings(tmp_path_factory.mktemp("plain"))
    _write(Path(settings.store.path), FLEET, files_per_day=1)
    found = _tables(settings, detect_calls(_with_engine(settings, partitions=1)))
    assert found[RAW_CALLS.name].height >= 20 and found[TRANSITS.name].height >= 5
    assert found[CONCURRENT.name].height >= 1 and found[JUMPS.name].height >= 1
    assert {"shared_mmsi", "position_jump"} <= set(found[EVENTS.name]["kind"])
    assert {"gap", "encounter", "loitering"} <= set(found[EVENTS.name]["kind"])
    meeting = found[EVENTS.name].filter(mmsi=MEETING_A, other_mmsi=MEETING_B)
    assert meeting["kind"].to_list() == ["encounter"]
    return found


@pytest.fixture
def store(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path)
    _write(Path(settings.store.path), FLEET, files_per_day=3)
    return settings


def test_buckets_spread_a_countrys_consecutive_mmsis_evenly() -> None:
    mmsi = np.arange(273_000_000, 273_010_000, dtype=np.uint32)
    for n in (1, 7, 10, 64):
        bucket = buckets_of(mmsi, n)
        assert bucket.min() == 0 and bucket.max() == n - 1
        counts = np.bincount(bucket, minlength=n)
        assert counts.max() <= 1.2 * len(mmsi) / n
    # Knuth's multiplicative hash, in exact integers: the same bucket in every process.
    for mmsi_one in (0, 273_000_123, 999_999_999):
        hashed = mmsi_one * 2_654_435_761 % 2**32
        assert buckets_of(np.array([mmsi_one]), 10).tolist() == [hashed * 10 >> 32]


def test_split_keeps_file_order_within_each_bucket(store: Settings) -> None:
    files = [str(f) for f in live_files(Path(store.store.path) / "positions" / f"date={T0.date()}")]
    [part, *_] = file_slices(files, max_rows=10_000)
    pieces = split_slice(part, 5)
    whole = pl.read_parquet(part.path).select(COLUMNS)
    assert sum(p.num_rows for p in pieces) == whole.height
    for bucket, piece in enumerate(pieces):
        expected = whole.filter(pl.Series(buckets_of(whole["mmsi"].to_numpy(), 5) == bucket))
        got = pl.from_arrow(piece)
        assert isinstance(got, pl.DataFrame) and got.equals(expected)


@pytest.mark.parametrize("partitions", [2, 5, 40])
def test_local_buckets_give_the_plain_detection(
    store: Settings, plain: dict[str, pl.DataFrame], partitions: int
) -> None:
    assert _same(_tables(store, detect_calls(_with_engine(store, partitions=partitions))), plain)


def test_buckets_sized_by_positions_give_the_plain_detection(
    store: Settings, plain: dict[str, pl.DataFrame]
) -> None:
    summary = detect_calls(_with_engine(store, partition_positions=700))
    assert _same(_tables(store, summary), plain)


def test_files_a_compaction_replaced_are_not_read_again(
    store: Settings, plain: dict[str, pl.DataFrame]
) -> None:
    db = Store(store.store.path)
    folder = Path(store.store.path) / "positions" / f"date={T0.date()}"
    before = sorted(folder.glob("*.parquet"))
    db.compact(folder)
    # The replaced files stay on disk for readers that listed them before.
    assert all(f.exists() for f in before) and len(live_files(folder)) == 1
    assert _same(_tables(store, detect_calls(_with_engine(store, partitions=3))), plain)


def test_incremental_run_in_buckets_equals_the_plain_detection(
    tmp_path: Path, plain: dict[str, pl.DataFrame]
) -> None:
    settings = _with_engine(make_settings(tmp_path), partitions=4)
    early = FLEET.filter(pl.col("timestamp_utc") < T0 + timedelta(hours=12))
    _write(Path(settings.store.path), early, files_per_day=2)
    detect_calls(settings)
    late = FLEET.filter(pl.col("timestamp_utc") >= T0 + timedelta(hours=12))
    for (day,), part in _by_day(late).items():
        assert isinstance(day, date)
        atomic_write_parquet(part, Store(settings.store.path).partition_dir(day) / "late.parquet")
    assert not detect_calls(settings).full_run
    assert _same(_tables(settings), plain)


# ---------------------------------------------------------------------------------------------
# A real Dask cluster on loopback


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a local Dask cluster of two worker processes, for the module's tests."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield str(cluster.scheduler_address)


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_dask_cluster_gives_the_plain_detection(
    store: Settings, plain: dict[str, pl.DataFrame], scheduler: str, partitions: int
) -> None:
    settings = _with_engine(store, kind="dask", scheduler=scheduler, partitions=partitions)
    assert _same(_tables(store, detect_calls(settings)), plain)


def test_cli_detect_on_a_dask_cluster(
    store: Settings, plain: dict[str, pl.DataFrame], scheduler: str
) -> None:
    geofences = store.geofences.files[0]
    result = CliRunner().invoke(
        main,
        [
            "detect",
            "--store",
            str(store.store.path),
            "--geofences",
            str(geofences),
            "--engine",
            "dask",
            "--scheduler",
            scheduler,
            "--partitions",
            "4",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert _same(_tables(store), plain)


def test_scheduler_addresses_are_checked() -> None:
    assert EngineSettings(kind="dask", scheduler="tcp://10.0.0.5:8786").scheduler
    assert EngineSettings(kind="dask", scheduler="local:4").scheduler == "local:4"
    for bad in ("10.0.0.5:8786", "local:0", "local:two", "http://host:8786"):
        with pytest.raises(ValueError, match="must be tcp://HOST:PORT"):
            EngineSettings(kind="dask", scheduler=bad)


def test_unreachable_scheduler_is_a_clear_error(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens there: the client gives up when its timeout ends, here sooner.
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT", "2s")
    settings = _with_engine(store, kind="dask", scheduler="tcp://127.0.0.1:9")
    with pytest.raises(ConfigError, match=r"no Dask scheduler answers at tcp://127\.0\.0\.1:9"):
        detect_calls(settings)
    shutil.rmtree(Path(store.store.path) / "calls", ignore_errors=True)


@pytest.mark.parametrize("block_deg", [0.5, 5.0])
def test_pairs_across_partition_edges_on_a_dask_cluster(scheduler: str, block_deg: float) -> None:
    distributed = pytest.importorskip("distributed")
    grid = SpaceTimeGrid(reach_m=2000.0, overlap_h=0.5, block_deg=block_deg, window_h=1.0)
    samples = samples_near_edges(seed=11)
    parts = split_partitions(samples, grid)
    with distributed.Client(scheduler) as client:
        found = client.gather([client.submit(close_pairs, part, grid) for part in parts])
    pairs = pl.concat(found).select("row_a", "row_b").sort("row_a", "row_b")
    expected = reference_pairs(samples, grid)
    assert len(parts) > 4 and expected.height > 50
    assert pairs.equals(expected)


def test_buckets_in_waves_on_a_dask_cluster_give_the_detection_of_one_process(
    store: Settings, scheduler: str
) -> None:
    distributed = pytest.importorskip("distributed")
    settings = _with_engine(store, partitions=7)
    files = [str(f) for f in Store(settings.store.path).position_files()]
    counts = FLEET.group_by("mmsi").agg(n_positions=pl.len())
    plan = plan_buckets(file_slices(files, 1000), counts, settings.engine)
    job = BucketJob.of(load_zones(settings), settings)
    # Room for the pieces of three buckets at a time: waves of 3, 3 and 1.
    room = 3 * (FLEET.height // 7) * BYTES_PER_POSITION
    assert [list(w) for w in waves(7, FLEET.height, room)] == [[0, 1, 2], [3, 4, 5], [6]]
    with distributed.Client(scheduler) as client:
        found = combine(run_on(client, plan, job, shuffle_bytes=room))
    here = combine(LocalEngine().run(plan, job))
    for name in ("calls", "transits", "pending", "tracks", "jumps"):
        assert getattr(found.detection, name).equals(getattr(here.detection, name))
    assert found.concurrent.equals(here.concurrent) and found.detection.calls.height > 20


def test_vessel_counts_here_and_on_a_dask_cluster_equal_one_scan(
    tmp_path: Path, scheduler: str
) -> None:
    distributed = pytest.importorskip("distributed")
    _write(tmp_path, FLEET, files_per_day=12)
    db = Store(tmp_path)
    files = db.position_files()
    expected = (
        db.scan_positions(files)
        .filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
        .group_by("mmsi")
        .agg(
            n_positions=pl.len().cast(pl.UInt64),
            first_utc=pl.col("timestamp_utc").min(),
            last_utc=pl.col("timestamp_utc").max(),
        )
        .sort("mmsi")
        .collect()
    )
    # More slices than are added up at once: more than one level of merges.
    slices = file_slices([str(f) for f in files], 100)
    assert len(slices) > MERGE_FAN_IN
    assert LocalEngine().count(slices).equals(expected)
    with distributed.Client(scheduler) as client:
        assert DaskEngine(client).count(slices).equals(expected)


@settings(max_examples=30, deadline=None)
@given(
    fixes=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 12)), min_size=1, max_size=40),
    starts=st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 14)), min_size=1, max_size=8),
)
def test_events_placed_from_the_nearest_positions_as_from_all(
    fixes: list[tuple[int, int]], starts: list[tuple[int, int]]
) -> None:
    # Positions of four vessels at whole hours: several at one time, and as near before as
    # after an event, are ties that the placing must settle as it does with every position.
    rows = pl.DataFrame(
        {
            "mmsi": [100 + v for v, _ in fixes],
            "timestamp_utc": [T0 + timedelta(hours=h) for _, h in fixes],
            "lat": [float(i) for i in range(len(fixes))],
            "lon": [float(h) for _, h in fixes],
        },
        schema_overrides={"mmsi": pl.UInt32},
    )
    events = pl.DataFrame(
        {
            "kind": ["identity_change"] * len(starts),
            "mmsi": [100 + v for v, _ in starts],
            "other_mmsi": [100 + (v + 1) % 4 if h % 2 else None for v, h in starts],
            "start_utc": [T0 + timedelta(hours=h) for _, h in starts],
        },
        schema_overrides={"mmsi": pl.UInt32, "other_mmsi": pl.UInt32},
    )
    placed = [
        events_table([events], positions=found, tracks=rows.clear(), zones=[], port_radius_km=50.0)
        for found in (rows, _nearest_from_days(rows, events))
    ]
    assert placed[0].equals(placed[1])


def _nearest_from_days(rows: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Return the positions placing reads for ``events`` from a store of ``rows`` by day."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        full = rows.with_columns(
            pl.lit(None, dtype).alias(c)
            for c, dtype in POSITIONS_SCHEMA.items()
            if c not in rows.columns
        ).select(list(POSITIONS_SCHEMA))
        for (day,), part in full.group_by(pl.col("timestamp_utc").dt.date()):
            assert isinstance(day, date)
            atomic_write_parquet(part, store.partition_dir(day) / "p.parquet")
        files = store.position_files()
        hours = ledger.changes(tmp, files, full=True)
        found = placing.nearest_positions(
            files,
            hours.ledger,
            placing.queries_of([events]),
            pl.DataFrame(schema=placing.PLACED_SCHEMA),
            hours.changed.clear(),
        )
    return found.select("mmsi", "timestamp_utc", "lat", "lon").unique()
