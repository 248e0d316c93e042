"""Behaviour parts kept in the store between detection runs: each run finds again the parts of
the vessels with new positions only, and the events stay exactly those of one batch run."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from detect_cycles import by_hours, ingest_part
from test_behaviour_buckets import POSITIONS
from test_calls import make_settings
from tracks_events import MEETING_A as A
from tracks_events import MEETING_B as B

from monitor.analyse.reception import ReceptionGrid
from monitor.pipeline import behaviour_cycle, pairs_cycle
from monitor.pipeline.along_cycle import ALONG
from monitor.pipeline.behaviour_buckets import close_pairs_by_window
from monitor.pipeline.behaviour_cycle import NAMES, read_tables
from monitor.pipeline.detect import detect_calls
from monitor.pipeline.engines import behaviour_in_buckets
from monitor.pipeline.features_cycle import FEATURES
from monitor.pipeline.pairs_cycle import PAIR_WINDOWS, PAIRS
from monitor.store.events import load_events

_FIRST = POSITIONS["timestamp_utc"].min()
assert isinstance(_FIRST, datetime)
T0: datetime = _FIRST


def _run(root: Path, parts: list[pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Ingest ``parts`` one after another with a detection after each; return the events and
    the stored behaviour parts."""
    settings = make_settings(root)
    store = Path(settings.store.path)
    for i, part in enumerate(parts):
        ingest_part(store, part, f"part{i:03d}")
        detect_calls(settings)
    found = {"events": load_events(store)}
    # Not ``usual``: how often each interval occurs before a vessel's cut, whose place depends
    # on the cycles (it is what the usual intervals of ``times`` are found again from).
    tables = read_tables(store)
    assert tables is not None
    for name in NAMES:
        if name != "usual":
            found[name] = tables[name]
    found["pairs"] = PAIRS.read(store)
    found["along"] = ALONG.read(store)
    found["features"] = FEATURES.read(store)
    return found


