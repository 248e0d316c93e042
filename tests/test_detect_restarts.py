"""Detection resumed from per-vessel restart points: exactly one batch run, reading little."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from detect_cycles import by_hours, cycles, detected_tables, ingest_part, shuttle, trader
from tracks_portcalls import IN_P, IN_Q, SEA_EAST, SEA_WEST, T0, Track, positions

from monitor.config import CircleZone, GapSettings, GeofenceSettings, Settings, StoreSettings
from monitor.pipeline import behaviour_cycle, behaviour_resume, pairs_cycle
from monitor.pipeline.behaviour_buckets import BehaviourJob, close_pairs_by_window
from monitor.pipeline.buckets import FileSlice, split_slice
from monitor.pipeline.detect import detect_calls
from monitor.pipeline.engines import behaviour_in_buckets
from monitor.store.calls import (
    CALLS,
    RESTARTS,
    load_calls,
)
from monitor.store.parquet import Store
from monitor.store.table import atomic_write_parquet

DAYS = 4
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A ship that sails between the two ports and stays in each (in port across many cuts).
TRADER = 366_000_101
#: Always at sea.
CRUISER = 366_000_102
#: One ship at sea, and a second one on the same MMSI for a while far away.
SHARED = 273_000_103
#: Two days in port P, then away.
RESIDENT = 412_000_104
#: At sea, with a lone bad fix far away now and then.
GLITCHY = 538_000_105
#: At sea, with bad fixes in bursts every six hours: more displaced runs than segmentation
#: remembers.
STRAYS = 538_000_106


def _fleet() -> pl.DataFrame:
    cruiser = Track(CRUISER).fix(*SEA_WEST, 11)
    while cruiser.t < T0 + timedelta(days=DAYS):
        cruiser.sail(SEA_EAST, 4, sog=11).sail(SEA_WEST, 4, sog=11)
    second = Track(SHARED, T0 + timedelta(days=1, hours=20, minutes=3)).fix(30.0, 10.0, 8)
    second.sail((30.2, 10.0), 9, sog=8)
    resident = Track(RESIDENT).fix(*SEA_EAST, 10).sail(IN_P, 2).stay(IN_P, 48, sog=0.0)
    resident.sail(SEA_WEST, 3)
    while resident.t < T0 + timedelta(days=DAYS):
        resident.sail(SEA_EAST, 5, sog=10).sail(SEA_WEST, 5, sog=10)
    glitchy = Track(GLITCHY).fix(-0.2, -0.4, 12)
    lon, k = -0.2, 0
    while glitchy.t < T0 + timedelta(days=DAYS):
        k += 1
        for step in range(30):
            if k % 5 == 0 and step == 15:
                glitchy.fix(5.0 + k, 5.0 - k, 12)
            else:
                lon += 0.003 if k % 2 else -0.003
                glitchy.fix(lon, -0.4, 12)
    strays = Track(STRAYS).fix(-0.2, -0.6, 12)
    lon, k = -0.2, 0
    while strays.t < T0 + timedelta(days=DAYS):
        k += 1
        if k % 36 < 3:
            strays.fix(-20.0 - k / 10 - 5 * (k % 36), -10.0, 12)
        else:
            lon += 0.003 if (k // 40) % 2 else -0.003
            strays.fix(lon, -0.6, 12)
    frame = positions(
        trader(TRADER, DAYS), cruiser, shuttle(SHARED, DAYS), second, resident, glitchy, strays
    )
    return frame.filter(pl.col("timestamp_utc") < T0 + timedelta(days=DAYS)).sort("timestamp_utc")


FLEET = _fleet()
CUT_H = 6


def _settings(root: Path) -> Settings:
    return Settings(
        store=StoreSettings(path=root / "store"),
        geofences=GeofenceSettings(
            circles=[
                CircleZone(id="P", name="Port P", lat=IN_P[1], lon=IN_P[0], radius_m=5000),
                CircleZone(id="Q", name="Port Q", lat=IN_Q[1], lon=IN_Q[0], radius_m=5000),
            ]
        ),
    )


def _short_windows(root: Path) -> Settings:
    """Return the settings with evidence windows of 6 h: the behaviour parts go on from cuts a
    few hours before the new positions (with a day's windows the fleet's four days would all be
    recent)."""
    return _settings(root).model_copy(update={"gaps": GapSettings(window_h=6.0)})


def _assert_same(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    for name, frame in want.items():
        assert got[name].equals(frame), name


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    root = tmp_path_factory.mktemp("batch")
    cycles(_settings(root), [FLEET])
    return detected_tables(root / "store")


def test_the_fleet_has_what_the_cuts_must_keep(batch: dict[str, pl.DataFrame]) -> None:
    calls = batch["calls"]
    assert calls.filter(pl.col("mmsi") == TRADER).height >= 2 * DAYS
    assert calls.filter(pl.col("mmsi") == RESIDENT).height == 1
    assert batch["tracks"].filter(pl.col("mmsi") == SHARED).height == 2
    assert batch["events"].filter(pl.col("kind") == "shared_mmsi")["mmsi"].to_list() == [SHARED]
    assert batch["displaced runs"].filter(pl.col("mmsi") == GLITCHY).height >= 3
    assert batch["displaced runs"].filter(pl.col("mmsi") == STRAYS).height > 32


def test_cycles_every_few_hours_resume_and_equal_one_batch(
    tmp_path: Path, batch: dict[str, pl.DataFrame]
) -> None:
    summaries = cycles(_settings(tmp_path), by_hours(FLEET, CUT_H))
    _assert_same(detected_tables(tmp_path / "store"), batch)
    later = summaries[len(summaries) // 2 :]
    # Vessels go on from their restart points, reading a few hours each, not their history
    # (the shared MMSI has none: its second transmitter was heard too recently).
    assert all(s.vessels_resumed >= 2 for s in later)
    assert sum(s.vessels_resumed for s in later) >= 3 * len(later)
    assert max(s.positions_processed for s in later) < FLEET.height / 2
    restarts = RESTARTS.read(tmp_path / "store")
    assert {TRADER, CRUISER, RESIDENT, GLITCHY, STRAYS} <= set(restarts["mmsi"].to_list())


def test_late_positions_before_a_restart_point_and_a_second_transmitter(
    tmp_path: Path, batch: dict[str, pl.DataFrame]
) -> None:
    # A day of the cruiser's and the glitchy ship's positions held back, and the second
    # transmitter of the shared MMSI delivered only at the end: both before restart points.
    late = (pl.col("timestamp_utc") >= T0 + timedelta(hours=26)) & (
        pl.col("timestamp_utc") < T0 + timedelta(hours=40)
    ) & pl.col("mmsi").is_in([CRUISER, GLITCHY]) | (
        (pl.col("mmsi") == SHARED) & (pl.col("lon") > 10)
    )
    parts = by_hours(FLEET.filter(~late), CUT_H)
    parts.append(FLEET.filter(late))
    summaries = cycles(_settings(tmp_path), parts)
    _assert_same(detected_tables(tmp_path / "store"), batch)
    assert summaries[-2].vessels_resumed >= 3


def test_restart_state_survives_a_new_process(
    tmp_path: Path, batch: dict[str, pl.DataFrame]
) -> None:
    parts = by_hours(FLEET, 24)
    cycles(_settings(tmp_path), parts[:-1])
    ingest_part(tmp_path / "store", parts[-1], "last")
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'[store]\npath = "{(tmp_path / "store").as_posix()}"\n'
        f'[[geofences.circles]]\nid = "P"\nname = "Port P"\nlat = {IN_P[1]}\n'
        f"lon = {IN_P[0]}\nradius_m = 5000\n"
        f'[[geofences.circles]]\nid = "Q"\nname = "Port Q"\nlat = {IN_Q[1]}\n'
        f"lon = {IN_Q[0]}\nradius_m = 5000\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "detect", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(done.stdout)
    assert summary["vessels_resumed"] >= 3 and not summary["full_run"]
    _assert_same(detected_tables(tmp_path / "store"), batch)


def test_a_run_that_stops_while_writing_leaves_a_store_the_next_run_completes(
    tmp_path: Path, batch: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = by_hours(FLEET, 24)
    cycles(_settings(tmp_path), parts[:2])
    ingest_part(tmp_path / "store", parts[2], "third")

    def broken(*args: object) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr("monitor.pipeline.ledger.save", broken)
        with pytest.raises(OSError, match="disk full"):
            detect_calls(_settings(tmp_path))
    summaries = cycles(_settings(tmp_path), parts[3:])
    assert summaries[0].full_run
    _assert_same(detected_tables(tmp_path / "store"), batch)


def test_calls_of_an_older_detector_are_detected_again(tmp_path: Path) -> None:
    cycles(_settings(tmp_path), [FLEET.filter(pl.col("timestamp_utc") < T0 + timedelta(days=1))])
    store = tmp_path / "store"
    old = CALLS.read(store).drop("last_seen_utc", "stop_observed")
    atomic_write_parquet(old, CALLS.path(store))
    state = store / "calls" / "state.json"
    state.write_text(json.dumps({"fingerprint": "an older detector"}), encoding="utf-8")
    summary = detect_calls(_settings(tmp_path))
    assert summary.full_run and summary.calls_new == 0
    assert set(CALLS.read(store).columns) >= {"last_seen_utc", "stop_observed"}


def test_unreadable_detection_state_in_a_copy_is_detected_again(tmp_path: Path) -> None:
    cycles(_settings(tmp_path), [FLEET.filter(pl.col("timestamp_utc") < T0 + timedelta(days=1))])
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "store", copy / "store")
    (copy / "store" / "calls" / "ledger-files.json").write_text("{", encoding="utf-8")
    summary = detect_calls(_settings(copy))
    assert not summary.full_run
    assert load_calls(copy / "store").equals(load_calls(tmp_path / "store"))


def test_a_cycle_reads_the_days_from_the_restart_points_on_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = FLEET.filter(~pl.col("mmsi").is_in([SHARED, STRAYS]))
    last_day = T0 + timedelta(days=DAYS - 1)
    settings = _short_windows(tmp_path)
    cycles(settings, by_hours(whole.filter(pl.col("timestamp_utc") < last_day), 24))
    read: list[str] = []
    behaviour: list[list[str]] = []
    in_behaviour = False

    def recorded(part: FileSlice, *args: object, **kwargs: object) -> list[pa.Table]:
        (behaviour[-1] if in_behaviour else read).append(part.path)
        return split_slice(part, *args, **kwargs)  # type: ignore[arg-type]

    def behaviour_pass(*args: Any, **kwargs: Any) -> list[dict[str, pa.Table]]:
        nonlocal in_behaviour
        in_behaviour = True
        behaviour.append([])
        try:
            return behaviour_in_buckets(*args, **kwargs)
        finally:
            in_behaviour = False

    searched: list[Collection[int] | None] = []
    search = close_pairs_by_window

    def pairs_searched(*args: Any, **kwargs: Any) -> pl.DataFrame:
        searched.append(kwargs.get("windows"))
        return search(*args, **kwargs)

    monkeypatch.setattr("monitor.pipeline.engines.split_slice", recorded)
    monkeypatch.setattr("monitor.pipeline.behaviour_cycle.behaviour_in_buckets", behaviour_pass)
    monkeypatch.setattr(pairs_cycle, "close_pairs_by_window", pairs_searched)
    summaries = cycles(settings, by_hours(whole.filter(pl.col("timestamp_utc") >= last_day), 6))
    # The calls: only the days from the restart points on.
    days = {Path(p).parent.name for p in read}
    assert days <= {f"date={(last_day - timedelta(days=1)).date()}", f"date={last_day.date()}"}
    assert all(s.vessels_resumed == s.vessels_processed for s in summaries)
    # The dark periods', encounters' and loitering's parts: every changed vessel goes on from
    # its cut, one pass per cycle, never reading the first day; the last one only the days the
    # calls read.
    assert all(s.behaviour_resumed == s.vessels_processed for s in summaries)
    assert len(behaviour) == len(summaries)
    first_day = f"date={T0.date()}"
    assert all(first_day not in {Path(p).parent.name for p in paths} for paths in behaviour)
    assert {Path(p).parent.name for p in behaviour[-1]} <= days
    # The merge searches for close pairs on the last day only (and on the day before, whose
    # last sample the first new position can change): the windows are days since the epoch.
    recent = {(last_day - timedelta(days=1) - EPOCH).days, (last_day - EPOCH).days}
    assert searched and all(w is not None and set(w) <= recent for w in searched), searched
    # All as one run over the whole fleet gives.
    got = detected_tables(tmp_path / "store")
    batch_settings = settings.model_copy(
        update={"store": StoreSettings(path=tmp_path / "batch" / "store")}
    )
    cycles(batch_settings, [whole])
    _assert_same(got, detected_tables(tmp_path / "batch" / "store"))
    # With nothing new, nothing is read for the calls.
    read.clear()
    assert detect_calls(settings).vessels_processed == 0
    assert read == []


def _assert_as_one_batch(settings: Settings, whole: pl.DataFrame, tmp_path: Path) -> None:
    """Assert that the store's rows kept by day and detected tables are those of one batch
    run over ``whole`` (stored under ``tmp_path/batch``)."""
    store, batch = tmp_path / "store", tmp_path / "batch" / "store"
    cycles(settings.model_copy(update={"store": StoreSettings(path=batch)}), [whole])
    got, want = behaviour_cycle.read_tables(store), behaviour_cycle.read_tables(batch)
    assert got is not None and want is not None
    for name in behaviour_cycle.BY_DAY:
        assert got[name].sort(pl.all()).equals(want[name].sort(pl.all())), name
    _assert_same(detected_tables(store), detected_tables(batch))


def test_a_cycle_rewrites_the_days_its_changes_reach_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the vessels' cuts lie in the fleet's last day, a cycle reads and rewrites the
    stored rows of that day only, the files of the days before stay as they are, and the
    stored parts and events are those of one batch run."""
    whole = FLEET.filter(~pl.col("mmsi").is_in([SHARED, STRAYS]))
    last_day = T0 + timedelta(days=DAYS - 1)
    settings = _short_windows(tmp_path)
    cycles(settings, by_hours(whole.filter(pl.col("timestamp_utc") < last_day), 24))
    store = tmp_path / "store"
    before = {p: p.stat().st_mtime_ns for p in store.glob("calls/behaviour/*/day=*")}
    assert {"near", "region", "samples"} <= {p.parent.name for p in before}
    written: list[list[str]] = []

    def recorded(frame: pl.DataFrame, path: Path) -> None:
        if path.name == "tracks.parquet":
            written.append([])  # the first file of each save
        elif path.name.startswith("day="):
            written[-1].append(path.name)
        atomic_write_parquet(frame, path)

    read_from: list[date | None] = []
    read_part = behaviour_cycle.read_part

    def reading(root: Path, job: BehaviourJob, from_day: date | None = None) -> Any:
        read_from.append(from_day)
        return read_part(root, job, from_day)

    monkeypatch.setattr(behaviour_cycle, "atomic_write_parquet", recorded)
    monkeypatch.setattr(behaviour_cycle, "read_part", reading)
    cycles(settings, by_hours(whole.filter(pl.col("timestamp_utc") >= last_day), 6))
    new = f"day={last_day.date()}.parquet"
    assert all(new in names for names in written)
    assert set(written[-1]) == {new, "day=none.parquet"}, written
    # Each cycle reads the tables first (no day), then the days its changes reach: the last
    # one the new day only.
    assert read_from[-2:] == [date.max, last_day.date()], read_from
    older = {p for p in before if p.name != new}
    unwritten = {p for p in older if all(p.name not in names for names in written)}
    assert {p.stat().st_mtime_ns for p in unwritten} == {before[p] for p in unwritten}
    _assert_as_one_batch(settings, whole, tmp_path)


