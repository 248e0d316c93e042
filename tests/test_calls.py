"""Calls in the store: incremental detection, enrichment, load, export and the CLI."""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tracks_portcalls import (
    BERTH,
    IN_P,
    IN_Q,
    SEA_EAST,
    SEA_WEST,
    T0,
    ZONES,
    Track,
    positions,
    statics,
    write_store,
)

from monitor.analyse.portcalls.detect import detect
from monitor.analyse.portcalls.identity import enrich
from monitor.cli import main
from monitor.config import CircleZone, GeofenceSettings, Settings, StoreSettings
from monitor.core.times import iso_utc
from monitor.errors import ConfigError, StoreError
from monitor.pipeline.detect import detect_calls
from monitor.report.exports import calls_text, export_calls
from monitor.schema import CALLS_SCHEMA, CALLS_WITH_POSITION_SCHEMA, REPORT_CALLS_SCHEMA
from monitor.store.calls import CALLS, TRANSITS, filter_calls, load_calls
from monitor.store.events import load_events

GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {
                "id": zone.id,
                "name": zone.name,
                "kind": zone.kind,
                **({"port": zone.port_id} if zone.port_id != zone.id else {}),
            },
            "geometry": zone.geometry.__geo_interface__,
        }
        for zone in ZONES
    ],
}

VOSTOCHNY_MMSI = 273_111_222  # Russia
RAJIN_MMSI = 445_000_111  # North Korea


def voyage() -> list[Track]:
    a = (
        Track(VOSTOCHNY_MMSI)
        .fix(*SEA_WEST, 10)
        .sail(BERTH, 2)
        .stay(BERTH, 6)
        .sail(IN_Q, 10)
        .stay(IN_Q, 5)
        .sail((1.5, 0.5), 3)
    )
    b = Track(RAJIN_MMSI).stay(IN_P, 3).sail(SEA_EAST, 2).silence(6).sail(IN_Q, 2).stay(IN_Q, 4)
    return [a, b]


def identity() -> pl.DataFrame:
    return statics(
        [
            {
                "mmsi": VOSTOCHNY_MMSI,
                "timestamp_utc": T0 - timedelta(hours=1),
                "imo": 9_123_456,
                "vessel_name": "SEVER [X]",
                "callsign": "UBAB2",
                "ship_type": 70,
                "draught_m": 5.5,
                "destination": "RAJIN",
            },
            {
                "mmsi": VOSTOCHNY_MMSI,
                "timestamp_utc": T0 + timedelta(hours=7),
                "draught_m": 8.1,
                "destination": "VOSTOCHNY",
            },
            {"mmsi": RAJIN_MMSI, "timestamp_utc": T0 + timedelta(hours=20), "vessel_name": "RA"},
        ]
    )


def make_settings(root: Path) -> Settings:
    geo = root / "zones.geojson"
    geo.write_text(json.dumps(GEOJSON), encoding="utf-8")
    return Settings(
        store=StoreSettings(path=root / "store"), geofences=GeofenceSettings(files=[geo])
    )


@pytest.fixture
def store_settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path)
    write_store(settings.store.path, positions(*voyage()), "part0", identity())
    return settings


def test_detect_calls_writes_enriched_calls(store_settings: Settings) -> None:
    summary = detect_calls(store_settings)
    assert summary.calls_total == 4
    assert summary.calls_new == 4
    assert summary.calls_open == 1
    assert summary.calls_per_port == {"P": 2, "Q": 2}
    assert summary.full_run
    calls = load_calls(store_settings.store.path)
    assert calls.schema == pl.Schema(CALLS_WITH_POSITION_SCHEMA)
    assert list(calls.columns[: len(CALLS_SCHEMA)]) == list(CALLS_SCHEMA)
    assert calls["arrival_utc"].is_sorted()
    ship = calls.filter(pl.col("mmsi") == VOSTOCHNY_MMSI).sort("arrival_utc")
    first, second = ship.row(0, named=True), ship.row(1, named=True)
    assert first["vessel_name"] == "SEVER [X]"
    assert first["imo"] == 9_123_456 and first["callsign"] == "UBAB2"
    assert first["ship_type"] == "Cargo"
    assert first["flag"] == "Russia"
    assert first["berth_h"] > 5
    assert first["arrival_draught_m"] == 5.5
    assert first["departure_draught_m"] == 8.1  # loaded at the berth
    assert first["destination"] == "RAJIN"
    assert first["prev_port_id"] is None
    assert second["prev_port_id"] == "P"
    assert second["prev_departure_utc"] == first["departure_utc"]
    assert second["arrival_draught_m"] == 8.1
    assert second["destination"] == "VOSTOCHNY"
    other = calls.filter(pl.col("mmsi") == RAJIN_MMSI)
    assert other["flag"].to_list() == ["North Korea", "North Korea"]
    # Only report after both calls: the name still applies to them.
    assert other["vessel_name"].to_list() == ["RA", "RA"]
    assert other["arrival_draught_m"].to_list() == [None, None]
    assert calls["lon"].is_between(-0.5, 1.2).all()


