"""Reports and tracks: each transmitter drawn on its own, events as a layer and a table, the
calls of a shared MMSI marked."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import polars as pl
import report_fixtures as fx
from test_report import embedded_data

from monitor.report.build import build_report
from monitor.schema import EVENTS_SCHEMA

SHARED = 211000001


def events() -> pl.DataFrame:
    rows = [
        {
            "event_id": "e-shared",
            "kind": "shared_mmsi",
            "mmsi": SHARED,
            "track_id": f"{SHARED}-20240503T000000Z",
            "start_utc": fx.SINCE + timedelta(hours=2),
            "end_utc": fx.SINCE + timedelta(hours=9),
            "lat": 38.72,
            "lon": 125.35,
            "port_id": "NAMPO",
            "port_distance_km": 0.0,
            "other_track_id": f"{SHARED}-20240503T000100Z",
            "other_lat": 39.9,
            "other_lon": 127.1,
            "distance_km": 205.0,
            "n_positions": 40,
            "details": '{"names": ["<b>A</b>", "=cmd|x"]}',
        },
        {
            "event_id": "e-change",
            "kind": "identity_change",
            "mmsi": 211000003,
            "start_utc": fx.SINCE + timedelta(hours=5),
            "end_utc": fx.SINCE + timedelta(hours=5),
            "lat": 38.7,
            "lon": 125.3,
            "field": "vessel_name",
            "old_value": "<script>x</script>",
            "new_value": "@SUM(A1)",
        },
        {
            "event_id": "e-old",
            "kind": "position_jump",
            "mmsi": 211000004,
            "start_utc": fx.SINCE - timedelta(days=3),
            "end_utc": fx.SINCE - timedelta(days=3),
            "lat": 38.0,
            "lon": 125.0,
            "n_positions": 1,
        },
    ]
    frame = pl.DataFrame(rows, schema={k: EVENTS_SCHEMA[k] for k in EVENTS_SCHEMA}, orient="row")
    return frame.select(list(EVENTS_SCHEMA))


def test_events_of_the_period_are_a_layer_a_table_and_a_file() -> None:
    content = build_report(fx.inputs(events=events()))
    page = content.files["index.html"]
    assert content.numbers["events"] == 2
    data = embedded_data(page)
    layer = {e["id"]: e for e in data["events"]}  # type: ignore[attr-defined]
    assert set(layer) == {"e-shared", "e-change"}
    assert layer["e-shared"]["o"] == [39.9, 127.1]
    assert layer["e-change"]["o"] is None
    assert dict(layer["e-shared"]["fields"])["Near port"] == "Nampo, 0.0 km"
    # Names come from strangers: in the page they are text, never markup.
    assert "<b>A</b>" not in page and "&lt;b&gt;A&lt;/b&gt;" in page
    assert "<script>x</script>" not in page
    assert 'id="events-table"' in page and 'data-event="e-change"' in page
    rows = list(csv.DictReader(io.StringIO(content.files["events.csv"])))
    assert [r["event_id"] for r in rows] == ["e-shared", "e-change"]
    assert rows[1]["new_value"] == "'@SUM(A1)"


def test_a_period_without_events_says_so() -> None:
    page = build_report(fx.inputs()).files["index.html"]
    assert 'id="no-events"' in page


def test_calls_of_a_shared_mmsi_are_marked() -> None:
    calls = fx.calls().with_columns(shared_mmsi=pl.col("mmsi") == SHARED)
    page = build_report(fx.inputs(calls=calls)).files["index.html"]
    assert page.count("(shared MMSI)") == 1
    assert len(re.findall(r"<tr [^>]*mr-row-shared", page)) == 1
    data = embedded_data(page)
    marked = [c for c in data["calls"] if "shared" in dict(c["fields"])["MMSI"]]  # type: ignore[attr-defined]
    assert len(marked) == 1


def test_each_transmitter_of_one_mmsi_is_drawn_on_its_own() -> None:
    here = fx.positions().filter(pl.col("mmsi") == SHARED)
    # A second ship on the same MMSI, 200 km north-east, heard at the same times.
    there = here.with_columns(pl.col("lat") + 1.2, pl.col("lon") + 1.5)
    moves = pl.concat([fx.positions(), there])
    data = embedded_data(build_report(fx.inputs(positions=moves)).files["index.html"])
    tracks = [t for t in data["tracks"] if t["m"] == SHARED]  # type: ignore[attr-defined]
    assert [t["t"] for t in tracks] == ["transmitter 1 of 2", "transmitter 2 of 2"]
    for track in tracks:
        lats = [p[0] for p in track["p"]]
        assert max(lats) - min(lats) < 1.0  # no line zig-zags between the two ships
    others = [t for t in data["tracks"] if t["m"] != SHARED]  # type: ignore[attr-defined]
    assert {t["t"] for t in others} == {""}
