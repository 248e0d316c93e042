"""Events: identity changes, IMO reuse, invalid MMSIs, shared MMSIs and jumps, from detection
to the store, the command line and the export files."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from test_calls import make_settings
from tracks_portcalls import IN_P, IN_Q, SEA_EAST, SEA_WEST, T0, ZONES, Track, positions, statics
from tracks_portcalls import write_store as write_parts

from monitor.analyse import events as events_module
from monitor.analyse.events import event_ids, events_table, near_ports
from monitor.analyse.geofences import nearest_port
from monitor.analyse.identities import identity_changes, imo_reuse, invalid_mmsis, mmsi_problem
from monitor.cli import main
from monitor.config import GapSettings
from monitor.errors import ConfigError
from monitor.pipeline.detect import detect_calls
from monitor.report.exports import export_events
from monitor.schema import EVENTS_SCHEMA, EventKind
from monitor.store.calls import load_calls
from monitor.store.events import filter_events, load_events

SHARED = 273_111_222
RENAMED = 412_000_002
TWIN_A, TWIN_B = 352_000_001, 352_000_002


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def reports(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Return static reports whose rows may each carry different fields."""
    keys = {key for row in rows for key in row}
    return statics([{key: row.get(key) for key in sorted(keys)} for row in rows])


def test_a_new_name_is_one_change_and_alternating_names_are_no_more() -> None:
    frame = reports(
        [
            {"mmsi": 1, "timestamp_utc": h(0), "vessel_name": "SEA STAR ", "imo": 0},
            {"mmsi": 1, "timestamp_utc": h(1), "vessel_name": "SEA  STAR"},
            {"mmsi": 1, "timestamp_utc": h(2), "vessel_name": "NORTH WIND", "callsign": "AB12"},
            {"mmsi": 1, "timestamp_utc": h(3), "vessel_name": "SEA STAR", "callsign": "AB12"},
            {"mmsi": 1, "timestamp_utc": h(4), "vessel_name": "NORTH WIND", "ship_type": 70},
            {"mmsi": 1, "timestamp_utc": h(5), "ship_type": 80},
            {"mmsi": 2, "timestamp_utc": h(0), "vessel_name": "OTHER"},
        ]
    )
    changes = identity_changes(frame).sort("start_utc", "field")
    rows = changes.select("mmsi", "field", "old_value", "new_value").rows()
    assert rows == [
        (1, "vessel_name", "SEA STAR", "NORTH WIND"),
        (1, "ship_type", "Cargo", "Tanker"),
    ]
    assert changes["start_utc"].to_list() == [h(2), h(5)]
    assert set(changes["kind"]) == {EventKind.IDENTITY_CHANGE}


def test_one_imo_under_two_mmsis_at_once_is_reuse_one_after_the_other_is_not() -> None:
    frame = reports(
        [
            {"mmsi": 10, "timestamp_utc": h(0), "imo": 9_123_456, "vessel_name": "A"},
            {"mmsi": 10, "timestamp_utc": h(10), "imo": 9_123_456},
            {"mmsi": 11, "timestamp_utc": h(5), "imo": 9_123_456, "vessel_name": "B"},
            {"mmsi": 11, "timestamp_utc": h(20), "imo": 9_123_456},
            # A ship that changed its MMSI: the new one starts after the old one ends.
            {"mmsi": 20, "timestamp_utc": h(0), "imo": 9_000_001},
            {"mmsi": 21, "timestamp_utc": h(2), "imo": 9_000_001},
        ]
    )
    reuse = imo_reuse(frame)
    assert reuse.select("mmsi", "other_mmsi", "new_value", "start_utc", "end_utc").rows() == [
        (10, 11, "9123456", h(5), h(10))
    ]
    assert json.loads(reuse["details"][0]) == {"names": {"10": ["A"], "11": ["B"]}}


@pytest.mark.parametrize(
    ("mmsi", "problem"),
    [
        (123_456_789, "default number of unconfigured transceivers"),
        (111_111_111, "default number of unconfigured transceivers"),
        (987_654_321, "default number of unconfigured transceivers"),
        (1_193_046, "default number of unconfigured transceivers"),
        (100_123_456, "not an MMSI of any station type"),
        (999_123_456, "MID 912 is not allocated to any country"),
        (273_111_222, None),  # Russia
        (445_000_111, None),  # North Korea
        (970_123_456, None),  # a search and rescue transmitter
        (992_731_234, None),  # an aid to navigation of Russia
    ],
)
def test_mmsi_problems(mmsi: int, problem: str | None) -> None:
    assert mmsi_problem(mmsi) == problem