def test_second_run_without_new_data_changes_nothing(store_settings: Settings) -> None:
    detect_calls(store_settings)
    before = load_calls(store_settings.store.path)
    again = detect_calls(store_settings)
    assert again.vessels_processed == 0
    assert again.calls_new == 0
    assert not again.full_run
    assert load_calls(store_settings.store.path).equals(before)


def test_new_statics_alone_reach_stored_calls(store_settings: Settings) -> None:
    detect_calls(store_settings)
    late_name = statics(
        [{"mmsi": RAJIN_MMSI, "timestamp_utc": T0, "vessel_name": "RAJIN STAR", "ship_type": 80}]
    )
    write_store(store_settings.store.path, positions(), "late", late_name)
    detect_calls(store_settings)
    other = load_calls(store_settings.store.path).filter(pl.col("mmsi") == RAJIN_MMSI)
    assert other["vessel_name"].to_list() == ["RAJIN STAR", "RAJIN STAR"]
    assert other["ship_type"].to_list() == ["Tanker", "Tanker"]


def test_changed_geofences_rerun_every_vessel(store_settings: Settings) -> None:
    detect_calls(store_settings)
    fewer = store_settings.model_copy(
        update={
            "geofences": GeofenceSettings(
                circles=[CircleZone(id="Q", name="Q", lat=0.05, lon=1.05, radius_m=6000)]
            )
        }
    )
    summary = detect_calls(fewer)
    assert summary.full_run
    assert summary.calls_per_port == {"Q": 2}


def test_transits_and_visits_under_way_are_stored(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    transit = Track(5).fix(*SEA_WEST, 12).sail(SEA_EAST, 2)
    arriving = Track(6).fix(*SEA_WEST, 10).sail(IN_P, 2).sail((0.075, 0.05), 0.5, sog=4)
    write_store(settings.store.path, positions(transit, arriving), "a")
    summary = detect_calls(settings)
    assert summary.calls_total == 0 and summary.transits_total == 1
    assert summary.visits_pending == 1
    assert summary.transits_per_port == {"P": 1}
    assert TRANSITS.read(settings.store.path)["mmsi"].to_list() == [5]
    again = detect_calls(settings)
    assert again.vessels_processed == 0
    assert (again.transits_total, again.visits_pending) == (1, 1)
    # The vessel under way stops: its visit becomes a call.
    write_store(settings.store.path, positions(Track(6, arriving.t).stay(IN_P, 1)), "b")
    third = detect_calls(settings)
    assert (third.vessels_processed, third.calls_new, third.visits_pending) == (1, 1, 0)


def test_missing_store_and_missing_zones_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="monitor ingest"):
        detect_calls(Settings(store=StoreSettings(path=tmp_path / "nowhere")))
    (tmp_path / "store").mkdir()
    with pytest.raises(ConfigError, match="geofences"):
        detect_calls(Settings(store=StoreSettings(path=tmp_path / "store")))