def test_a_store_of_rows_by_week_is_detected_again_into_days(tmp_path: Path) -> None:
    """A store written when the rows were kept by week (``week=<Monday>`` files and
    ``weeks.parquet``, no ``days.parquet``): the next cycle finds every part again, writes the
    rows by day and removes the week files; all as one batch run."""
    whole = FLEET.filter(~pl.col("mmsi").is_in([SHARED, STRAYS]))
    settings = _short_windows(tmp_path)
    parts = by_hours(whole, 24)
    cycles(settings, parts[:-1])
    folder = tmp_path / "store" / "calls" / "behaviour"
    for name in behaviour_cycle.BY_DAY:
        for path in (folder / name).glob("day=*"):
            path.rename(path.with_name(path.name.replace("day=", "week=")))
    (folder / "days.parquet").rename(folder / "weeks.parquet")
    cycles(settings, parts[-1:])
    assert not list(folder.glob("*/week=*")) and not (folder / "weeks.parquet").exists()
    assert {p.parent.name for p in folder.glob("*/day=*")} == set(behaviour_cycle.BY_DAY)
    _assert_as_one_batch(settings, whole, tmp_path)


def test_a_vessel_stored_late_rewrites_the_days_of_its_rows(tmp_path: Path) -> None:
    """A vessel whose positions of all four days arrive only after the cycles of the others
    (a feed stored late): its rows of the first days are written into those days, and the
    stored parts and events are those of one batch run."""
    whole = FLEET.filter(~pl.col("mmsi").is_in([SHARED, STRAYS]))
    late = pl.col("mmsi") == GLITCHY
    settings = _short_windows(tmp_path)
    cycles(settings, [*by_hours(whole.filter(~late), 12), whole.filter(late)])
    _assert_as_one_batch(settings, whole, tmp_path)


