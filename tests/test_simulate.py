"""Simulator: encoding matches pyais, truth matches the emitted tracks, runs are reproducible."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyais import decode, encode_dict
from shapely.geometry import Polygon
from simulate_fixtures import decode_positions, nmea_checksum, split_line, write_config

from monitor.analyse.geofences import load_zones
from monitor.config import Settings, load_config, shipped_config_path
from monitor.core.geo import MPS_PER_KN
from monitor.errors import ConfigError
from monitor.schema import CALLS_TRUTH_SCHEMA, MEETINGS_TRUTH_SCHEMA
from monitor.simulate import PRESETS, SimulationResult, simulate
from monitor.simulate.fleet import HOSTILE_NAMES, imo_number, make_fleet
from monitor.simulate.kinematics import AT_ANCHOR, MOORED, Stay, make_move
from monitor.simulate.nmea_writer import encode_positions, tagged_lines
from monitor.simulate.ports import PortModel
from monitor.simulate.seaways import KOREA_SEAS, WAYPOINTS
from monitor.simulate.truth import port_visits, read_truth_csv
from monitor.simulate.voyages import VesselPlan

START = datetime(2024, 3, 4, tzinfo=UTC)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_config(write_config(tmp_path_factory.mktemp("cfg")))


@pytest.fixture(scope="module")
def clean_run(config: Settings, tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("clean")
    return simulate(config, days=2, vessels=24, seed=4, output=out, params="clean")


@pytest.fixture(scope="module")
def noisy_run(config: Settings, tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("noisy")
    return simulate(config, days=1, vessels=16, seed=5, output=out, params="noisy")


@pytest.fixture(scope="module")
def dark_run(config: Settings, tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("dark")
    return simulate(config, days=3, vessels=24, seed=11, output=out, params="dark")


@pytest.fixture(scope="module")
def clean_positions(clean_run: SimulationResult) -> pl.DataFrame:
    return decode_positions(clean_run.nmea_paths)


@pytest.fixture(scope="module")
def dark_positions(dark_run: SimulationResult) -> pl.DataFrame:
    return decode_positions(dark_run.nmea_paths)


# --- encoding ------------------------------------------------------------------------------------

position_fields = st.fixed_dictionaries(
    {
        "type": st.sampled_from([1, 3, 18]),
        "mmsi": st.integers(200_000_000, 775_999_999),
        "status": st.integers(0, 15),
        "speed": st.integers(0, 1022).map(lambda v: v / 10),
        "lon": st.floats(-180, 180, allow_nan=False),
        "lat": st.floats(-90, 90, allow_nan=False),
        "course": st.integers(0, 3599).map(lambda v: v / 10),
        "heading": st.integers(0, 359) | st.just(511),
        "second": st.integers(0, 59),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(position_fields, min_size=1, max_size=8))
def test_position_payloads_equal_pyais(reports: list[dict[str, float]]) -> None:
    def column(name: str) -> np.ndarray:
        return np.array([r[name] for r in reports])

    payloads = encode_positions(
        msg_type=column("type").astype(np.int64),
        mmsi=column("mmsi").astype(np.int64),
        status=column("status").astype(np.int64),
        sog_kn=column("speed"),
        lon=column("lon"),
        lat=column("lat"),
        cog_deg=column("course"),
        heading_deg=column("heading").astype(np.int64),
        second=column("second").astype(np.int64),
    )
    for report, payload in zip(reports, payloads, strict=True):
        fields: dict[str, Any] = dict(report)
        fields["msg_type"] = fields["type"]
        if fields["type"] == 18:
            fields.pop("status")
            fields.update(cs=1, band=1)
        else:
            fields.update(turn=0, maneuver=0)
        expected = encode_dict(fields, talker_id="AI", sentence_type="VDM")[0].split(",")[5]
        assert payload.decode() == expected


def test_tag_block_and_sentence_checksums_are_valid() -> None:
    lines = tagged_lines(
        [b"AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0"], [b"rx1"], np.array([1709510400])
    )
    line = lines[0].decode()
    tag, sentence = split_line(line)
    body, tag_sum = tag.rsplit("*", 1)
    assert body == "s:rx1,c:1709510400"
    assert int(tag_sum, 16) == nmea_checksum(body)
    assert decode(sentence).mmsi == 366053209


def test_imo_numbers_have_valid_check_digits() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        digits = [int(d) for d in str(imo_number(rng))]
        assert len(digits) == 7
        assert (
            sum(d * w for d, w in zip(digits[:6], range(7, 1, -1), strict=True)) % 10 == digits[6]
        )


# --- routes --------------------------------------------------------------------------------------


def test_east_to_west_coast_goes_round_through_the_korea_strait() -> None:
    route = KOREA_SEAS.route((42.74, 133.05), (38.72, 125.35))
    assert WAYPOINTS["korea_strait"] in route
    assert WAYPOINTS["jeju_south"] in route
    # Never across the peninsula: every waypoint west of 128 E is south of 39.6 N.
    assert all(lat < 39.6 for lat, lon in route if lon < 128.0)


def test_ports_far_from_every_waypoint_sail_straight() -> None:
    assert KOREA_SEAS.route((55.0, 12.0), (56.0, 11.0)) == []


# --- the simulation ------------------------------------------------------------------------------


def test_same_seed_same_files_other_seed_other_files(config: Settings, tmp_path: Path) -> None:
    runs = [
        simulate(config, days=0.5, vessels=8, seed=seed, output=tmp_path / str(i))
        for i, seed in enumerate((9, 9, 10))
    ]
    texts = [
        b"".join(p.read_bytes() for p in r.nmea_paths) + r.truth_paths["calls"].read_bytes()
        for r in runs
    ]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_lines_are_tag_blocked_nmea_with_valid_checksums(clean_run: SimulationResult) -> None:
    lines = clean_run.nmea_paths[0].read_text(encoding="ascii").splitlines()
    assert len(lines) > 1000
    for line in lines[:2000]:
        tag, sentence = split_line(line)
        body, tag_sum = tag.rsplit("*", 1)
        assert int(tag_sum, 16) == nmea_checksum(body)
        assert body.startswith("s:rx1,c:")
        payload, sentence_sum = sentence[1:].rsplit("*", 1)
        assert int(sentence_sum, 16) == nmea_checksum(payload)


def test_reports_stay_inside_the_period_and_follow_reporting_rates(
    clean_run: SimulationResult, clean_positions: pl.DataFrame
) -> None:
    positions = clean_positions
    start, end = clean_run.start.timestamp(), clean_run.end.timestamp()
    assert positions["t_s"].min() >= start  # type: ignore[operator]
    assert positions["t_s"].max() < end  # type: ignore[operator]
    gaps = (
        positions.sort("mmsi", "t_s")
        .with_columns(
            dt=pl.col("t_s").diff().over("mmsi"), prev=pl.col("status").shift().over("mmsi")
        )
        .filter(pl.col("dt").is_not_null())
    )
    moored = gaps.filter((pl.col("status") == 5) & (pl.col("prev") == 5))["dt"]
    under_way = gaps.filter((pl.col("status") == 0) & (pl.col("prev") == 0))["dt"]
    assert 170 <= moored.median() <= 190  # type: ignore[operator]
    assert 55 <= under_way.median() <= 65  # type: ignore[operator]


def test_statuses_match_where_vessels_are(clean_positions: pl.DataFrame, config: Settings) -> None:
    positions = clean_positions
    zones = load_zones(config)
    anchorages = shapely.union_all([z.geometry for z in zones if z.kind == "anchorage"])
    ports = shapely.union_all([z.geometry for z in zones])
    lon, lat = positions["lon"].to_numpy(), positions["lat"].to_numpy()
    status = positions["status"].to_numpy()
    in_port = shapely.contains_xy(ports, lon, lat)
    in_anchorage = shapely.contains_xy(anchorages, lon, lat)
    assert (status == 5).sum() > 100
    assert in_port[status == 5].all()
    assert (status == 1).sum() > 10
    # Anchored inside an anchorage, or loitering off the coast, never in a port basin.
    anchored_in_port = in_port[status == 1]
    assert in_anchorage[status == 1][anchored_in_port].all()
    moored_speed = positions.filter(pl.col("status") == 5)["sog_kn"]
    assert moored_speed.max() < 0.5  # type: ignore[operator]


def test_true_arrivals_and_departures_are_polygon_crossings(
    clean_run: SimulationResult, clean_positions: pl.DataFrame, config: Settings
) -> None:
    calls = read_truth_csv(clean_run.truth_paths["calls"], CALLS_TRUTH_SCHEMA)
    positions = clean_positions
    zones = load_zones(config)
    checked = 0
    for call in calls.filter(pl.col("arrival_observable")).iter_rows(named=True):
        area = shapely.union_all([z.geometry for z in zones if z.port_id == call["port_id"]])
        t = call["arrival_utc"].timestamp()
        track = positions.filter(
            (pl.col("mmsi") == call["mmsi"]) & pl.col("t_s").is_between(t - 900, t + 900)
        )
        inside = shapely.contains_xy(area, track["lon"].to_numpy(), track["lat"].to_numpy())
        # Reports are whole seconds and positions 1/10000 minute: skip the crossing second.
        before = track["t_s"].to_numpy() < t - 1
        after = track["t_s"].to_numpy() > t + 1
        assert before.any() and after.any()
        assert not inside[before].any()
        assert inside[after].all()
        checked += 1
    assert checked >= 5
    assert (calls["departure_utc"] > calls["arrival_utc"]).all()


def test_anchorage_waits_are_part_of_the_call(clean_run: SimulationResult) -> None:
    calls = read_truth_csv(clean_run.truth_paths["calls"], CALLS_TRUTH_SCHEMA)
    assert set(calls["kind"]) >= {"berth", "anchorage_then_berth"}
    waited = calls.filter(pl.col("kind") == "anchorage_then_berth")
    assert (waited["anchorage_h"] > 0).all()
    assert (waited["berth_h"] > 0).all()


def test_clean_scenario_has_no_noise_and_no_silences(clean_run: SimulationResult) -> None:
    assert clean_run.noise == {k: 0 for k in clean_run.noise}
    assert clean_run.n_silences == 0
    calls = read_truth_csv(clean_run.truth_paths["calls"], CALLS_TRUTH_SCHEMA)
    inside = calls.filter(pl.col("arrival_utc") > clean_run.start)
    assert inside["arrival_observable"].all()


def test_noise_is_what_the_counters_say(noisy_run: SimulationResult) -> None:
    lines = [
        line for p in noisy_run.nmea_paths for line in p.read_text(encoding="ascii").splitlines()
    ]
    assert len(lines) == noisy_run.n_lines
    bad = truncated = rx2 = 0
    times = []
    for line in lines:
        tag, sentence = split_line(line) if line.count("\\") >= 2 else ("", line)
        if not re.fullmatch(r"!AIVDM,\d,\d,\d?,[AB],[^,]*,\d\*[0-9A-F]{2}", sentence):
            truncated += 1
            continue
        payload, check = sentence[1:].rsplit("*", 1)
        if int(check, 16) != nmea_checksum(payload):
            bad += 1
        rx2 += tag.startswith("s:rx2")
        times.append(int(tag.split("c:")[1].split("*")[0]))
    assert bad >= noisy_run.noise["bad_checksum"] * 0.9
    assert truncated <= noisy_run.noise["truncated"]
    assert truncated >= noisy_run.noise["truncated"] * 0.5
    assert rx2 >= noisy_run.noise["duplicates"] * 0.95
    # Late lines: some reception times go backwards in the file.
    assert (np.diff(np.array(times)) < -60).sum() >= noisy_run.noise["late"] * 0.5
    positions = decode_positions(noisy_run.nmea_paths)
    assert (positions["lat"] == 91).sum() > 0
    assert (positions["lon"] == 181).sum() > 0


def test_duplicates_repeat_the_sentence_within_two_seconds(noisy_run: SimulationResult) -> None:
    seen: dict[str, int] = {}
    checked = 0
    for line in noisy_run.nmea_paths[0].read_text(encoding="ascii").splitlines()[:20000]:
        if line.count("\\") < 2 or "c:" not in line:
            continue  # truncated on purpose
        tag, sentence = split_line(line)
        if (sentence.split(",") + [""] * 6)[5][:1] not in ("1", "3", "B"):
            continue  # static reports repeat unchanged every few minutes
        t = int(tag.split("c:")[1].split("*")[0])
        if tag.startswith("s:rx1"):
            seen[sentence] = t
        elif sentence in seen:
            assert 0 <= t - seen[sentence] <= 2
            checked += 1
    assert checked > 50


def test_vessel_names_include_html_special_characters(clean_run: SimulationResult) -> None:
    names = set()
    for path in clean_run.nmea_paths:
        lines = path.read_text(encoding="ascii").splitlines()
        for first, second in itertools.pairwise(lines):
            s1, s2 = split_line(first)[1], split_line(second)[1]
            if s1.startswith("!AIVDM,2,1") and s2.startswith("!AIVDM,2,2"):
                message: Any = decode(s1, s2)
                names.add(message.shipname)
    assert {'A&B "Q"', "<IMG SRC=X ONERROR="} <= names | {HOSTILE_NAMES[0][:19]}
    assert any("<" in n for n in names) and any("&" in n for n in names)


def test_dark_vessels_send_nothing_while_dark(
    dark_run: SimulationResult, dark_positions: pl.DataFrame
) -> None:
    silences = pl.read_csv(dark_run.truth_paths["silences"], try_parse_dates=True)
    assert {"dark_arrival", "dark_departure"} <= set(silences["kind"])
    positions = dark_positions
    for row in silences.iter_rows(named=True):
        a, b = row["start_utc"].timestamp(), row["end_utc"].timestamp()
        during = positions.filter((pl.col("mmsi") == row["mmsi"]) & pl.col("t_s").is_between(a, b))
        assert during.height == 0
    calls = read_truth_csv(dark_run.truth_paths["calls"], CALLS_TRUTH_SCHEMA)
    dark_arrivals = calls.filter(
        ~pl.col("arrival_observable") & (pl.col("arrival_utc") > dark_run.start)
    )
    assert dark_arrivals.height >= 1
    assert (dark_arrivals["visible_h"] > 0).all()


def test_meetings_put_two_vessels_side_by_side(
    dark_run: SimulationResult, dark_positions: pl.DataFrame
) -> None:
    meetings = read_truth_csv(dark_run.truth_paths["meetings"], MEETINGS_TRUTH_SCHEMA)
    assert set(meetings["kind"]) == {"visible", "partly_dark", "dark"}
    positions = dark_positions
    for row in meetings.iter_rows(named=True):
        assert row["end_utc"] > row["start_utc"]
        a, b = row["start_utc"].timestamp(), row["end_utc"].timestamp()
        seen_a = positions.filter(
            (pl.col("mmsi") == row["mmsi_a"]) & pl.col("t_s").is_between(a, b)
        )
        seen_b = positions.filter(
            (pl.col("mmsi") == row["mmsi_b"]) & pl.col("t_s").is_between(a, b)
        )
        assert seen_a.height > 0
        assert abs(seen_a["lat"].median() - row["lat"]) < 0.01
        assert abs(seen_a["lon"].median() - row["lon"]) < 0.01
        if row["kind"] == "visible":
            # Both heard all along, and the meeting spans a midnight UTC.
            assert row["dark_mmsi"] is None
            assert row["start_utc"].date() != row["end_utc"].date()
            assert seen_b.height > 0.8 * seen_a.height
        elif row["kind"] == "dark":
            assert row["dark_mmsi"] == row["mmsi_b"]
            assert seen_b.height == 0
        else:
            # Heard at the spot after arriving and before leaving, silent for hours between.
            assert row["dark_mmsi"] == row["mmsi_b"]
            times = seen_b["t_s"].sort()
            assert times.head(1).item() < a + 1.5 * 3600
            assert times.tail(1).item() > b - 1.5 * 3600
            assert times.diff().max() > 5 * 3600  # type: ignore[operator]


def test_bad_arguments_are_clear_errors(config: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="days"):
        simulate(config, days=0, vessels=3, output=tmp_path)
    with pytest.raises(ConfigError, match="unknown scenario 'stormy'"):
        simulate(config, days=1, vessels=3, output=tmp_path, params="stormy")
    with pytest.raises(ConfigError, match="no port zones"):
        simulate(Settings(), days=1, vessels=3, output=tmp_path)
    assert "clean" in PRESETS


# --- kinematics and truth units -------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-5e4, 5e4), st.floats(-5e4, 5e4)), min_size=2, max_size=6),
    st.floats(4.0, 16.0),
)
def test_moves_cover_their_path_at_the_planned_speeds(
    points: list[tuple[float, float]], cruise_kn: float
) -> None:
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    move = make_move(1000.0, xs, ys, cruise_kn)
    assert move.knot_d_m[-1] == pytest.approx(move.length_m)
    x_end, y_end = move.position_at(np.array([move.t1_s]))
    if move.length_m > 1.0:
        assert x_end[0] == pytest.approx(xs[-1], abs=1e-6)
        assert y_end[0] == pytest.approx(ys[-1], abs=1e-6)
    # Never faster than cruise speed, slow at both ends of a long move.
    pace = np.diff(move.knot_d_m) / np.diff(move.knot_t_s) / MPS_PER_KN
    assert pace.max() <= cruise_kn + 1e-9
    if move.length_m > 50_000:
        assert pace[0] <= 3.0 + 1e-9 and pace[-1] <= 3.5 + 1e-9
    mid = move.time_at(np.array([move.length_m / 2]))[0]
    assert move.t0_s < mid < move.t1_s


def _square(x0: float, y0: float, side_m: float) -> Polygon:
    return Polygon([(x0, y0), (x0 + side_m, y0), (x0 + side_m, y0 + side_m), (x0, y0 + side_m)])


def test_visits_join_an_outer_anchorage_and_the_berth_but_not_two_calls() -> None:
    port = PortModel(
        port_id="p",
        name="P",
        country=None,
        area=shapely.union_all([_square(0, 0, 2000), _square(10_000, 0, 2000)]),
        berths=(),
        anchorages=(),
        anchor_latlon=(0.0, 0.0),
    )
    vessel = make_fleet(["cargo"], np.random.default_rng(0))[0]
    vp = VesselPlan(vessel)
    inbound = make_move(0.0, np.array([30_000.0, 11_000.0]), np.array([1000.0, 1000.0]), 12.0)
    vp.legs.append(inbound)
    t = inbound.t1_s
    vp.legs.append(Stay(t, t + 7200, 11_000, 1000, AT_ANCHOR, "anchor", "p"))
    shift = make_move(t + 7200, np.array([11_000.0, 1000.0]), np.array([1000.0, 1000.0]), 5.0)
    vp.legs.append(shift)
    t = shift.t1_s
    vp.legs.append(Stay(t, t + 36_000, 1000, 1000, MOORED, "berth", "p"))
    out = make_move(
        t + 36_000,
        np.array([1000.0, 1000.0, 1000.0]),
        np.array([1000.0, -30_000.0, -30_000.0]),
        12.0,
    )
    vp.legs.append(out)
    visits = port_visits(vp, [port])
    assert len(visits) == 1
    visit = visits[0]
    # Entry at x = 12 000 m on the inbound leg, exit at y = 0 on the outbound leg.
    assert visit.entry_s == pytest.approx(inbound.time_at(np.array([18_000.0]))[0])
    assert visit.exit_s == pytest.approx(out.time_at(np.array([1000.0]))[0])
    assert visit.anchorage_s == pytest.approx(7200) and visit.berth_s == pytest.approx(36_000)
    # A second call after a stop elsewhere stays a separate visit.
    t = out.t1_s
    vp.legs.append(Stay(t, t + 3600, 1000, -30_000, MOORED, "berth", "q"))
    back = make_move(t + 3600, np.array([1000.0, 1000.0]), np.array([-30_000.0, 1000.0]), 12.0)
    vp.legs.append(back)
    vp.legs.append(Stay(back.t1_s, back.t1_s + 3600, 1000, 1000, MOORED, "berth", "p"))
    visits = port_visits(vp, [port])
    assert len(visits) == 2
    assert not visits[1].exit_known


def test_a_shorter_rerun_leaves_no_day_files_of_the_longer_one(
    config: Settings, tmp_path: Path
) -> None:
    long = simulate(config, days=2, vessels=3, seed=1, output=tmp_path)
    short = simulate(config, days=0.5, vessels=3, seed=1, output=tmp_path)
    assert len(long.nmea_paths) > len(short.nmea_paths)
    assert sorted((tmp_path / "nmea").iterdir()) == short.nmea_paths


def test_sea_routes_stay_off_land() -> None:
    pyogrio = pytest.importorskip("pyogrio")
    path = (
        Path(pyogrio.__file__).parent / "tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp"
    )
    if not path.is_file():
        pytest.skip("Natural Earth fixture not installed")
    _, _, wkb, _ = pyogrio.raw.read(path)
    land = shapely.union_all(shapely.from_wkb(wkb))
    # The 1:110m coastline is coarse: allow a 5 km margin.
    core = land.buffer(-0.05)
    assert not any(land.contains(shapely.Point(lon, lat)) for lat, lon in WAYPOINTS.values())
    for a, b in KOREA_SEAS.edges:
        (lat_a, lon_a), (lat_b, lon_b) = WAYPOINTS[a], WAYPOINTS[b]
        assert not shapely.LineString([(lon_a, lat_a), (lon_b, lat_b)]).intersects(core), (a, b)


def test_the_shipped_korea_config_simulates_calls_at_its_ports(tmp_path: Path) -> None:
    korea = load_config(shipped_config_path("korea"))
    result = simulate(korea, days=1, vessels=12, seed=2, output=tmp_path, params="clean")
    calls = read_truth_csv(result.truth_paths["calls"], CALLS_TRUTH_SCHEMA)
    ports = {zone.port_id for zone in load_zones(korea)}
    assert calls.height >= 5
    assert set(calls["port_id"]) <= ports
    vessels = pl.read_csv(result.truth_paths["vessels"])
    assert set(vessels["role"]) >= {"cargo", "transit", "fishing"}