def test_invalid_mmsis_are_events_over_the_time_they_were_seen() -> None:
    seen = pl.DataFrame(
        {"mmsi": [273_111_222, 123_456_789], "first_utc": [h(0), h(1)], "last_utc": [h(2), h(3)]},
        schema_overrides={"mmsi": pl.UInt32},
    ).with_columns(pl.col("first_utc", "last_utc").dt.cast_time_unit("us"))
    events = invalid_mmsis(seen)
    assert events.select("mmsi", "start_utc", "end_utc", "field").rows() == [
        (123_456_789, h(1), h(3), "mmsi")
    ]


def test_events_name_the_nearest_port_within_reach() -> None:
    frame = pl.DataFrame(
        {"lat": [0.05, 0.05, 0.8, None], "lon": [0.05, 0.3, 0.5, None]},
    )
    placed, found = near_ports(frame, ZONES, 50.0)
    assert placed["port_id"].to_list() == ["P", "P", None, None]
    km = placed["port_distance_km"].to_list()
    # P's outer anchorage ends at 0.17 E: 0.13 degrees from 0.3 E.
    assert km[0] == 0.0 and km[1] == pytest.approx(0.13 * 111.195, rel=0.01)
    assert km[2] is None
    assert found.height == 3  # the points measured, the unplaced one not


def test_the_nearest_ports_of_known_points_are_taken_not_measured_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run given the points an earlier one measured measures only the new ones, and names
    the same ports; an event that names its port keeps it."""
    frame = pl.DataFrame(
        {
            "lat": [0.05, 0.05, 0.8, 0.05],
            "lon": [0.05, 0.3, 0.5, 0.3],
            "port_id": [None, None, None, "Q"],
            "port_distance_km": [None, None, None, 3.0],
        }
    )
    want, known = near_ports(frame, ZONES, 50.0)
    assert want["port_id"].to_list() == ["P", "P", None, "Q"]
    assert want["port_distance_km"][3] == 3.0
    measured: list[int] = []

    def counted(zones: Any, lat: Any, lon: Any, within_km: Any = None) -> Any:
        measured.append(lat.size)
        return nearest_port(zones, lat, lon, within_km)

    monkeypatch.setattr(events_module, "nearest_port", counted)
    more = pl.concat([frame, pl.DataFrame({"lat": [0.06], "lon": [0.05]})], how="diagonal")
    got, found = near_ports(more, ZONES, 50.0, known)
    assert measured == [1]
    assert got.head(4).equals(want)
    assert got["port_id"][4] == "P"
    assert found.height == known.height + 1


def test_event_ids_are_stable_and_the_table_has_its_schema() -> None:
    part = identity_changes(
        reports(
            [
                {"mmsi": 5, "timestamp_utc": h(0), "vessel_name": "A"},
                {"mmsi": 5, "timestamp_utc": h(1), "vessel_name": "B"},
            ]
        )
    )
    kwargs = {"positions": positions(), "tracks": pl.DataFrame(), "zones": ZONES}
    first = events_table([part], port_radius_km=50.0, **kwargs)  # type: ignore[arg-type]
    again = events_table([part.reverse()], port_radius_km=50.0, **kwargs)  # type: ignore[arg-type]
    assert first.schema == pl.Schema(EVENTS_SCHEMA)
    assert first.equals(again)
    assert len(first["event_id"][0]) == 16
    assert first["duration_h"].to_list() == [0.0]


def test_an_event_id_hashes_what_the_event_is_about_as_stores_already_hold_it() -> None:
    """Ids written by earlier runs stay the ids of the same events: the first 16 hex digits of
    the SHA-1 of kind|mmsi|track_id|other_mmsi|other_track_id|field|new_value|start (ISO 8601,
    microseconds only when there are any; a missing value empty)."""
    start = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    events = pl.DataFrame(
        {
            "kind": ["gap", "identity_change"],
            "mmsi": [5, 7],
            "track_id": ["5-0", None],
            "other_mmsi": [None, 9],
            "other_track_id": [None, None],
            "field": [None, "vessel_name"],
            "new_value": [None, "ÆGIR | 2"],
            "start_utc": [start, start + timedelta(microseconds=120)],
        }
    )
    texts = [
        "gap|5|5-0|||||2024-03-04T05:06:07+00:00",
        "identity_change|7||9||vessel_name|ÆGIR | 2|2024-03-04T05:06:07.000120+00:00",
    ]
    expected = [hashlib.sha1(t.encode("utf-8")).hexdigest()[:16] for t in texts]
    assert event_ids(events) == expected


# ---------------------------------------------------------------------------------------------
# Detection writes them


def fleet() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two ships on one MMSI in P and Q, a renamed ship, two MMSIs with one IMO, a default."""
    at_p = Track(SHARED).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 8).sail(SEA_WEST, 2)
    at_q = Track(SHARED, T0 + timedelta(seconds=30)).fix(*SEA_EAST, 10).sail(IN_Q, 3).stay(IN_Q, 9)
    renamed = Track(RENAMED).stay(IN_P, 6)
    twin_a = Track(TWIN_A).stay(IN_P, 3)
    twin_b = Track(TWIN_B).stay(IN_Q, 3)
    default = Track(123_456_789).stay((0.3, 0.3), 2)
    sent = reports(
        [
            {"mmsi": SHARED, "timestamp_utc": h(4), "vessel_name": "SEVER"},
            {"mmsi": SHARED, "timestamp_utc": h(5), "vessel_name": "=HYPERLINK(1)"},
            {"mmsi": RENAMED, "timestamp_utc": h(1), "vessel_name": "OLD NAME"},
            {"mmsi": RENAMED, "timestamp_utc": h(4), "vessel_name": "NEW NAME"},
            {"mmsi": TWIN_A, "timestamp_utc": h(0), "imo": 9_123_456},
            {"mmsi": TWIN_A, "timestamp_utc": h(2), "imo": 9_123_456},
            {"mmsi": TWIN_B, "timestamp_utc": h(1), "imo": 9_123_456},
        ]
    )
    return positions(at_p, at_q, renamed, twin_a, twin_b, default), sent