def test_rows_changed_on_a_day_not_read_make_the_run_read_from_that_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Should rows change on a day a cycle did not read (here made so), the cycle reads the
    rows from that day and goes on with the parts it found (it does not find them again), and
    gives what one batch run does."""
    whole = FLEET.filter(~pl.col("mmsi").is_in([SHARED, STRAYS]))
    last_day = T0 + timedelta(days=DAYS - 1)
    settings = _short_windows(tmp_path)
    parts = by_hours(whole, 12)
    cycles(settings, parts[:-1])
    days = behaviour_cycle.changed_days
    calls = []

    def with_an_old_day(*args: Any) -> set[date]:
        calls.append(args)
        found = days(*args)
        return found | {date(2024, 2, 19)} if len(calls) == 1 else found

    monkeypatch.setattr(behaviour_cycle, "changed_days", with_an_old_day)
    first = parts[-1]["timestamp_utc"].min()
    assert isinstance(first, datetime) and first >= last_day
    with caplog.at_level("INFO"):
        cycles(settings, parts[-1:])
    assert "not read: reading from 2024-02-19" in caplog.text and len(calls) == 2
    assert caplog.text.count("from their cuts") == 1
    batch = tmp_path / "batch" / "store"
    cycles(settings.model_copy(update={"store": StoreSettings(path=batch)}), [whole])
    _assert_same(detected_tables(tmp_path / "store"), detected_tables(batch))


def test_vessels_found_again_over_their_whole_history_read_their_own_older_rows_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With their cuts unreadable, a cycle finds the changed vessels again over their whole
    history: it compares their stored rows of the days before their change, read by key, with
    those found, and reads and rewrites every vessel's rows of the last day only; all as one
    batch run."""
    whole = FLEET.filter(~pl.col("mmsi").is_in([SHARED, STRAYS]))
    settings = _short_windows(tmp_path)
    parts = by_hours(whole, 12)
    cycles(settings, parts[:-1])
    store = tmp_path / "store"
    behaviour_resume.CUTS.path(store).write_bytes(b"not parquet")
    read_from: list[date | None] = []
    older: list[tuple[date, date]] = []
    read_part, with_older_rows = behaviour_cycle.read_part, behaviour_cycle.with_older_rows

    def reading(root: Path, job: BehaviourJob, from_day: date | None = None) -> Any:
        read_from.append(from_day)
        return read_part(root, job, from_day)

    def reading_older(root: Path, part: Any, mmsis: pl.Series, since: date, before: date) -> Any:
        older.append((since, before))
        return with_older_rows(root, part, mmsis, since, before)

    monkeypatch.setattr(behaviour_cycle, "read_part", reading)
    monkeypatch.setattr(behaviour_cycle, "with_older_rows", reading_older)
    summary = cycles(settings, parts[-1:])[0]
    assert not summary.full_run and summary.behaviour_resumed == 0
    last_day = (T0 + timedelta(days=DAYS - 1)).date()
    assert read_from == [date.max, last_day], read_from
    assert older == [(T0.date(), last_day)]
    _assert_as_one_batch(settings, whole, tmp_path)