def _assert_same(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    assert got.keys() == want.keys()
    for name, frame in want.items():
        other = got[name]
        if name != "tracks":
            # Tracks numbered alike (by MMSI, then as segmented); rows in any order.
            frame, other = frame.sort(pl.all()), other.sort(pl.all())
        assert other.equals(frame), name


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    found = _run(tmp_path_factory.mktemp("batch"), [POSITIONS])
    kinds = set(found["events"]["kind"])
    assert {"gap", "encounter", "loitering"} <= kinds, kinds
    return found


@pytest.fixture
def vessels_found(monkeypatch: pytest.MonkeyPatch) -> list[list[int] | None]:
    """Record, per pass that finds behaviour parts, the vessels it finds them of (None: all)."""
    found: list[list[int] | None] = []

    def recorded(*args: Any, **kwargs: Any) -> list[dict[str, pa.Table]]:
        vessels = kwargs.get("vessels")
        found.append(None if vessels is None else sorted(vessels.to_list()))
        return behaviour_in_buckets(*args, **kwargs)

    monkeypatch.setattr(behaviour_cycle, "behaviour_in_buckets", recorded)
    return found


@pytest.fixture
def windows_searched(monkeypatch: pytest.MonkeyPatch) -> list[list[int] | None]:
    """Record, per merge, the windows (UTC days) its close-pair search looks at (None: all)."""
    found: list[list[int] | None] = []
    search = close_pairs_by_window

    def recorded(*args: Any, **kwargs: Any) -> pl.DataFrame:
        windows = kwargs.get("windows")
        found.append(None if windows is None else sorted(windows))
        return search(*args, **kwargs)

    monkeypatch.setattr(pairs_cycle, "close_pairs_by_window", recorded)
    return found


def _days(frame: pl.DataFrame) -> set[int]:
    """Return the windows of the close-pair search (days since the epoch) of ``frame``."""
    days = frame["timestamp_utc"].dt.epoch("d").unique().to_list()
    return {int(d) for d in days}


def test_cycles_across_the_silence_meeting_and_loitering_equal_one_batch(
    tmp_path: Path, batch: dict[str, pl.DataFrame]
) -> None:
    """Cuts every three hours fall inside the meeting (across midnight), inside B's silence and
    inside the loitering: the events and the stored parts are those of one run."""
    meeting = batch["events"].filter(pl.col("kind") == "encounter")
    start, end = meeting["start_utc"].min(), meeting["end_utc"].max()
    assert isinstance(start, datetime) and isinstance(end, datetime)
    assert (end - start) > timedelta(hours=3)
    _assert_same(_run(tmp_path, by_hours(POSITIONS.sort("timestamp_utc"), 3)), batch)


def test_a_cycle_finds_the_parts_of_the_changed_vessels_only(
    tmp_path: Path, batch: dict[str, pl.DataFrame], vessels_found: list[list[int] | None]
) -> None:
    """The last hours of the two vessels that meet come in a cycle of their own: only their
    parts are found again, the others' come from the store."""
    end = POSITIONS["timestamp_utc"].max()
    assert isinstance(end, datetime)
    late = pl.col("mmsi").is_in([A, B]) & (pl.col("timestamp_utc") > end - timedelta(hours=6))
    found = _run(tmp_path, [POSITIONS.filter(~late), POSITIONS.filter(late)])
    assert vessels_found == [[A, B]]  # the first run is a full one
    _assert_same(found, batch)


def test_a_cycle_searches_the_changed_days_only_for_close_pairs(
    tmp_path: Path, batch: dict[str, pl.DataFrame], windows_searched: list[list[int] | None]
) -> None:
    """Cuts every six hours: each merge searches again for close pairs only on the days of
    the new positions (and of the newest before them, whose last sample a new position can
    change); the pairs of the other days come from the store, and every table equals one run."""
    parts = by_hours(POSITIONS.sort("timestamp_utc"), 6)
    found = _run(tmp_path, parts)
    _assert_same(found, batch)
    assert windows_searched[0] is None  # the first run is a full one
    for before, part, searched in zip(parts[:-1], parts[1:], windows_searched[1:], strict=True):
        assert searched is not None
        assert set(searched) <= _days(part) | _days(before), (searched, _days(part))
    assert [len(searched or ()) for searched in windows_searched[1:]] == [1, 1, 1, 2, 1, 1]


def test_stored_pairs_that_do_not_go_with_the_parts_are_found_again(
    tmp_path: Path, batch: dict[str, pl.DataFrame], windows_searched: list[list[int] | None]
) -> None:
    """Stored pairs are kept with the samples per window they were found in: a pairs file of
    another run (here one window's count changed) makes the next run search every window."""
    end = POSITIONS["timestamp_utc"].max()
    assert isinstance(end, datetime)
    late = pl.col("timestamp_utc") > end - timedelta(hours=6)
    settings = make_settings(tmp_path)
    store = Path(settings.store.path)
    ingest_part(store, POSITIONS.filter(~late), "part000")
    detect_calls(settings)
    windows = PAIR_WINDOWS.read(store)
    PAIR_WINDOWS.write(store, windows.with_columns(n_samples=pl.col("n_samples") + 1))
    PAIRS.write(store, PAIRS.read(store).head(0))
    ingest_part(store, POSITIONS.filter(late), "part001")
    detect_calls(settings)
    assert windows_searched == [None, None]
    assert load_events(store).sort(pl.all()).equals(batch["events"].sort(pl.all()))
    assert PAIRS.read(store).sort(pl.all()).equals(batch["pairs"].sort(pl.all()))


def test_positions_older_than_the_store_find_every_part_again(
    tmp_path: Path, batch: dict[str, pl.DataFrame], vessels_found: list[list[int] | None]
) -> None:
    """The reception grids' bins start at the store's first time: positions older than it make
    a run find every vessel's parts again."""
    early = pl.col("timestamp_utc") < T0 + timedelta(hours=5)
    found = _run(tmp_path, [POSITIONS.filter(~early), POSITIONS.filter(early)])
    assert vessels_found == [None]  # the first run is a full one
    _assert_same(found, batch)


@pytest.fixture
def silences_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record, per reading of a grid along silences, how many silences it reads."""
    found: list[int] = []
    read = ReceptionGrid.quiet_along

    def recorded(self: ReceptionGrid, own: Any, *args: Any, **kwargs: Any) -> Any:
        found.append(len(own))
        return read(self, own, *args, **kwargs)

    monkeypatch.setattr(ReceptionGrid, "quiet_along", recorded)
    return found


def test_a_cycle_reads_the_grids_again_along_the_new_silences_only(
    tmp_path: Path, batch: dict[str, pl.DataFrame], silences_read: list[int]
) -> None:
    """The last hours of the two vessels that meet come in a cycle of their own: the silences
    that ended before are not read again (their bins did not change; those still open are, as
    the data now ends later), and what is kept is what one run reads."""
    end = POSITIONS["timestamp_utc"].max()
    assert isinstance(end, datetime)
    late = pl.col("mmsi").is_in([A, B]) & (pl.col("timestamp_utc") > end - timedelta(hours=6))
    found = _run(tmp_path, [POSITIONS.filter(~late), POSITIONS.filter(late)])
    _assert_same(found, batch)
    readings = batch["along"].height
    ended = batch["along"].filter(pl.col("reading") == "straight").height
    assert ended > 10
    assert sum(silences_read[:3]) >= readings  # the full run reads them all
    assert sum(silences_read[3:]) <= readings - 3 * ended


@pytest.fixture
def silences_asked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record, per merge, of how many silences' starts and ends it asks the rows who was near
    them."""
    found: list[int] = []
    ask = ReceptionGrid.near_tracks

    def recorded(self: ReceptionGrid, own: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs["before"]:
            found.append(0)
        found[-1] += len(own)
        return ask(self, own, *args, **kwargs)

    monkeypatch.setattr(ReceptionGrid, "near_tracks", recorded)
    return found


def test_a_cycle_asks_the_grids_again_of_the_silences_whose_evidence_may_have_changed(
    tmp_path: Path, batch: dict[str, pl.DataFrame], silences_asked: list[int]
) -> None:
    """Cycles every three hours: a silence that ended long enough before the new positions
    (and the stations that told of it heard no new cell) keeps what the grids told of it, one
    still open what its start told; only the others are asked again, and every stored table,
    what the grids told of each silence included, equals one run's."""
    found = _run(tmp_path, by_hours(POSITIONS.sort("timestamp_utc"), 3))
    _assert_same(found, batch)
    n = found["features"].height
    # Of their 2 * n starts and ends, the last merges ask of fewer and fewer.
    later = silences_asked[-3:]
    assert all(asked < 2 * n for asked in later) and later[-1] < n, (later, n)


def test_on_sparse_reception_a_cycle_asks_the_grids_again_of_recent_silences_only(
    tmp_path: Path, silences_asked: list[int]
) -> None:
    """Every vessel heard once in 20 minutes at most, as far from a receiver on real feeds:
    their usual intervals change as they are heard on, and they are heard again after hours
    on the same track. That changes who fell silent with a silence long past, asked again of
    every one from the tracks' times; the rows near it did not change, and are not asked
    again. Cycles every three hours equal one run."""
    sparse = POSITIONS.sort("timestamp_utc").filter(
        pl.col("timestamp_utc").dt.truncate("20m").is_first_distinct().over("mmsi")
    )
    (tmp_path / "batch").mkdir()
    (tmp_path / "cycles").mkdir()
    batch = _run(tmp_path / "batch", [sparse])
    silences_asked.clear()
    found = _run(tmp_path / "cycles", by_hours(sparse, 3))
    _assert_same(found, batch)
    n = found["features"].height
    later = silences_asked[-3:]
    assert n > 50 and all(asked < n for asked in later), (later, n)


def test_a_vessel_stored_late_heard_during_an_old_silence_has_it_read_again(
    tmp_path: Path, batch: dict[str, pl.DataFrame]
) -> None:
    """273000016 falls silent at 0.05 N 1.05 E from 18:12 to 23:52 on day 1, others heard near
    it in few of its bins; the cycles read its silence and keep what they read. A vessel lying
    where it fell silent, heard all through, is stored only after them: its rows change what
    the silence reads (as one run over all finds), so it is read again and the cycles give
    what one run does."""
    silent = 273_000_016
    start_us = int((T0 + timedelta(hours=18, minutes=12)).timestamp() * 1e6)
    quiet = batch["along"].filter(
        pl.col("track_id").str.starts_with(f"{silent}-"),
        pl.col("start_us") == start_us,
        pl.col("reading") == "near",
    )
    assert quiet.height == 1 and quiet["n_heard"][0] < quiet["n_bins"][0]
    times = pl.datetime_range(
        T0 + timedelta(hours=18, minutes=30), T0 + timedelta(hours=23, minutes=30), "5m",
        eager=True,
    )  # fmt: skip
    late = (
        POSITIONS.filter(pl.col("mmsi") == silent)
        .head(1)
        .with_columns(
            mmsi=pl.lit(235_000_999, POSITIONS["mmsi"].dtype),
            lat=pl.lit(0.05),
            lon=pl.lit(1.05),
            sog_kn=pl.lit(0.0),
        )
        .select(pl.exclude("timestamp_utc"))
        .join(times.alias("timestamp_utc").to_frame(), how="cross")
        .select(POSITIONS.columns)
    )
    for name in ("batch", "cycles"):
        (tmp_path / name).mkdir()
    want = _run(tmp_path / "batch", [pl.concat([POSITIONS, late]).sort("timestamp_utc")])
    heard = want["along"].join(quiet, on=["reading", "track_id", "start_us"], suffix="_before")
    assert (heard["n_heard"] > heard["n_heard_before"]).all()
    found = _run(tmp_path / "cycles", [*by_hours(POSITIONS, 3), late])
    _assert_same(found, want)
