"""Store: dedup against stored days, atomic compaction with recovery, manifest, write lock."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import StoreError
from monitor.pipeline.buckets import file_slices, split_slice
from monitor.schema import MANIFEST_SCHEMA, POSITIONS_SCHEMA, STATICS_SCHEMA
from monitor.store import parquet as store_mod
from monitor.store.parquet import Store, drop_repeats, live_files

T0 = dt.datetime(2024, 5, 1, 23, 59, 30, tzinfo=dt.UTC)


def positions(rows: list[tuple[int, int, float]], source: str = "a") -> pl.DataFrame:
    """Rows of (mmsi, msg_key, seconds after T0)."""
    return pl.DataFrame(
        {
            "mmsi": [r[0] for r in rows],
            "timestamp_utc": [T0 + dt.timedelta(seconds=r[2]) for r in rows],
            "lat": [1.0] * len(rows),
            "lon": [2.0] * len(rows),
            "msg_key": [r[1] for r in rows],
            "source": [source] * len(rows),
        }
    ).select(
        [
            pl.col(c).cast(t)
            if c in ("mmsi", "timestamp_utc", "lat", "lon", "msg_key", "source")
            else pl.lit(None, dtype=t).alias(c)
            for c, t in POSITIONS_SCHEMA.items()
        ]
    )


def statics(rows: list[tuple[int, int, float, int | None]]) -> pl.DataFrame:
    """Rows of (mmsi, msg_key, seconds after T0, msg_type)."""
    base = {
        "mmsi": [r[0] for r in rows],
        "timestamp_utc": [T0 + dt.timedelta(seconds=r[2]) for r in rows],
        "msg_type": [r[3] for r in rows],
        "msg_key": [r[1] for r in rows],
        "source": ["s"] * len(rows),
    }
    return pl.DataFrame(base).select(
        [
            pl.col(c).cast(t) if c in base else pl.lit(None, dtype=t).alias(c)
            for c, t in STATICS_SCHEMA.items()
        ]
    )


def test_drop_repeats_keeps_the_earliest_reception_within_the_window() -> None:
    frame = positions([(1, 7, 10), (1, 7, 0), (1, 7, 200), (2, 7, 5), (1, 8, 1)])
    kept = drop_repeats(frame, 60).sort("mmsi", "msg_key", "timestamp_utc")
    seconds = [
        (r[0], r[1], (r[2] - T0).total_seconds())
        for r in kept.select("mmsi", "msg_key", "timestamp_utc").iter_rows()
    ]
    assert seconds == [(1, 7, 0.0), (1, 7, 200.0), (1, 8, 1.0), (2, 7, 5.0)]


def test_add_positions_partitions_by_day_and_skips_stored_messages(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.add_positions(positions([(1, 7, 0), (1, 8, 60)]), 60) == {"a": 2}
    days = sorted(p.name for p in store.positions_dir.iterdir())
    assert days == ["date=2024-05-01", "date=2024-05-02"]
    # Same message 45 s later from another receiver, across midnight: already stored.
    again = positions([(1, 7, 45), (1, 7, 600), (2, 7, 0)], source="b")
    assert store.add_positions(again, 60) == {"b": 2}
    stored = store.scan_positions().collect()
    assert stored.height == 4
    assert stored.schema == pl.Schema(POSITIONS_SCHEMA)
    assert store.add_positions(again, 60) == {}


def test_compaction_keeps_every_row_and_old_files_until_the_grace_period(tmp_path: Path) -> None:
    store = Store(tmp_path)
    n = store_mod.MAX_FILES_PER_PARTITION + 2
    for i in range(n):
        store.add_positions(positions([(i + 1, i, 10)]), 60)
    folder = store.partition_dir(dt.date(2024, 5, 1))
    assert 1 <= len(live_files(folder)) <= 2
    assert len(list(folder.glob("*.parquet"))) > len(live_files(folder))
    assert store.scan_positions().collect().height == n
    with store.writer():  # within the grace period: replaced files stay for readers
        pass
    assert len(list(folder.glob("*.parquet"))) > len(live_files(folder))
    store.purge_replaced(grace_s=0)
    assert sorted(folder.glob("*.parquet")) == live_files(folder)
    assert not list(folder.glob("_compaction-*.json"))
    assert store.scan_positions().collect().height == n


def test_a_compacted_day_is_by_vessel_and_a_few_vessels_read_only_their_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingests write a day's rows in time order; its compaction rewrites them by vessel and
    time, in row groups whose statistics let a reader of a few vessels skip the others'."""
    monkeypatch.setattr(store_mod, "COMPACT_ROW_GROUP", 50)
    store = Store(tmp_path)
    for batch in range(4):
        rows = [
            (m, batch * 1000 + m * 10 + k, 100.0 + batch * 300 + k * 60 + m)
            for k in range(5)
            for m in range(1, 41)
        ]
        store.add_positions(positions(rows), 1)
    folder = store.partition_dir(dt.date(2024, 5, 2))
    store.compact(folder)
    (path,) = live_files(folder)
    stored = pl.read_parquet(str(path))
    assert stored.height == 800
    assert stored.equals(stored.sort("mmsi", "timestamp_utc"))
    assert pq.read_metadata(path).num_row_groups == 16
    wanted = pa.table({"mmsi": pa.array([7, 8], pa.uint32())})
    slices = file_slices([str(path)], 10_000, vessels=[7, 8])
    assert sum(s.n_rows for s in slices) <= 100  # two row groups of 50 at most, of 16
    got = pl.DataFrame(
        pa.concat_tables(t for s in slices for t in split_slice(s, 1, vessels=wanted))
    )
    want = stored.filter(pl.col("mmsi").is_in([7, 8])).select(got.columns)
    assert got.sort(pl.all()).equals(want.sort(pl.all()))
    assert sum(s.n_rows for s in file_slices([str(path)], 10_000)) == 800