def test_lost_or_half_written_behaviour_state_is_found_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable cuts make a cycle find the changed vessels' behaviour parts over their whole
    history; a run that dies while writing the restart points kept for them leaves a store the
    next run detects again from scratch. Either way, the tables of one run."""
    whole = FLEET.filter(~pl.col("mmsi").is_in([SHARED, STRAYS]))
    settings = _short_windows(tmp_path)
    parts = by_hours(whole, 12)
    summaries = cycles(settings, parts[:-2])
    assert summaries[-1].behaviour_resumed > 0
    store = tmp_path / "store"
    behaviour_resume.CUTS.path(store).write_bytes(b"not parquet")
    summaries = cycles(settings, [parts[-2]])
    assert not summaries[0].full_run and summaries[0].behaviour_resumed == 0
    ingest_part(store, parts[-1], "last")
    with monkeypatch.context() as patch:
        patch.setattr("monitor.store.table.atomic_write_parquet", _disk_full_for_seeds)
        with pytest.raises(OSError, match="disk full"):
            detect_calls(settings)
    assert detect_calls(settings).full_run
    batch_settings = settings.model_copy(
        update={"store": StoreSettings(path=tmp_path / "batch" / "store")}
    )
    cycles(batch_settings, [whole])
    _assert_same(detected_tables(store), detected_tables(tmp_path / "batch" / "store"))


def _disk_full_for_seeds(frame: pl.DataFrame, path: Path) -> None:
    if path.name == Path(behaviour_resume.SEEDS.name).name:
        raise OSError("disk full")
    atomic_write_parquet(frame, path)


def _to_and_fro(ship: Track, days: int, root: Path) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Return the positions of ``ship``, sailing to and fro at sea after what it did until
    ``days`` days, and of a trader; and the tables of one batch run over them under ``root``."""
    while ship.t < T0 + timedelta(days=days):
        ship.sail(SEA_EAST, 4, sog=11).sail(SEA_WEST, 4, sog=11)
    whole = positions(ship, trader(TRADER, days)).sort("timestamp_utc")
    whole = whole.filter(pl.col("timestamp_utc") < T0 + timedelta(days=days))
    cycles(_short_windows(root), [whole])
    return whole, detected_tables(root / "store")