@pytest.fixture
def detected(tmp_path: Path) -> Path:
    # The fleet's tracks end before the data does; dark periods are left out of this fixture,
    # which is about identity events.
    no_gaps = GapSettings(min_gap_h=1000.0, near_port_min_gap_h=1000.0)
    settings = make_settings(tmp_path).model_copy(update={"gaps": no_gaps})
    moves, reports = fleet()
    write_parts(settings.store.path, moves, "part0", reports)
    summary = detect_calls(settings)
    assert summary.mmsis_several_tracks == 1 and summary.mmsis_shared == 1
    assert summary.events_per_kind == {
        "identity_change": 2,
        "imo_reuse": 1,
        "invalid_mmsi": 1,
        "shared_mmsi": 1,
    }
    return Path(settings.store.path)


def test_detect_writes_events_and_marks_the_calls_of_a_shared_mmsi(detected: Path) -> None:
    events = load_events(detected)
    shared = events.filter(pl.col("kind") == "shared_mmsi").row(0, named=True)
    assert shared["mmsi"] == SHARED
    assert shared["track_id"] == f"{SHARED}-20240301T000000Z"
    assert shared["other_track_id"] == f"{SHARED}-20240301T000030Z"
    assert shared["distance_km"] > 50
    assert json.loads(shared["details"]) == {"names": ["SEVER", "=HYPERLINK(1)"]}
    renamed = events.filter(pl.col("mmsi") == RENAMED).row(0, named=True)
    assert (renamed["old_value"], renamed["new_value"]) == ("OLD NAME", "NEW NAME")
    assert renamed["port_id"] == "P" and renamed["port_distance_km"] == 0.0
    assert renamed["track_id"] == f"{RENAMED}-20240301T000000Z"
    reuse = events.filter(pl.col("kind") == "imo_reuse").row(0, named=True)
    assert (reuse["mmsi"], reuse["other_mmsi"]) == (TWIN_A, TWIN_B)
    assert reuse["distance_km"] == pytest.approx(111.2, abs=1)
    calls = load_calls(detected).filter(pl.col("mmsi") == SHARED).sort("port_id")
    assert calls["shared_mmsi"].to_list() == [True, True]
    # Which ship sent which static report nobody knows: the call names every vessel reported.
    assert calls["vessel_name"].to_list() == ["SEVER / =HYPERLINK(1)"] * 2
    others = load_calls(detected).filter(pl.col("mmsi") != SHARED)
    assert not others["shared_mmsi"].any()