def test_detect_on_a_store_without_positions(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    Path(settings.store.path).mkdir()
    summary = detect_calls(settings)
    assert summary.calls_total == 0 and summary.positions_processed == 0
    assert load_calls(settings.store.path).is_empty()


def test_load_calls_of_empty_store_is_empty_with_schema(tmp_path: Path) -> None:
    calls = load_calls(tmp_path)
    assert calls.is_empty() and calls.schema == pl.Schema(CALLS_WITH_POSITION_SCHEMA)


def test_enrich_without_statics_leaves_identity_null() -> None:
    raw = detect(positions(*voyage()), ZONES, Settings().detect)
    calls = enrich(raw, statics([{"mmsi": 1, "timestamp_utc": T0}]))
    assert calls["vessel_name"].null_count() == calls.height
    assert calls["flag"].null_count() == 0


# ---------------------------------------------------------------------------------------------
# Incremental == all at once


def _feed() -> pl.DataFrame:
    tracks = [
        *voyage(),
        Track(366_000_001)
        .fix(*SEA_WEST, 10)
        .sail(IN_P, 2)
        .stay(IN_P, 3, sog=0.3)
        .sail(SEA_EAST, 2),
        Track(412_000_002).fix(*SEA_EAST, 10).sail(IN_P, 1).stay(IN_P, 2).silence(8).stay(IN_P, 1),
        Track(538_000_003).fix(*SEA_WEST, 12).sail(SEA_EAST, 2, sog=12),
        # Two ships on one MMSI at once, in P and in Q.
        Track(SHARED_MMSI).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 6).sail(SEA_WEST, 2),
        Track(SHARED_MMSI, T0 + timedelta(minutes=3)).stay(IN_Q, 7).sail(SEA_EAST, 2),
        # Two vessels lying together at sea for 5 hours: an encounter, and each loitering.
        Track(MEETING_MMSIS[0]).stay(AT_SEA, 5, sog=0.3),
        Track(MEETING_MMSIS[1], T0 + timedelta(minutes=2)).stay(
            (AT_SEA[0], AT_SEA[1] + 0.002), 5, sog=0.2
        ),
    ]
    return positions(*tracks).sort("timestamp_utc")


#: Two vessels that meet at sea in the feed, and where.
MEETING_MMSIS = (273_777_001, 412_777_002)
AT_SEA = (0.6, 0.3)


#: Used by two ships at once in the feed.
SHARED_MMSI = 273_555_444


FEED = _feed()