def test_a_vessel_loitering_for_days_goes_on_from_cuts_inside_its_loitering(
    tmp_path: Path,
) -> None:
    """A ship drifts at sea for three and a half days. Its cuts follow its newest positions
    into the drift: each cycle merges the loitering's positions before X with those found
    again from the cut on, so that none reads back to the drift's start, and every cycle
    equals one batch run. Once the drift has settled before the cut, its positions are no
    longer kept. Without them (lost once, midway), the drifter is found again over its whole
    history, once."""
    drifter = Track(CRUISER).fix(*SEA_WEST, 10).sail(SEA_EAST, 9, sog=11)
    drifter.sail(SEA_WEST, 9, sog=11).sail((-0.3, 0.6), 6, sog=10)
    drifter.stay((-0.3, 0.6), 84, sog=0.4).sail(SEA_WEST, 6, sog=10)
    whole, batch = _to_and_fro(drifter, 6, tmp_path / "batch")
    loitering = batch["events"].filter(pl.col("kind") == "loitering", pl.col("mmsi") == CRUISER)
    assert loitering["duration_h"].max() > 80  # type: ignore[operator]
    begun, ended = loitering.select("start_utc", "end_utc").row(0)

    settings = _short_windows(tmp_path / "cycles")
    store = tmp_path / "cycles" / "store"
    points = store / behaviour_cycle.FOLDER / "loiter_points.parquet"
    whole_history, cuts_inside = [], 0
    for i, part in enumerate(by_hours(whole, CUT_H)):
        if i == 12:
            pl.read_parquet(points).head(0).write_parquet(points)
        ingest_part(store, part, f"part{i:03d}")
        summary = detect_calls(settings)
        whole_history.append(summary.vessels_processed - summary.behaviour_resumed)
        cut = behaviour_resume.CUTS.read(store).filter(pl.col("mmsi") == CRUISER)["cut_utc"]
        newest = part["timestamp_utc"].max()
        assert isinstance(newest, datetime)
        if cut.len() and begun < cut[0] and newest < ended:
            cuts_inside += 1
    _assert_same(detected_tables(store), batch)
    # The first cycles have no cut yet (no restart point long enough before).
    assert whole_history[6:12] + whole_history[13:] == [0] * (len(whole_history) - 7)
    assert whole_history[12] == 1
    assert cuts_inside >= 8
    assert pl.read_parquet(points).filter(pl.col("mmsi") == CRUISER).is_empty()