def _four_files(tmp_path: Path) -> tuple[Store, Path]:
    store = Store(tmp_path)
    for i in range(4):
        store.add_positions(positions([(i + 1, i, 10)]), 60)
    return store, tmp_path / "positions" / "date=2024-05-01"


def test_compaction_killed_before_its_output_appears_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, folder = _four_files(tmp_path)
    real_replace = os.replace

    def killed(src: str | Path, dst: str | Path) -> None:
        if str(dst).endswith(".parquet"):
            raise KeyboardInterrupt
        real_replace(src, dst)

    # The store calls os.replace through the os module: patching it there reaches it.
    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.compact(folder)
    monkeypatch.undo()
    assert list(folder.glob("_compaction-*.json")) and list(folder.glob(".*.tmp"))
    assert store.scan_positions().collect().height == 4  # the old files are still live
    with store.writer():
        pass
    assert not list(folder.glob("_compaction-*.json")) and not list(folder.glob(".*"))
    assert len(live_files(folder)) == 4
    assert store.scan_positions().collect().height == 4


def test_a_listing_taken_before_the_output_appears_keeps_the_old_files(tmp_path: Path) -> None:
    _store, folder = _four_files(tmp_path)
    old = live_files(folder)
    # A journal whose output is not (yet) in the folder replaces nothing.
    (folder / "_compaction-x.json").write_text(
        json.dumps({"output": "part-new.parquet", "inputs": [p.name for p in old]})
    )
    assert live_files(folder) == old
    (folder / "part-new.parquet").write_bytes(old[0].read_bytes())
    assert live_files(folder) == [folder / "part-new.parquet"]