def test_filter_events(detected: Path) -> None:
    events = load_events(detected)
    assert set(filter_events(events, kind="imo_reuse")["kind"]) == {"imo_reuse"}
    assert set(filter_events(events, mmsi=TWIN_B)["mmsi"]) == {TWIN_A}  # as the other vessel
    assert set(filter_events(events, port_id="P")["port_id"]) == {"P"}
    assert filter_events(events, since=h(1000)).is_empty()
    with pytest.raises(ConfigError, match="unknown event kind 'spoof'; use one of shared_mmsi"):
        filter_events(events, kind="spoof")


def test_export_events_csv_geojson_parquet(detected: Path, tmp_path: Path) -> None:
    events = load_events(detected)
    text = export_events(events, "csv")
    assert text is not None
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(EVENTS_SCHEMA)
    assert all(r["start_utc"].endswith("Z") and "T" in r["start_utc"] for r in rows)
    shared = next(r for r in rows if r["kind"] == "shared_mmsi")
    # A name that a spreadsheet would run as a formula is written as text.
    assert json.loads(shared["details"])["names"][1] == "=HYPERLINK(1)"
    change = next(r for r in rows if r["kind"] == "identity_change" and r["mmsi"] == str(SHARED))
    assert change["new_value"] == "'=HYPERLINK(1)"
    geo = json.loads(export_events(events, "geojson") or "")
    assert len(geo["features"]) == events.height
    assert geo["features"][0]["id"] == events["event_id"][0]
    out = tmp_path / "events.parquet"
    assert export_events(events, "parquet", out) is None
    assert pl.read_parquet(out).schema == pl.Schema(EVENTS_SCHEMA)
    with pytest.raises(ConfigError, match="--output"):
        export_events(events, "parquet")
    with pytest.raises(ConfigError, match="format 'kml'"):
        export_events(events, "kml")  # type: ignore[arg-type]


def test_cli_events_and_export_events(detected: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    store = str(detected)
    result = runner.invoke(main, ["events", "--store", store], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    assert "5 event(s)" in result.output and "Shared MMSI" in result.output
    assert "OLD NAME → NEW NAME" in result.output
    result = runner.invoke(
        main, ["events", "--store", store, "--kind", "shared_mmsi"], env={"COLUMNS": "240"}
    )
    assert "1 event(s)" in result.output and "Identity change" not in result.output
    result = runner.invoke(main, ["events", "--store", store, "--kind", "nope"])
    assert result.exit_code == 2 and "unknown event kind 'nope'" in result.output
    result = runner.invoke(main, ["export", "events", "--store", store, "--kind", "nope"])
    assert result.exit_code == 2 and "unknown event kind 'nope'" in result.output
    # CSV and JSON carry every column; the period options keep what is under way in it.
    result = runner.invoke(main, ["events", "--store", store, "--format", "csv"])
    assert result.output.splitlines()[0] == ",".join(EVENTS_SCHEMA)
    result = runner.invoke(
        main, ["events", "--store", store, "--format", "json", "--mmsi", str(TWIN_B)]
    )
    assert [e["kind"] for e in json.loads(result.output)] == ["imo_reuse"]
    result = runner.invoke(main, ["events", "--store", store, "--until", "2024-01-01"])
    assert "None of the 5 events matches." in result.output
    result = runner.invoke(main, ["export", "events", "--store", store, "--kind", "imo_reuse"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("event_id,kind,mmsi,track_id,other_mmsi,start_utc,end_utc,lat,")
    assert len(lines) == 2 and ",imo_reuse," in lines[1]
    out = tmp_path / "e.geojson"
    result = runner.invoke(
        main, ["export", "events", "--store", store, "--format", "geojson", "-o", str(out)]
    )
    assert result.exit_code == 0 and len(json.loads(out.read_text())["features"]) == 5
    result = runner.invoke(
        main, ["detect", "--store", store, "--geofences", str(tmp_path / "zones.geojson")]
    )
    assert "Tracks: 6 (1 MMSI with more than one, 1 used by two ships at once)" in " ".join(
        result.output.split()
    )