def test_the_loitering_positions_of_a_vessel_gone_for_days_are_dropped(tmp_path: Path) -> None:
    """A ship drifting at sea falls silent for 110 h, its loitering not settled. Its positions
    are kept for 96 h after its last one, then dropped; heard again, it is found again over its
    whole history, once, and every cycle equals one batch run."""
    drifter = Track(CRUISER).fix(*SEA_WEST, 10).sail((-0.3, 0.6), 6, sog=10)
    drifter.stay((-0.3, 0.6), 30, sog=0.4).silence(110).stay((-0.3, 0.6), 6, sog=0.4)
    whole, batch = _to_and_fro(drifter, 7, tmp_path / "batch")
    assert batch["events"].filter(kind="loitering", mmsi=CRUISER).height == 2

    settings = _short_windows(tmp_path / "cycles")
    store = tmp_path / "cycles" / "store"
    points = store / behaviour_cycle.FOLDER / "loiter_points.parquet"
    last_heard = whole.filter(pl.col("mmsi") == CRUISER)["timestamp_utc"]
    gone = last_heard.filter(last_heard < T0 + timedelta(hours=60)).max()
    back = last_heard.filter(last_heard > T0 + timedelta(hours=60)).min()
    assert isinstance(gone, datetime) and isinstance(back, datetime)
    for i, part in enumerate(by_hours(whole, CUT_H)):
        ingest_part(store, part, f"part{i:03d}")
        summary = detect_calls(settings)
        newest = part["timestamp_utc"].max()
        assert isinstance(newest, datetime)
        kept = pl.read_parquet(points).filter(pl.col("mmsi") == CRUISER).height
        if gone < newest < back:
            assert (kept > 0) == (newest - gone < timedelta(hours=96)), (newest, kept)
        if part["timestamp_utc"].is_between(back, back).any():
            assert summary.vessels_processed - summary.behaviour_resumed == 1
    _assert_same(detected_tables(store), batch)


def test_a_vessel_back_from_a_long_silence_goes_on_from_a_cut_held_before_it(
    tmp_path: Path,
) -> None:
    """A ship at sea goes silent for 20 h. The cycle that hears it again sets its next cut
    from its new positions: held before the silence (which those positions end), the cycles
    after go on from there, not from the start of its history, and equal one batch run."""
    cruiser = Track(CRUISER).fix(*SEA_WEST, 11)
    while cruiser.t < T0 + timedelta(hours=40):
        cruiser.sail(SEA_EAST, 4, sog=11).sail(SEA_WEST, 4, sog=11)
    cruiser.silence(20)
    while cruiser.t < T0 + timedelta(days=DAYS):
        cruiser.sail(SEA_EAST, 4, sog=11).sail(SEA_WEST, 4, sog=11)
    whole = positions(cruiser, trader(TRADER, DAYS)).sort("timestamp_utc")
    whole = whole.filter(pl.col("timestamp_utc") < T0 + timedelta(days=DAYS))
    batch_root = tmp_path / "batch"
    cycles(_short_windows(batch_root), [whole])
    batch = detected_tables(batch_root / "store")
    assert batch["events"].filter(kind="gap", mmsi=CRUISER)["duration_h"].max() > 20  # type: ignore[operator]
    summaries = cycles(_short_windows(tmp_path), by_hours(whole, CUT_H))
    _assert_same(detected_tables(tmp_path / "store"), batch)
    # The first cycles have no cut yet (no restart point long enough before).
    whole_history = [s.vessels_processed - s.behaviour_resumed for s in summaries]
    assert sum(whole_history[6:]) == 0, whole_history


