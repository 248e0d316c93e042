"""Identity state kept across detections: static reports read by changed day, identity events
and call identities exactly those of one batch run."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from detect_cycles import shuttle, trader
from tracks_portcalls import IN_P, IN_Q, T0, Track, positions, statics

from monitor.analyse.portcalls.identity import call_identities, field_days, field_rows
from monitor.config import CircleZone, GeofenceSettings, Settings, StoreSettings
from monitor.pipeline.detect import detect_calls
from monitor.store.calls import RAW_CALLS, load_calls
from monitor.store.events import load_events
from monitor.store.parquet import Store
from monitor.store.table import atomic_write_parquet

DAYS = 3
#: Sails between the ports; renamed on day 1 and back on day 2.
TRADER = 366_000_201
#: At sea; from day 1 it reports the trader's IMO too (one IMO on two MMSIs).
TWIN = 273_000_202
#: A transceiver never configured: the default MMSI.
DEFAULT = 123_456_789
IMO = 9_000_001


def _fleet() -> pl.DataFrame:
    # A second transmitter on the twin's MMSI for a while, far away: a shared_mmsi event.
    second = Track(TWIN, T0 + timedelta(hours=40, minutes=3)).fix(30.0, 10.0, 8)
    second.sail((30.2, 10.0), 9, sog=8)
    default = Track(DEFAULT, T0 + timedelta(hours=30)).fix(0.3, -0.3, 5).sail((0.4, -0.3), 6)
    frame = positions(trader(TRADER, DAYS), shuttle(TWIN, DAYS), second, default)
    return frame.filter(pl.col("timestamp_utc") < T0 + timedelta(days=DAYS)).sort("timestamp_utc")


def _reports() -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    t = T0 - timedelta(minutes=30)
    while t < T0 + timedelta(days=DAYS):
        h = (t - T0) / timedelta(hours=1)
        trader_name = "ALPHA II" if 30 <= h < 50 else "ALPHA"
        rows.append(
            {
                "mmsi": TRADER,
                "timestamp_utc": t,
                "msg_type": 5,
                "imo": IMO,
                "vessel_name": trader_name,
                "callsign": "UBAB2" if h < 60 else "UBAB3",
                "ship_type": 70,
                "draught_m": 5.0 + (h // 13) / 2,
                "destination": "Q" if (h // 12) % 2 else "P",
            }
        )
        if h >= 28:
            rows.append(
                {
                    "mmsi": TWIN,
                    "timestamp_utc": t + timedelta(minutes=7),
                    "msg_type": 5,
                    "imo": IMO,
                    "vessel_name": "BETA" if h < 44 else "GAMMA",
                    "ship_type": 80 if h < 40 else 81,
                }
            )
        if 30 <= h < 36:
            rows.append(
                {"mmsi": DEFAULT, "timestamp_utc": t + timedelta(minutes=3), "vessel_name": "X"}
            )
        t += timedelta(minutes=45)
    frame = statics(rows).sort("timestamp_utc")
    return frame.with_columns(
        msg_key=pl.int_range(pl.len(), dtype=pl.UInt64), source=pl.lit("test")
    )


FLEET = _fleet()
REPORTS = _reports()


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


def _ingest(root: Path, part: pl.DataFrame, reports: pl.DataFrame, name: str) -> None:
    """Store ``part`` and ``reports`` as one more file in each of their days, as an ingest does."""
    store = Store(root / "store")
    for (day,), rows in part.group_by(pl.col("timestamp_utc").dt.date(), maintain_order=True):
        assert isinstance(day, type(T0.date()))
        atomic_write_parquet(rows, store.partition_dir(day) / f"{name}.parquet")
    for (day,), rows in reports.group_by(pl.col("timestamp_utc").dt.date(), maintain_order=True):
        assert isinstance(day, type(T0.date()))
        atomic_write_parquet(rows, store.statics_day_dir(day) / f"{name}.parquet")


def _cycles(root: Path, parts: list[tuple[pl.DataFrame, pl.DataFrame]], first: int = 0) -> None:
    settings = _settings(root)
    for i, (part, reports) in enumerate(parts, start=first):
        _ingest(root, part, reports, f"part{i:03d}")
        detect_calls(settings)


def _results(root: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    store = root / "store"
    return load_calls(store), load_events(store)


def _window(frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    return frame.filter(pl.col("timestamp_utc").is_between(start, end, closed="left"))


def _by_hours(hours: int, late: pl.Expr) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """Return the feed in parts of ``hours``; the reports matching ``late`` come with the last."""
    on_time, held = REPORTS.filter(~late), REPORTS.filter(late)
    starts = [T0 - timedelta(hours=1) + timedelta(hours=hours * i) for i in range(99)]
    parts = [
        (_window(FLEET, a, b), _window(on_time, a, b))
        for a, b in itertools.pairwise(starts)
        if a < T0 + timedelta(days=DAYS)
    ]
    last_positions, last_reports = parts[-1]
    parts[-1] = (last_positions, pl.concat([last_reports, held]))
    return parts


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame]:
    root = tmp_path_factory.mktemp("batch")
    _cycles(root, [(FLEET, REPORTS)])
    return _results(root)


def test_the_feed_has_the_identity_events_the_cuts_must_keep(
    batch: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    calls, events = batch
    kinds = events.group_by("kind").agg(pl.col("mmsi").unique().sort())
    found = dict(zip(kinds["kind"], kinds["mmsi"].to_list(), strict=True))
    assert found["identity_change"] == [TWIN, TRADER]
    assert found["imo_reuse"] == [TWIN]
    assert found["invalid_mmsi"] == [DEFAULT]
    assert found["shared_mmsi"] == [TWIN]
    shared = events.filter(pl.col("kind") == "shared_mmsi")["details"].to_list()
    assert any("BETA" in d and "GAMMA" in d for d in shared)
    renamed = events.filter((pl.col("kind") == "identity_change") & (pl.col("mmsi") == TRADER))
    assert sorted(renamed["new_value"].to_list()) == ["ALPHA II", "UBAB3"]
    trader = calls.filter(pl.col("mmsi") == TRADER)
    assert trader.height >= 4
    assert set(trader["vessel_name"].to_list()) == {"ALPHA", "ALPHA II"}


@pytest.mark.parametrize(
    ("hours", "late"),
    [
        (12, pl.lit(False)),
        # Reports of the first day, and the whole rename, come after every position.
        (12, (pl.col("timestamp_utc") < T0 + timedelta(hours=20)) & (pl.col("mmsi") == TRADER)),
        (7, pl.col("vessel_name") == "ALPHA II"),
        # The twin's first reports of the shared IMO, and the invalid MMSI's, come last.
        (
            5,
            pl.col("mmsi").is_in([TWIN, DEFAULT])
            & (pl.col("timestamp_utc") < T0 + timedelta(hours=34)),
        ),
    ],
)
def test_cycles_with_late_reports_equal_one_batch(
    tmp_path: Path, batch: tuple[pl.DataFrame, pl.DataFrame], hours: int, late: pl.Expr
) -> None:
    _cycles(tmp_path, _by_hours(hours, late))
    calls, events = _results(tmp_path)
    assert calls.equals(batch[0])
    assert events.equals(batch[1])


def test_a_cycle_with_positions_only_reads_no_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = _by_hours(12, pl.lit(False))
    _cycles(tmp_path, parts[:-1])
    read: list[tuple[str, str]] = []
    import monitor.pipeline.identity_cycle as cycle
    import monitor.pipeline.placing as placing
    import monitor.store.parquet as parquet

    for module in (cycle, parquet, placing):
        scan = module.scan_parquet

        def recorded(
            files: list[Any],
            *args: Any,
            _scan: Any = scan,
            _by: str = module.__name__,
            **kwargs: Any,
        ) -> Any:
            read.extend((_by, str(f)) for f in files)
            return _scan(files, *args, **kwargs)

        monkeypatch.setattr(module, "scan_parquet", recorded)
    # The twin, whose identity changed and who reported the shared IMO: its events stay placed.
    one = parts[-1][0].filter(pl.col("mmsi") == TWIN)
    _cycles(tmp_path, [(one, REPORTS.clear())], first=len(parts))
    assert [f for _, f in read if "statics" in f] == []
    assert [f for by, f in read if by == placing.__name__] == []


def test_reports_of_other_days_summarised_give_calls_the_same_identity(tmp_path: Path) -> None:
    _cycles(tmp_path, [(FLEET, REPORTS)])
    raw = RAW_CALLS.read(tmp_path / "store")
    want = call_identities(raw, REPORTS, several_tracks=[TWIN])
    for call in raw.iter_rows(named=True):
        end = call["departure_utc"] or call["last_seen_utc"]
        days = pl.col("timestamp_utc").dt.date().is_between(call["arrival_utc"].date(), end.date())
        mine = REPORTS.filter(days & (pl.col("mmsi") == call["mmsi"]))
        rest = field_rows(field_days(REPORTS.filter(~days)))
        reports = pl.concat([mine.select(rest.columns), rest])
        one = raw.filter(pl.col("call_id") == call["call_id"])
        got = call_identities(one, reports, several_tracks=[TWIN])
        assert got.equals(want.filter(pl.col("call_id") == call["call_id"]))
