"""Vessels that stay in port or lie still across detect cycles: the cycles equal one batch run,
and each cycle reads only a few hours of them (restart points inside a stay)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from detect_cycles import by_hours, cycles, detected_tables
from tracks_portcalls import ANCHOR, BERTH, IN_P, SEA_EAST, SEA_WEST, T0, Track, positions

from monitor.config import CircleZone, DetectSettings, GeofenceSettings, Settings, StoreSettings

DAYS = 6
CUT_H = 6
#: Four days at a berth, then away.
BERTHED = 366_000_201
#: Two days at the outer anchorage, two at the berth, then away.
ANCHORED = 366_000_202
#: In port with silences: one bridged as a stay, one that ends the call.
SILENT = 366_000_203
#: Lying still at sea, far from every zone, for three days.
DRIFTER = 366_000_204
#: In port from its first position to the end of the data.
RESIDENT = 366_000_205
#: Two days at the berth with a SOG that says it moves: stopped by its positions only.
NOISY = 366_000_206


def _fleet() -> pl.DataFrame:
    berthed = Track(BERTHED).fix(*SEA_WEST, 10).sail(IN_P, 2).sail(BERTH, 1, sog=3)
    berthed.stay(BERTH, 96, sog=0.0).sail(SEA_WEST, 3)
    anchored = Track(ANCHORED).fix(*SEA_EAST, 10).sail(ANCHOR, 3)
    anchored.stay(ANCHOR, 48, sog=0.1, every_min=6).sail(BERTH, 2, sog=4)
    anchored.stay(BERTH, 48, sog=None).sail(SEA_EAST, 3)
    silent = Track(SILENT).fix(*SEA_WEST, 10).sail(BERTH, 3).stay(BERTH, 30, sog=0.0)
    silent.silence(6).stay(BERTH, 30, sog=0.0).silence(60).stay(IN_P, 4, sog=6)
    silent.sail(SEA_WEST, 3)
    drifter = Track(DRIFTER).fix(-0.6, -0.5, 9).sail((-0.6, -0.3), 4, sog=9)
    drifter.stay((-0.6, -0.3), 72, sog=0.0).sail((-0.9, -0.3), 20, sog=1.5)
    resident = Track(RESIDENT).fix(*IN_P, 0.0).stay(IN_P, 24 * DAYS, sog=0.0, every_min=15)
    noisy = Track(NOISY).fix(*SEA_EAST, 10).sail(BERTH, 3)
    for k in range(48 * 20):
        noisy.fix(BERTH[0] + (k % 3) * 1e-5, BERTH[1], 0.0 if k % 4 == 0 else 1.5, minutes=3)
    noisy.sail(SEA_EAST, 3)
    frame = positions(berthed, anchored, silent, drifter, resident, noisy)
    return frame.filter(pl.col("timestamp_utc") < T0 + timedelta(days=DAYS)).sort("timestamp_utc")


FLEET = _fleet()


def _settings(root: Path) -> Settings:
    circles = [
        CircleZone(id="P", name="Port P", lat=IN_P[1], lon=IN_P[0], radius_m=5000),
        CircleZone(
            id="P-anch",
            name="Outer anchorage",
            kind="anchorage",
            port="P",
            lat=ANCHOR[1],
            lon=ANCHOR[0],
            radius_m=2000,
        ),
        CircleZone(
            id="P-berth",
            name="Berth 1",
            kind="berth",
            port="P",
            lat=BERTH[1],
            lon=BERTH[0],
            radius_m=300,
        ),
    ]
    return Settings(
        store=StoreSettings(path=root / "store"),
        geofences=GeofenceSettings(circles=circles),
        detect=DetectSettings(max_silent_stay_h=12),
    )


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    root = tmp_path_factory.mktemp("batch")
    cycles(_settings(root), [FLEET])
    return detected_tables(root / "store")


def test_the_fleet_stays_in_port_and_lies_still(batch: dict[str, pl.DataFrame]) -> None:
    calls = batch["calls"]
    berthed = calls.filter(pl.col("mmsi") == BERTHED)
    assert berthed.height == 1 and berthed["duration_h"][0] > 95
    anchored = calls.filter(pl.col("mmsi") == ANCHORED)
    assert anchored.height == 1
    assert anchored["anchorage_h"][0] > 47 and anchored["berth_h"][0] > 47
    # The six-hour silence is one stay; after the sixty-hour one the vessel is a new visit.
    silent = calls.filter(pl.col("mmsi") == SILENT).sort("arrival_utc")
    assert silent.height == 2 and silent["max_gap_h"][0] == pytest.approx(6 + 1 / 6)
    assert calls.filter(pl.col("mmsi") == DRIFTER).is_empty()
    resident = calls.filter(pl.col("mmsi") == RESIDENT)
    assert resident["status"].to_list() == ["in_port"]
    assert not resident["arrival_observed"][0]
    noisy = calls.filter(pl.col("mmsi") == NOISY)
    assert noisy.height == 1 and noisy["stop_observed"][0] and noisy["duration_h"][0] > 47


def test_stays_across_many_cuts_equal_one_batch(
    tmp_path: Path, batch: dict[str, pl.DataFrame]
) -> None:
    cycles(_settings(tmp_path), by_hours(FLEET, CUT_H))
    found = detected_tables(tmp_path / "store")
    for name, frame in batch.items():
        assert found[name].equals(frame), name


def test_late_positions_inside_a_stay_equal_one_batch(
    tmp_path: Path, batch: dict[str, pl.DataFrame]
) -> None:
    # Half a day of the berthed ship's stay and of the anchored ship's anchorage come last.
    late = (
        pl.col("mmsi").is_in([BERTHED, ANCHORED])
        & (pl.col("timestamp_utc") >= T0 + timedelta(hours=30))
        & (pl.col("timestamp_utc") < T0 + timedelta(hours=42))
    )
    parts = by_hours(FLEET.filter(~late), CUT_H)
    parts.append(FLEET.filter(late))
    cycles(_settings(tmp_path), parts)
    found = detected_tables(tmp_path / "store")
    for name, frame in batch.items():
        assert found[name].equals(frame), name


def test_vessels_in_port_read_a_few_hours_per_cycle(tmp_path: Path) -> None:
    parts = by_hours(FLEET, CUT_H)
    summaries = cycles(_settings(tmp_path), parts)
    # From the second day on, every changed vessel goes on from a recent restart point inside
    # its stay: a cycle reads its new positions and the few hours before them (at most 60 of
    # a vessel's, six hours at a fix every six minutes), not the days of its stay.
    for part, summary in list(zip(parts, summaries, strict=True))[4:]:
        assert summary.vessels_resumed == summary.vessels_processed
        assert summary.positions_processed <= part.height + 60 * summary.vessels_processed