def test_a_vessel_heard_now_and_then_after_a_loitering_goes_on_from_its_cut(
    tmp_path: Path,
) -> None:
    """A ship drifts for 6 h, then sails on, heard every ten minutes but for an interval of
    40 min every few hours. The loitering's end is settled three positions after it: the
    intervals days later do not send the ship back to its whole history on every cycle."""
    drifter = Track(CRUISER).fix(*SEA_WEST, 10).sail((-0.3, 0.6), 8, sog=10)
    drifter.stay((-0.3, 0.6), 6, sog=0.4).sail(SEA_WEST, 6, sog=10)
    while drifter.t < T0 + timedelta(days=DAYS):
        drifter.sail(SEA_EAST, 4, sog=11).fix(*SEA_EAST, 11, minutes=40)
        drifter.sail(SEA_WEST, 4, sog=11)
    whole = positions(drifter, trader(TRADER, DAYS)).sort("timestamp_utc")
    whole = whole.filter(pl.col("timestamp_utc") < T0 + timedelta(days=DAYS))
    batch_root = tmp_path / "batch"
    cycles(_short_windows(batch_root), [whole])
    batch = detected_tables(batch_root / "store")
    assert batch["events"].filter(kind="loitering", mmsi=CRUISER).height == 1
    parts = by_hours(whole, CUT_H)
    summaries = cycles(_short_windows(tmp_path), parts[:-2])
    whole_history = [s.vessels_processed - s.behaviour_resumed for s in summaries]
    assert sum(whole_history[6:]) == 0, whole_history
    # Stored parts from before loitering rows said when they settled, or before their
    # positions were kept, are found again whole.
    folder = tmp_path / "store" / behaviour_cycle.FOLDER
    stored = folder / "loitering.parquet"
    pl.read_parquet(stored).drop("settled_utc").write_parquet(stored)
    ingest_part(tmp_path / "store", parts[-2], "next")
    assert detect_calls(_short_windows(tmp_path)).behaviour_resumed == 0
    (folder / "loiter_points.parquet").unlink()
    ingest_part(tmp_path / "store", parts[-1], "last")
    assert detect_calls(_short_windows(tmp_path)).behaviour_resumed == 0
    _assert_same(detected_tables(tmp_path / "store"), batch)