def test_statics_dedup_by_window_and_csv_identities_at_any_time(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.add_statics(statics([(1, 5, 0, 5), (1, 99, 0, None)]), 60) == {"s": 2}
    later = statics([(1, 5, 30, 5), (1, 5, 3600, 5), (1, 99, 3600, None)])
    assert store.add_statics(later, 60) == {"s": 1}
    assert store.scan_statics().collect().height == 3


def test_statics_without_identities_match_stored_rows_near_their_times(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.add_statics(statics([(1, 5, 0, 5), (2, 6, 7200, 24)]), 60) == {"s": 2}
    # Only timed rows: the lookup reads stored rows near the batch's times only.
    later = statics([(1, 5, 50, 5), (2, 6, 7230, 24), (1, 5, 3600, 5)])
    assert store.add_statics(later, 60) == {"s": 1}
    stored = store.scan_statics().collect().sort("timestamp_utc")
    assert [(t - T0).total_seconds() for t in stored["timestamp_utc"]] == [0.0, 3600.0, 7200.0]


def test_drop_repeats_keeps_the_order_of_the_rows_it_keeps() -> None:
    frame = positions([(3, 1, 20), (1, 7, 10), (2, 2, 0), (1, 7, 0), (4, 4, 5)])
    kept = drop_repeats(frame, 60)
    assert kept["mmsi"].to_list() == [3, 2, 1, 4]
    assert kept.filter(pl.col("mmsi") == 1)["timestamp_utc"].to_list() == [T0]


def test_drop_repeats_keeps_the_first_of_equal_times_and_rows_with_a_null_key() -> None:
    frame = pl.concat([positions([(1, 7, 5)], source="first"), positions([(1, 7, 5), (1, 7, 0)])])
    assert drop_repeats(frame, 60)["source"].to_list() == ["a"]
    in_order = pl.concat([positions([(1, 7, 0)], source="first"), positions([(1, 7, 0)])])
    assert drop_repeats(in_order, 60)["source"].to_list() == ["first"]
    nulls = positions([(1, 7, 0), (1, 7, 1), (1, 7, 2)]).with_columns(
        msg_key=pl.Series([7, None, None], dtype=pl.UInt64)
    )
    assert drop_repeats(nulls, 60).height == 3


def test_add_positions_counts_rows_per_source(tmp_path: Path) -> None:
    store = Store(tmp_path)
    frame = pl.concat([positions([(1, 7, 0), (2, 7, 0)], "a"), positions([(3, 7, 0)], "b")])
    assert store.add_positions(frame, 60) == {"a": 2, "b": 1}


def test_each_day_file_is_sorted_by_time(tmp_path: Path) -> None:
    store = Store(tmp_path)
    rows = [(m, m, float(s)) for m, s in enumerate([90, 10, 40, -20, 0, 25, 80, 5])]
    assert store.add_positions(positions(rows), 60) == {"a": 8}
    for day, count in (("2024-05-01", 5), ("2024-05-02", 3)):
        (path,) = (tmp_path / "positions" / f"date={day}").glob("*.parquet")
        times = pl.read_parquet(path)["timestamp_utc"]
        assert times.len() == count
        assert times.is_sorted()
        assert {t.date().isoformat() for t in times} == {day}


def test_manifest_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.read_manifest().height == 0
    row = {name: None for name in MANIFEST_SCHEMA} | {"input": "f", "fingerprint": "ab"}
    store.write_manifest(pl.DataFrame([row], schema=MANIFEST_SCHEMA))
    assert store.read_manifest()["input"].to_list() == ["f"]
    store.manifest_path.write_bytes(b"garbage")
    with pytest.raises(StoreError, match="unreadable manifest"):
        store.read_manifest()


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with (
        store.writer(),
        pytest.raises(StoreError, match="another ingest"),
        Store(tmp_path).writer(),
    ):
        pass
    with store.writer():
        pass


def test_recover_removes_temp_files(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add_positions(positions([(1, 1, 0)]), 60)
    folder = store.partition_dir(dt.date(2024, 5, 1))
    (folder / ".part-x.parquet.tmp").write_bytes(b"half")
    (folder / "_compaction-1.json").write_text(
        json.dumps({"output": "missing.parquet", "inputs": []})
    )
    with store.writer():
        pass
    assert sorted(p.name for p in folder.iterdir()) == [
        p.name for p in folder.glob("part-*.parquet")
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 3), st.integers(0, 300)), max_size=40))
def test_drop_repeats_matches_a_plain_reference(rows: list[tuple[int, int, int]]) -> None:
    kept = drop_repeats(positions([(m, k, float(s)) for m, k, s in rows]), 60)
    # A row repeats the last row of its message kept, if within the window.
    expected = []
    kept_at: dict[tuple[int, int], int] = {}
    for m, k, s in sorted(rows):
        if (m, k) not in kept_at or s - kept_at[m, k] > 60:
            expected.append((m, k, s))
            kept_at[m, k] = s
    got = sorted(
        (m, k, int((t - T0).total_seconds()))
        for m, k, t in kept.select("mmsi", "msg_key", "timestamp_utc").iter_rows()
    )
    assert got == expected
