"""The simulator's hard scenario: shared MMSIs, displaced bursts, sparse reception, receiver
outages and a stepping clock, each with the truth behind it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from simulate_fixtures import decode_positions, write_config

from monitor.config import Settings, load_config
from monitor.schema import (
    BURSTS_TRUTH_SCHEMA,
    CLOCK_TRUTH_SCHEMA,
    IDENTITY_TRUTH_SCHEMA,
    OUTAGES_TRUTH_SCHEMA,
    VESSELS_TRUTH_SCHEMA,
)
from monitor.simulate import PRESETS, SimulationResult, simulate
from monitor.simulate.params import ReceptionParams
from monitor.simulate.truth import read_truth_csv


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_config(write_config(tmp_path_factory.mktemp("hard-config")))


@pytest.fixture(scope="module")
def hard(config: Settings, tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("hard")
    return simulate(config, days=1.5, vessels=30, seed=5, output=out, params="hard")


def truth(run: SimulationResult, name: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return read_truth_csv(run.truth_paths[name], schema)


def test_two_ships_broadcast_each_shared_mmsi_far_apart(hard: SimulationResult) -> None:
    identity = truth(hard, "identity", IDENTITY_TRUTH_SCHEMA)
    shared = identity.filter(pl.col("kind") == "shared_mmsi")["mmsi"].to_list()
    assert len(shared) == 2
    vessels = truth(hard, "vessels", VESSELS_TRUTH_SCHEMA)
    for mmsi in shared:
        both = vessels.filter(pl.col("mmsi") == mmsi)
        assert both.height == 2 and both["vessel_name"].n_unique() == 2
    fixes = decode_positions(hard.nmea_paths).filter(pl.col("mmsi").is_in(shared))
    # Within one minute the MMSI is heard in two places more than 50 km apart.
    minute = fixes.with_columns(m=pl.col("t_s") // 60).group_by("mmsi", "m")
    spread = minute.agg(dlat=pl.col("lat").max() - pl.col("lat").min(), n=pl.len())
    assert spread.filter(pl.col("dlat") > 0.5).height > 0


def test_the_other_identity_tricks_are_in_the_truth(hard: SimulationResult) -> None:
    identity = truth(hard, "identity", IDENTITY_TRUTH_SCHEMA)
    kinds = identity["kind"].to_list()
    assert kinds.count("imo_reuse") == 1 and kinds.count("identity_change") == 1
    default = identity.filter(pl.col("kind") == "invalid_mmsi")["mmsi"].to_list()
    assert default == [123_456_789]
    heard = set(decode_positions(hard.nmea_paths)["mmsi"].to_list())
    assert 123_456_789 in heard


def test_bursts_displace_runs_of_reports_and_say_how_many_were_heard(
    hard: SimulationResult,
) -> None:
    bursts = truth(hard, "bursts", BURSTS_TRUTH_SCHEMA)
    assert bursts.height == hard.noise["bursts"] > 0
    assert (bursts["n_heard"] <= bursts["n_reports"]).all()
    assert bursts["n_reports"].is_between(3, 40).all()
    assert bursts["distance_km"].is_between(30, 300).all()
    fixes = decode_positions(hard.nmea_paths)
    for row in bursts.filter(pl.col("n_heard") > 0).iter_rows(named=True):
        start = int(row["start_utc"].timestamp()) - 180
        end = int(row["end_utc"].timestamp()) + 180
        near = fixes.filter(
            (pl.col("mmsi") == row["mmsi"])
            & pl.col("t_s").is_between(start, end)
            & ((pl.col("lat") - row["lat"]).abs() < 0.2)
            & ((pl.col("lon") - row["lon"]).abs() < 0.2)
        )
        assert near.height >= 1


def test_at_sea_only_satellite_passes_hear_ships(hard: SimulationResult) -> None:
    assert hard.noise["not_heard"] > 0
    outages = truth(hard, "outages", OUTAGES_TRUTH_SCHEMA)
    assert set(outages["port_id"]) <= {"nampo", "rajin", "vostochny", "vladivostok"}
    assert (outages["end_utc"] > outages["start_utc"]).all()


def test_each_line_names_the_receiver_that_heard_it(hard: SimulationResult) -> None:
    outages = truth(hard, "outages", OUTAGES_TRUTH_SCHEMA)
    assert outages.height > 0
    assert (outages["receiver"] == "rx-" + outages["port_id"]).all()
    stations: dict[str, list[int]] = {}
    for path in hard.nmea_paths:
        for line in path.read_text(encoding="ascii").splitlines():
            if line.count("\\") >= 2 and line.startswith("\\s:") and ",c:" in line:
                station, rest = line[3:].split(",c:", 1)
                stations.setdefault(station, []).append(int(rest.split("*")[0]))
    coastal = {f"rx-{port}" for port in ("nampo", "rajin", "vostochny", "vladivostok")}
    first = {s for s in stations if not s.endswith("-2")}
    assert first & coastal and first <= coastal | {"sat"}
    assert "sat" in first
    # While a coastal receiver is down it hears nothing (its clock lags by up to a minute).
    for row in outages.iter_rows(named=True):
        start = row["start_utc"].timestamp() + 60
        end = row["end_utc"].timestamp() - 120  # a clock step logs lines 2 minutes early
        heard = np.array(stations.get(row["receiver"], []))
        assert not ((heard > start) & (heard < end)).any()


def test_the_receiver_clock_steps_back_two_minutes(hard: SimulationResult) -> None:
    steps = truth(hard, "clock", CLOCK_TRUTH_SCHEMA)
    assert steps.height == hard.noise["clock_steps"]
    assert set(steps["offset_s"]) <= {-120}


def test_the_tricks_off_simulate_what_the_scenario_did_without_them(
    config: Settings, tmp_path: Path
) -> None:
    plain = replace(
        PRESETS["hard"],
        reception=ReceptionParams(),
        shared_mmsi_pairs=0,
        bursts_per_vessel_day=0.0,
        renamed_vessels=0,
        imo_reuse_pairs=0,
        default_mmsi_vessels=0,
    )
    a = simulate(config, days=0.5, vessels=12, seed=3, output=tmp_path / "a", params=plain)
    b = simulate(config, days=0.5, vessels=12, seed=3, output=tmp_path / "b", params="default")
    for left, right in zip(a.nmea_paths, b.nmea_paths, strict=True):
        assert np.array_equal(
            np.frombuffer(left.read_bytes(), np.uint8), np.frombuffer(right.read_bytes(), np.uint8)
        )