def test_compacted_days_read_by_vessel_detect_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compaction rewrites a day by vessel, in row groups: a detection after it finds nothing
    changed, a vessel detected again over its whole history (a late position on its first
    day) reads only the row groups that may hold it, and the cycles equal one batch run."""
    monkeypatch.setattr("monitor.store.parquet.COMPACT_ROW_GROUP", 200)
    settings = _settings(tmp_path)
    parts = by_hours(FLEET, 6)
    half = len(parts) // 2
    cycles(settings, parts[:half])
    store = Store(tmp_path / "store")
    with store.writer():
        assert store.compact_all() >= 2
    assert detect_calls(settings).vessels_processed == 0
    read: list[tuple[str, int, list[int]]] = []

    def recorded(part: FileSlice, *args: object, **kwargs: Any) -> list[pa.Table]:
        vessels = kwargs["vessels"]
        read.append(
            (part.path, part.n_rows, [] if vessels is None else vessels["mmsi"].to_pylist())
        )
        return split_slice(part, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("monitor.pipeline.engines.split_slice", recorded)
    late = FLEET.filter(pl.col("mmsi") == TRADER).head(1)
    late = late.with_columns(pl.col("timestamp_utc") + timedelta(seconds=30), pl.col("msg_key") + 1)
    ingest_part(tmp_path / "store", pl.concat([parts[half], late]), "late")
    detect_calls(settings)
    # The trader's whole history (with the shared MMSI's, never resumed): of the compacted
    # days, the row groups that may hold them only.
    alone = [
        (p, n)
        for p, n, who in read
        if TRADER in who and len(who) <= 2 and Path(p).name.startswith("part-")
    ]
    assert alone
    whole = sum(pq.read_metadata(p).num_rows for p in {p for p, _ in alone})
    assert sum(n for _, n in alone) < whole
    cycles(settings, parts[half + 1 :])
    cycles(_settings(tmp_path / "batch"), [pl.concat([*parts, late])])
    _assert_same(detected_tables(tmp_path / "store"), detected_tables(tmp_path / "batch" / "store"))


def test_a_vessel_new_to_the_store_is_read_from_its_own_days_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ship first heard on the last day is detected over its whole history, calls and
    behaviour alike: that is its day, not the store's."""
    cruiser = Track(CRUISER).fix(*SEA_WEST, 11)
    while cruiser.t < T0 + timedelta(days=DAYS - 1):
        cruiser.sail(SEA_EAST, 4, sog=11).sail(SEA_WEST, 4, sog=11)
    newcomer = Track(RESIDENT, T0 + timedelta(days=DAYS - 1, hours=2)).fix(*SEA_EAST, 10)
    newcomer.sail(IN_P, 2).stay(IN_P, 3, sog=0.0).sail(SEA_WEST, 3)
    settings = _settings(tmp_path)
    cycles(settings, [positions(cruiser)])
    read: list[str] = []

    def recorded(part: FileSlice, *args: object, **kwargs: object) -> list[pa.Table]:
        read.append(Path(part.path).parent.name)
        return split_slice(part, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("monitor.pipeline.engines.split_slice", recorded)
    ingest_part(tmp_path / "store", positions(newcomer), "newcomer")
    summary = detect_calls(settings)
    assert summary.vessels_processed == 1 and summary.calls_new == 1
    assert read and set(read) == {f"date={(T0 + timedelta(days=DAYS - 1)).date()}"}
    monkeypatch.undo()
    batch = tmp_path / "batch"
    cycles(_settings(batch), [positions(cruiser, newcomer)])
    _assert_same(detected_tables(tmp_path / "store"), detected_tables(batch / "store"))


def test_cycles_a_few_minutes_apart_go_on_from_their_cuts(tmp_path: Path) -> None:
    """A service detects every few minutes, so most runs end within an hour, and the next run
    starts on the hour its new positions are in. A cut a vessel took at the end of one run
    must still be early enough for the next: else it is found again over its whole history on
    every run until that hour is over."""
    cruiser = Track(CRUISER, T0 + timedelta(minutes=7, seconds=13)).fix(*SEA_WEST, 11)
    while cruiser.t < T0 + timedelta(days=DAYS):
        cruiser.sail(SEA_EAST, 4, sog=11).sail(SEA_WEST, 4, sog=11)
    whole = positions(trader(TRADER, DAYS), cruiser).sort("timestamp_utc")
    whole = whole.filter(pl.col("timestamp_utc") < T0 + timedelta(days=DAYS))
    batch_root = tmp_path / "batch"
    cycles(_short_windows(batch_root), [whole])
    batch = detected_tables(batch_root / "store")
    # Six-hour parts, then parts of 25 minutes for the last 8 hours.
    start = T0 + timedelta(days=DAYS) - timedelta(hours=8)
    parts = by_hours(whole.filter(pl.col("timestamp_utc") < start), CUT_H)
    minutes = (pl.col("timestamp_utc") - start).dt.total_minutes() // 25
    late = whole.filter(pl.col("timestamp_utc") >= start)
    parts += [p for _, p in late.group_by(minutes, maintain_order=True)]
    summaries = cycles(_short_windows(tmp_path), parts)
    _assert_same(detected_tables(tmp_path / "store"), batch)
    whole_history = [s.vessels_processed - s.behaviour_resumed for s in summaries]
    n_hours = len(by_hours(whole.filter(pl.col("timestamp_utc") < start), CUT_H))
    assert sum(whole_history[n_hours:]) == 0, whole_history[n_hours:]


def test_a_vessel_heard_with_gaps_that_drifts_now_and_then_goes_on_from_its_cuts(
    tmp_path: Path,
) -> None:
    """A ship at sea, heard every ten minutes but for a gap of 40 min every few hours (as real
    reception goes), drifts for 5 h every 15 h. A drift's start depends on the three positions
    before it: those are read from the cut on whenever the drift begins a few positions after
    the cut, whatever the gaps between them, so the ship goes on from its cuts and is not sent
    back to its whole history when a drift begins."""
    drifter = Track(CRUISER).fix(*SEA_WEST, 10)
    while drifter.t < T0 + timedelta(days=DAYS):
        drifter.sail(SEA_EAST, 3, sog=11).fix(*SEA_EAST, 11, minutes=40)
        drifter.sail((-0.3, 0.6), 3, sog=10).stay((-0.3, 0.6), 5, sog=0.4)
        drifter.sail(SEA_WEST, 3, sog=10).fix(*SEA_WEST, 11, minutes=40)
    whole = positions(drifter, trader(TRADER, DAYS)).sort("timestamp_utc")
    whole = whole.filter(pl.col("timestamp_utc") < T0 + timedelta(days=DAYS))
    batch_root = tmp_path / "batch"
    cycles(_short_windows(batch_root), [whole])
    batch = detected_tables(batch_root / "store")
    assert batch["events"].filter(kind="loitering", mmsi=CRUISER).height >= 5
    summaries = cycles(_short_windows(tmp_path), by_hours(whole, CUT_H))
    _assert_same(detected_tables(tmp_path / "store"), batch)
    whole_history = [s.vessels_processed - s.behaviour_resumed for s in summaries]
    # The first cycles have no cut yet (no restart point long enough before).
    assert sum(whole_history[6:]) == 0, whole_history