def _detected_after(parts: list[pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the calls and events after detecting once after each part is stored."""
    root = Path(tempfile.mkdtemp(prefix="calls-"))
    try:
        settings = make_settings(root)
        write_store(settings.store.path, positions(), "x", identity())
        for i, part in enumerate(parts):
            write_store(settings.store.path, part, f"part{i}")
            detect_calls(settings)
        return load_calls(settings.store.path), load_events(settings.store.path)
    finally:
        shutil.rmtree(root)


ALL_AT_ONCE, ALL_EVENTS = _detected_after([FEED])


# Each example runs up to four detections; the restart, in-port, identity and behaviour cycle
# tests cut their feeds deterministically, so a dozen draws and the edge cases here do.
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(cuts=[1, FEED.height - 1], late=[])
@example(cuts=[100, 250, 400], late=[0, 5, 120, 260, 300, 401, 470, 478])
@given(
    cuts=st.lists(st.integers(1, FEED.height - 1), min_size=1, max_size=3, unique=True),
    late=st.lists(st.integers(0, FEED.height - 1), max_size=10, unique=True),
)
def test_detect_after_each_ingest_equals_one_detect(cuts: list[int], late: list[int]) -> None:
    # Rows listed in ``late`` are held back and arrive with the last part, out of time order.
    held = FEED.with_row_index("i").filter(pl.col("i").is_in(late)).drop("i")
    on_time = FEED.with_row_index("i").filter(~pl.col("i").is_in(late)).drop("i")
    bounds = [0, *sorted(c for c in cuts if c < on_time.height), on_time.height]
    parts = [on_time.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    parts[-1] = pl.concat([parts[-1], held])
    calls, events = _detected_after(parts)
    assert calls.equals(ALL_AT_ONCE)
    assert events.equals(ALL_EVENTS)


def test_all_at_once_finds_the_expected_calls() -> None:
    assert ALL_AT_ONCE.height == 8
    assert ALL_AT_ONCE["call_id"].n_unique() == 8
    shared = ALL_AT_ONCE.filter(pl.col("mmsi") == SHARED_MMSI).sort("port_id")
    assert shared["port_id"].to_list() == ["P", "Q"]
    assert shared["track_id"].n_unique() == 2 and shared["shared_mmsi"].all()
    assert ALL_EVENTS.filter(pl.col("kind") == "shared_mmsi")["mmsi"].to_list() == [SHARED_MMSI]
    # The behaviour events, whose equality across splits the property above checks too.
    kinds = ALL_EVENTS.group_by("kind").agg(pl.col("mmsi").unique().sort())
    found = dict(zip(kinds["kind"], kinds["mmsi"].to_list(), strict=True))
    assert found["encounter"] == [MEETING_MMSIS[0]]
    assert found["loitering"] == sorted(MEETING_MMSIS)
    # 412000002 silent 8 h in port P, RAJIN 6 h at sea (both dark: the others are heard).
    assert set(found["gap"]) >= {412_000_002, RAJIN_MMSI}


# ---------------------------------------------------------------------------------------------
# Export and CLI


def test_export_csv_has_schema_columns_and_utc_times(store_settings: Settings) -> None:
    detect_calls(store_settings)
    text = export_calls(load_calls(store_settings.store.path), "csv", None)
    assert text is not None
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(CALLS_SCHEMA)
    assert len(rows) == 4
    assert all(r["arrival_utc"].endswith("Z") and "T" in r["arrival_utc"] for r in rows)
    assert {r["departure_utc"] for r in rows if r["status"] == "in_port"} == {""}


def test_export_geojson_and_parquet(store_settings: Settings, tmp_path: Path) -> None:
    detect_calls(store_settings)
    calls = load_calls(store_settings.store.path)
    out = tmp_path / "calls.geojson"
    assert export_calls(calls, "geojson", out) is None
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data["features"]) == 4
    feature = data["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert list(feature["properties"]) == list(CALLS_SCHEMA)
    parquet = tmp_path / "calls.parquet"
    export_calls(calls, "parquet", parquet)
    assert pl.read_parquet(parquet).schema == pl.Schema(CALLS_SCHEMA)
    with pytest.raises(ConfigError, match="--output"):
        export_calls(calls, "parquet", None)


def test_geojson_of_a_call_without_position_has_a_null_geometry() -> None:
    calls = ALL_AT_ONCE.head(2).with_columns(
        lat=pl.Series([None, 1.5], dtype=pl.Float64), lon=pl.Series([None, 2.5], dtype=pl.Float64)
    )
    text = export_calls(calls, "geojson", None)
    assert text is not None
    features = json.loads(text)["features"]
    assert features[0]["geometry"] is None
    assert features[0]["properties"]["call_id"] == calls["call_id"][0]
    assert features[1]["geometry"] == {"type": "Point", "coordinates": [2.5, 1.5]}


def test_filter_calls() -> None:
    calls = ALL_AT_ONCE
    assert set(filter_calls(calls, port_id="Q")["port_id"]) == {"Q"}
    assert set(filter_calls(calls, mmsi=RAJIN_MMSI)["mmsi"]) == {RAJIN_MMSI}
    assert set(filter_calls(calls, open_only=True)["status"]) == {"in_port"}
    late = filter_calls(calls, since=T0 + timedelta(hours=30))
    assert late.height < calls.height
    assert (
        late["departure_utc"].is_null() | (late["departure_utc"] >= T0 + timedelta(hours=30))
    ).all()


def test_cli_detect_calls_export(store_settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    store = str(store_settings.store.path)
    geo = str(store_settings.geofences.files[0])
    result = runner.invoke(main, ["detect", "--store", store, "--geofences", geo])
    assert result.exit_code == 0, result.output
    assert "Calls: 4 (4 new, 1 in port now, 0 unknown" in result.output
    result = runner.invoke(main, ["detect", "--store", store, "--geofences", geo, "--json"])
    assert json.loads(result.output)["calls_new"] == 0
    result = runner.invoke(main, ["calls", "--store", store, "--port", "P"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "SEVER [X]" in result.output  # printed literally, not read as markup
    assert "Port Q" not in result.output
    result = runner.invoke(main, ["calls", "--store", store, "--open"], env={"COLUMNS": "200"})
    assert "in port" in result.output and "SEVER" not in result.output
    result = runner.invoke(main, ["export", "calls", "--store", store, "--format", "csv"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == ",".join(CALLS_SCHEMA)
    out = tmp_path / "c.parquet"
    result = runner.invoke(
        main, ["export", "calls", "--store", store, "--format", "parquet", "--output", str(out)]
    )
    assert result.exit_code == 0 and pl.read_parquet(out).height == 4
    result = runner.invoke(main, ["export", "calls", "--store", store, "--format", "parquet"])
    assert result.exit_code == 1 and "--output" in result.output


def test_vessel_unheard_for_long_is_unknown_not_in_port(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    silent = Track(273_000_001).fix(*SEA_WEST, 10).sail(BERTH, 2).stay(BERTH, 3)
    heard = Track(273_000_002).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 3)
    heard.stay(IN_P, 40, every_min=60)  # heard for 40 h more: the store's data ends then
    write_store(settings.store.path, positions(silent, heard), "a")
    summary = detect_calls(settings)
    assert (summary.calls_open, summary.calls_unknown) == (1, 1)
    runner = CliRunner()
    store = str(settings.store.path)
    geo = str(settings.geofences.files[0])
    result = runner.invoke(main, ["detect", "--store", store, "--geofences", geo])
    assert "1 in port now, 1 unknown" in result.output
    result = runner.invoke(
        main, ["calls", "--store", store, "--open", "--mmsi", "273000001"], env={"COLUMNS": "200"}
    )
    last_seen = silent.rows[-1]["timestamp_utc"]
    assert f"unknown {last_seen:%Y-%m-%d %H:%M}" in result.output
    assert "not heard since" in result.output
    # A later position of the silent vessel in port makes it in port again.
    write_store(settings.store.path, positions(Track(273_000_001, heard.t).stay(BERTH, 1)), "b")
    assert detect_calls(settings).calls_unknown == 0


def test_cli_detect_without_store_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["detect", "--store", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "monitor ingest" in result.output


def test_cli_export_kml_places_each_call_and_shows_names_as_text(
    store_settings: Settings, tmp_path: Path
) -> None:
    detect_calls(store_settings)
    out = tmp_path / "calls.kml"
    result = CliRunner().invoke(
        main,
        ["export", "calls", "--store", str(store_settings.store.path), "--format", "kml", "-o",
         str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    placemarks = ET.fromstring(out.read_bytes()).findall(".//k:Placemark", ns)
    assert len(placemarks) == 4
    assert {p.findtext("k:name", namespaces=ns) for p in placemarks} == {"SEVER [X]", "RA"}
    styles = [p.findtext("k:styleUrl", namespaces=ns) for p in placemarks]
    assert styles.count("#inport") == 1  # the one call still in port
    begins = [p.findtext("k:TimeSpan/k:begin", namespaces=ns) or "" for p in placemarks]
    assert all(b.endswith("Z") and "T" in b for b in begins)


def test_report_files_and_export_write_the_same_calls(store_settings: Settings) -> None:
    detect_calls(store_settings)
    calls = load_calls(store_settings.store.path)
    exported = pl.read_csv(io.StringIO(export_calls(calls, "csv", None) or ""))
    in_report = calls.with_columns(in_port_at_end=pl.col("status") == "in_port")
    report_csv = calls_text(in_report, "csv", schema=REPORT_CALLS_SCHEMA)
    report = pl.read_csv(io.StringIO(report_csv))
    assert report.columns == list(REPORT_CALLS_SCHEMA)
    assert report.select(list(CALLS_SCHEMA)).equals(exported)


@pytest.mark.parametrize("damage", ["garbage", "missing_column"])
def test_damaged_calls_table_is_a_clear_error(store_settings: Settings, damage: str) -> None:
    detect_calls(store_settings)
    path = Path(store_settings.store.path) / CALLS.name
    if damage == "garbage":
        path.write_bytes(b"not parquet")
    else:
        pl.read_parquet(path).drop("flag").write_parquet(path)
    with pytest.raises(StoreError, match=r"calls\.parquet: .*run `monitor detect` again") as info:
        load_calls(store_settings.store.path)
    if damage == "missing_column":
        assert "flag" in str(info.value)


def test_iso_utc_is_the_one_time_format() -> None:
    seoul = timezone(timedelta(hours=9))
    assert iso_utc(datetime(2024, 5, 1, 15, 30, 0, 250_000, tzinfo=seoul)) == "2024-05-01T06:30:00Z"
    assert iso_utc(datetime(2024, 5, 1, 6, 30)) == "2024-05-01T06:30:00Z"  # naive means UTC
