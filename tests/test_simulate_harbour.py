"""Harbour scenario: the patterns of real reception simulated with truth, and detected as such."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from monitor.config import Settings, StoreSettings, load_config, shipped_config_path
from monitor.pipeline.detect import detect_calls
from monitor.pipeline.ingest import ingest_paths
from monitor.schema import CALLS_TRUTH_SCHEMA, SILENCES_TRUTH_SCHEMA
from monitor.simulate import simulate
from monitor.simulate.truth import read_truth_csv
from monitor.store.calls import load_calls
from monitor.store.parquet import Store


@dataclass
class HarbourRun:
    settings: Settings
    truth: pl.DataFrame
    silences: pl.DataFrame
    roles: pl.DataFrame
    calls: pl.DataFrame
    positions: pl.DataFrame

    def of(self, frame: pl.DataFrame, role: str) -> pl.DataFrame:
        mmsis = self.roles.filter(pl.col("role") == role)["mmsi"].implode()
        return frame.filter(pl.col("mmsi").is_in(mmsis))


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory) -> HarbourRun:
    folder = tmp_path_factory.mktemp("harbour")
    korea = load_config(shipped_config_path("korea"))
    settings = korea.model_copy(update={"store": StoreSettings(path=folder / "store")})
    result = simulate(settings, days=5, vessels=34, seed=3, output=folder, params="harbour")
    ingest_paths(result.nmea_paths, settings)
    detect_calls(settings)
    roles = pl.read_csv(result.truth_paths["vessels"]).select(
        pl.col("mmsi").cast(pl.UInt32), "role"
    )
    truth = read_truth_csv(result.truth_paths["calls"], CALLS_TRUTH_SCHEMA)
    return HarbourRun(
        settings=settings,
        truth=truth.with_columns(pl.col("mmsi").cast(pl.UInt32)),
        silences=read_truth_csv(result.truth_paths["silences"], SILENCES_TRUTH_SCHEMA),
        roles=roles,
        calls=load_calls(settings.store.path),
        positions=Store(settings.store.path).scan_positions().collect(),
    )


def overlaps(calls: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Return (call, true call) pairs of one vessel and port that overlap in time."""
    end = pl.coalesce("departure_utc", "last_seen_utc")
    spans = calls.with_row_index("d").select("d", "mmsi", "port_id", "arrival_utc", end=end)
    true = truth.with_row_index("t").select(
        "t", "mmsi", "port_id", t0=pl.col("arrival_utc"), t1=pl.col("departure_utc")
    )
    return spans.join(true, on=["mmsi", "port_id"]).filter(
        (pl.col("t0").is_null() | (pl.col("t0") <= pl.col("end")))
        & (pl.col("t1").is_null() | (pl.col("t1") >= pl.col("arrival_utc")))
    )


def test_the_scenario_has_every_pattern(harbour: HarbourRun) -> None:
    roles = set(harbour.roles["role"])
    assert {"ferry", "crewboat", "unheard_berth", "noisy_sog", "silent_in_port"} <= roles
    kinds = set(harbour.silences["kind"])
    assert {"unheard_berth", "in_port"} <= kinds


def test_crew_boat_round_trips_are_calls_of_their_own(harbour: HarbourRun) -> None:
    calls = harbour.of(harbour.calls, "crewboat")
    truth = harbour.of(harbour.truth, "crewboat")
    pairs = overlaps(calls, truth)
    assert truth.height >= 10
    # No call spans two returns to the berth, and every call is a true one.
    assert pairs.group_by("d").len()["len"].max() == 1
    assert pairs["d"].n_unique() == calls.height


def test_every_ferry_call_is_a_true_one(harbour: HarbourRun) -> None:
    calls = harbour.of(harbour.calls, "ferry")
    assert calls.height >= 5
    assert overlaps(calls, harbour.of(harbour.truth, "ferry"))["d"].n_unique() == calls.height


def test_berths_reached_unheard_make_no_call_at_the_anchorage(harbour: HarbourRun) -> None:
    calls = harbour.of(harbour.calls, "unheard_berth")
    pairs = overlaps(calls, harbour.of(harbour.truth, "unheard_berth"))
    assert pairs["d"].n_unique() == calls.height
    # What is found of them is a stay whose stop nobody saw.
    bridged = calls.filter(pl.col("max_gap_h") > harbour.settings.detect.max_gap_h)
    assert (bridged["stopped"] & ~bridged["stop_observed"]).all()


def test_noisy_sog_alongside_is_a_stop_seen_from_positions(harbour: HarbourRun) -> None:
    calls = harbour.of(harbour.calls, "noisy_sog")
    positions = harbour.of(harbour.positions, "noisy_sog")
    assert calls.height >= 2
    assert positions.filter(pl.col("nav_status") == 5)["sog_kn"].min() >= 0.3  # type: ignore[operator]
    assert calls["stop_observed"].all()


def test_silences_in_port_are_one_stay_up_to_the_bound(harbour: HarbourRun) -> None:
    start, end = harbour.positions["timestamp_utc"].min(), harbour.positions["timestamp_utc"].max()
    quiet = harbour.silences.filter(
        (pl.col("kind") == "in_port") & (pl.col("start_utc") > start) & (pl.col("end_utc") < end)
    ).with_columns(pl.col("mmsi").cast(pl.UInt32))
    assert quiet.height >= 2
    spans = harbour.calls.select(
        "mmsi", "arrival_utc", end=pl.coalesce("departure_utc", "last_seen_utc")
    )
    bound = harbour.settings.detect.max_silent_stay_h
    for row in quiet.iter_rows(named=True):
        covering = spans.filter(
            (pl.col("mmsi") == row["mmsi"])
            & (pl.col("arrival_utc") < row["start_utc"])
            & (pl.col("end") > row["end_utc"])
        )
        assert covering.height == (1 if row["duration_h"] <= bound else 0), row


def test_open_calls_of_vessels_silent_at_the_end_are_unknown(harbour: HarbourRun) -> None:
    data_end = harbour.positions["timestamp_utc"].max()
    limit = harbour.settings.detect.max_unheard_h
    heard = harbour.calls.filter(pl.col("departure_utc").is_null()).with_columns(
        silent_h=(pl.lit(data_end) - pl.col("last_seen_utc")).dt.total_seconds() / 3600
    )
    assert (heard.filter(pl.col("silent_h") > limit)["status"] == "unknown").all()
    assert (heard.filter(pl.col("silent_h") <= limit)["status"] == "in_port").all()


def test_harbour_is_a_documented_scenario() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "`harbour`" in readme
