"""Reports: content, escaping of AIS text, offline inlining, exports, thinning, index, CLI."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import report_fixtures as fx
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from monitor.cli import main
from monitor.core.times import parse_when
from monitor.errors import ConfigError, ReportError
from monitor.report import build_report, report_window
from monitor.report.build import publish
from monitor.report.data import calls_in_window, place_calls, port_names, port_summary
from monitor.report.fmt import call_fields
from monitor.report.index import read_manifest
from monitor.report.mapview import DATA_ELEMENT_ID, json_for_script
from monitor.report.offline import ASSETS, asset, inline_assets, remote_references
from monitor.report.thinning import thin_tracks
from monitor.schema import CALLS_SCHEMA
from monitor.store.table import atomic_write_parquet

HOSTILE = (fx.IMG_NAME, fx.SCRIPT_NAME, fx.QUOTE_NAME)


@pytest.fixture(scope="module")
def offline_files() -> dict[str, str]:
    return build_report(fx.inputs()).files


def embedded_data(page: str) -> dict[str, object]:
    match = re.search(
        rf'<script type="application/json" id="{DATA_ELEMENT_ID}">(.*?)</script>', page, re.S
    )
    assert match is not None
    data: dict[str, object] = json.loads(match.group(1))
    return data


# --- escaping -------------------------------------------------------------------------------


def test_hostile_names_never_appear_as_markup(offline_files: dict[str, str]) -> None:
    page = offline_files["index.html"]
    for name in HOSTILE:
        assert name not in page
    assert "<img src=x" not in page
    assert "alert(2)</script>" not in page
    # Escaped in the table, as text.
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "O&#x27;Brien &amp; &quot;Sons&quot;" in page
    # Every script element the page opens is closed by its own end tag: nothing from the data
    # ends one early.
    assert page.count("<script") == page.count("</script>")


def test_embedded_data_round_trips_the_exact_names(offline_files: dict[str, str]) -> None:
    data = embedded_data(offline_files["index.html"])
    titles = {c["title"] for c in data["calls"]}  # type: ignore[attr-defined]
    assert titles == set(HOSTILE)
    track_names = {t["n"] for t in data["tracks"]}  # type: ignore[attr-defined]
    assert set(HOSTILE) <= track_names
    assert "MMSI 211000004" in track_names
    zone_names = {f["properties"]["name"] for f in data["zones"]["features"]}  # type: ignore[index]
    assert "Nampo <b>anchorage</b>" in zone_names


@given(st.text())
def test_json_for_script_is_inert_and_lossless(text: str) -> None:
    encoded = json_for_script({"name": text})
    assert "<" not in encoded and ">" not in encoded and "&" not in encoded
    assert json.loads(encoded) == {"name": text}


def test_title_from_config_is_escaped(offline_files: dict[str, str]) -> None:
    page = offline_files["index.html"]
    assert "<title>Test &lt;watch&gt; &amp; co: port activity</title>" in page
    assert "<watch>" not in page


def test_kml_is_valid_xml_and_shows_names_as_text(offline_files: dict[str, str]) -> None:
    root = ET.fromstring(offline_files["calls.kml"].encode())
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    placemarks = root.findall(".//k:Placemark", ns)
    assert len(placemarks) == 3
    names = {p.findtext("k:name", namespaces=ns) for p in placemarks}
    assert names == set(HOSTILE)
    for p in placemarks:
        description = p.findtext("k:description", namespaces=ns) or ""
        # Google Earth renders description as HTML: after XML parsing it must hold no tags.
        assert "<img" not in description and "<script" not in description
        assert "MMSI: 2110000" in description


def test_kml_replaces_characters_xml_forbids() -> None:
    calls = fx.calls().with_columns(vessel_name=pl.lit("BAD\x01NAME\x1f"))
    files = build_report(fx.inputs(calls=calls)).files
    root = ET.fromstring(files["calls.kml"].encode())
    assert "BAD\ufffdNAME" in ET.tostring(root, encoding="unicode")


# --- content ---------------------------------------------------------------------------------


def test_headline_numbers_and_map_payload(offline_files: dict[str, str]) -> None:
    content = build_report(fx.inputs())
    assert content.numbers == {
        "calls": 3,
        "vessels": 3,
        "ports": 2,
        "in_port": 1,
        "arrivals_not_observed": 1,
        "tracked_vessels": 4,
        "events": 0,
    }
    data = embedded_data(offline_files["index.html"])
    calls = {c["id"]: c for c in data["calls"]}  # type: ignore[attr-defined]
    assert set(calls) == {"c1", "c2", "c3"}
    assert calls["c2"]["inport"] is True and calls["c1"]["inport"] is False
    fields = dict(calls["c1"]["fields"])
    assert fields["Draught change"] == "+2.5 m (6.0 \u2192 8.5 m)"
    assert fields["Previous port"].startswith("Songnim, left 2024-05-01")
    assert fields["IMO"] == "9123456"
    zones = {f["properties"]["id"]: f["properties"] for f in data["zones"]["features"]}  # type: ignore[index]
    assert zones["NAMPO"]["calls"] == 2 and zones["NAMPO-A"]["calls"] == 2
    assert zones["SONGNIM"]["calls"] == 1
    gaps = {t["m"]: t["s"] for t in data["tracks"]}  # type: ignore[attr-defined]
    assert len(gaps[211000002]) == 1 and gaps[211000001] == []


def test_calls_without_coordinates_sit_at_mean_position_inside_the_call() -> None:
    calls = calls_in_window(fx.calls(), fx.SINCE, fx.UNTIL)
    positions = fx.positions()
    placed = place_calls(calls, positions, fx.zones(), fx.UNTIL).sort("call_id")
    row = placed.filter(pl.col("call_id") == "c1").row(0, named=True)
    inside = positions.filter(
        (pl.col("mmsi") == 211000001)
        & pl.col("timestamp_utc").is_between(row["arrival_utc"], row["departure_utc"])
    )
    assert row["lat"] == pytest.approx(inside["lat"].mean())
    assert row["lon"] == pytest.approx(inside["lon"].mean())


def test_calls_with_coordinates_keep_them() -> None:
    calls = fx.calls().with_columns(lat=pl.lit(38.0), lon=pl.lit(125.0))
    placed = place_calls(calls_in_window(calls, fx.SINCE, fx.UNTIL), fx.positions(), [], fx.UNTIL)
    assert placed["lat"].to_list() == [38.0, 38.0, 38.0]


def test_port_summary() -> None:
    calls = calls_in_window(fx.calls(), fx.SINCE, fx.UNTIL)
    summary = port_summary(calls, port_names(fx.zones(), calls))
    nampo = summary.filter(pl.col("port_id") == "NAMPO").row(0, named=True)
    assert nampo["calls"] == 2 and nampo["vessels"] == 2
    assert nampo["median_stay_h"] == 7.0  # the open call is not a completed stay
    assert nampo["in_port_now"] == 1 and nampo["arrivals_not_observed"] == 1


def test_call_departing_after_the_period_is_in_port_at_its_end() -> None:
    calls = fx.calls().with_columns(
        departure_utc=pl.when(pl.col("call_id") == "c3")
        .then(pl.lit(fx.UNTIL + timedelta(hours=5)))
        .otherwise(pl.col("departure_utc"))
    )
    window = calls_in_window(calls, fx.SINCE, fx.UNTIL)
    assert set(window.filter("in_port_at_end")["call_id"]) == {"c2", "c3"}


def test_open_call_does_not_reach_past_the_data() -> None:
    later = fx.UNTIL + timedelta(days=30)
    window = calls_in_window(fx.calls(), later, later + timedelta(days=1), data_end=fx.UNTIL)
    assert window.is_empty()
    window = calls_in_window(fx.calls(), fx.SINCE, fx.UNTIL, data_end=fx.UNTIL)
    assert set(window["call_id"]) == {"c1", "c2", "c3"}


def test_call_of_a_vessel_unheard_since_lasts_only_while_it_was_heard() -> None:
    # Last seen in port two days before the period, status unknown.
    gone = fx.call(
        call_id="c5", mmsi=211000005, port_id="NAMPO", port_name="Nampo", status="unknown",
        arrival_utc=fx.SINCE - timedelta(days=3), last_seen_utc=fx.SINCE - timedelta(days=2),
        duration_h=24.0,
    )  # fmt: skip
    calls = pl.concat([fx.calls(), pl.DataFrame([gone], schema=CALLS_SCHEMA)])
    window = calls_in_window(calls, fx.SINCE, fx.UNTIL, data_end=fx.UNTIL, max_unheard_h=24)
    assert set(window["call_id"]) == {"c1", "c2", "c3"}
    assert set(window.filter("in_port_at_end")["call_id"]) == {"c2"}
    # Heard within max_unheard_h of the period, it counts, in port until then.
    window = calls_in_window(calls, fx.SINCE, fx.UNTIL, data_end=fx.UNTIL, max_unheard_h=60)
    assert "c5" in set(window["call_id"])
    assert "c5" not in set(window.filter("in_port_at_end")["call_id"])
    popup = dict(call_fields(window.filter(pl.col("call_id") == "c5").row(0, named=True), {}))
    assert popup["Departure"].startswith("unknown: last seen in port")
    page = build_report(fx.inputs(calls=calls, max_unheard_h=60)).files["index.html"]
    assert "unknown, last seen 2024-05-01 00:00 UTC" in page


def test_period_after_all_the_data_has_no_calls_in_port() -> None:
    # Two recordings years apart: a period between them, and one after both.
    calls = fx.calls()
    second_recording_end = fx.UNTIL + timedelta(days=1000)
    for since, data_end in (
        (fx.UNTIL + timedelta(days=400), second_recording_end),
        (fx.UNTIL + timedelta(days=4000), second_recording_end),
    ):
        window = calls_in_window(
            calls, since, since + timedelta(days=2), data_end=data_end, max_unheard_h=24
        )
        assert window.is_empty()
    # Without the bound, the open call would reach into the period between the recordings.
    between = fx.UNTIL + timedelta(days=400)
    window = calls_in_window(calls, between, between, data_end=second_recording_end)
    assert set(window["call_id"]) == {"c2"}


def test_empty_period_gives_a_clear_no_calls_report() -> None:
    empty = fx.calls().clear()
    content = build_report(fx.inputs(calls=empty, positions=fx.positions().clear()))
    page = content.files["index.html"]
    assert "No port calls in this period." in page
    assert content.numbers["calls"] == 0 and content.numbers["tracked_vessels"] == 0
    assert content.files["calls.csv"].count("\n") == 1  # header only
    assert json.loads(content.files["calls.geojson"])["features"] == []


def test_exports_carry_the_calls(offline_files: dict[str, str]) -> None:
    csv = pl.read_csv(offline_files["calls.csv"].encode())
    assert sorted(csv["call_id"].to_list()) == ["c1", "c2", "c3"]
    assert set(csv["vessel_name"].to_list()) == set(HOSTILE)
    geo = json.loads(offline_files["calls.geojson"])
    props = {f["id"]: f["properties"] for f in geo["features"]}
    assert props["c1"]["vessel_name"] == fx.IMG_NAME
    assert props["c1"]["arrival_utc"] == "2024-05-03T02:00:00Z"
    assert all(f["geometry"]["type"] == "Point" for f in geo["features"])


# --- offline ---------------------------------------------------------------------------------


def test_offline_report_references_nothing_remote(offline_files: dict[str, str]) -> None:
    page = offline_files["index.html"]
    assert remote_references(page) == []
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?:", page)
    assert "cdn.jsdelivr.net/npm/leaflet" not in page
    assert "L.Control.Measure" in page and "fullscreen" in page.lower()
    assert "tile.openstreetmap" not in page
    assert "url(images/" not in page  # CSS images inlined as data URIs
    assert "data:image/png;base64," in page


def test_online_report_links_only_known_cdn_assets() -> None:
    page = build_report(fx.inputs(offline=False, tiles="OpenStreetMap")).files["index.html"]
    refs = remote_references(page)
    assert refs and set(refs) <= set(ASSETS)
    assert "jquery" not in page.lower() and "bootstrap" not in page.lower()
    assert "tile.openstreetmap.org" in page


def test_every_shipped_asset_is_there_with_its_licence() -> None:
    for path in ASSETS.values():
        assert asset(path).is_file(), path
        assert asset(path.split("/")[0] + "/LICENSE").is_file()


def test_unknown_tile_name_is_a_clear_error() -> None:
    with pytest.raises(ReportError, match=r"report\.tiles: 'No such tiles'"):
        build_report(fx.inputs(offline=False, tiles="No such tiles"))


def test_inlining_refuses_an_unshipped_script() -> None:
    page = '<head><script src="https://cdn.example.org/x.js"></script></head>'
    with pytest.raises(ReportError, match=r"x\.js is not shipped"):
        inline_assets(page)


# --- tracks ----------------------------------------------------------------------------------


def _straight(n: int, mmsi: int = 1, step_min: int = 1) -> pl.DataFrame:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "mmsi": [mmsi] * n,
            "timestamp_utc": [t0 + timedelta(minutes=step_min * i) for i in range(n)],
            "lat": [38.0 + 0.001 * i for i in range(n)],
            "lon": [125.0] * n,
            "sog_kn": [10.0] * n,
        },
        schema_overrides={"mmsi": pl.UInt32},
    )


def test_straight_track_thins_to_its_ends() -> None:
    out = thin_tracks(_straight(500), max_gap_h=4, max_points_per_vessel=100)
    assert out.height == 2
    assert out["lat"].to_list() == pytest.approx([38.0, 38.499])


def test_turn_and_stop_are_kept() -> None:
    i = pl.int_range(pl.len())
    frame = _straight(300).with_columns(
        lon=pl.when(i >= 150).then(125.0 + 0.001 * (i - 150)).otherwise(125.0),
        lat=pl.when(i >= 150).then(38.149).otherwise(pl.col("lat")),
        sog_kn=pl.when(i.is_between(200, 259)).then(0.0).otherwise(10.0),
    )  # fmt: skip
    out = thin_tracks(frame, max_gap_h=4, max_points_per_vessel=100)
    times = out["timestamp_utc"].to_list()
    t0 = frame["timestamp_utc"][0]
    assert t0 + timedelta(minutes=149) in times or t0 + timedelta(minutes=150) in times
    assert t0 + timedelta(minutes=200) in times and t0 + timedelta(minutes=259) in times
    assert out.height < 12


def test_silence_longer_than_gap_starts_a_new_segment() -> None:
    frame = _straight(100).with_columns(
        timestamp_utc=pl.when(pl.int_range(pl.len()) >= 50)
        .then(pl.col("timestamp_utc") + timedelta(hours=5))
        .otherwise(pl.col("timestamp_utc"))
    )
    out = thin_tracks(frame, max_gap_h=4, max_points_per_vessel=100)
    assert out["segment"].to_list() == [0, 0, 1, 1]


@given(
    n=st.integers(2, 400),
    cap=st.integers(2, 60),
    seed=st.integers(0, 2**16),
)
def test_cap_holds_for_any_track(n: int, cap: int, seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    frame = _straight(n).with_columns(
        lat=pl.Series(38 + np.cumsum(rng.normal(0, 0.01, n))),
        lon=pl.Series(125 + np.cumsum(rng.normal(0, 0.01, n))),
        sog_kn=pl.Series(rng.choice([0.0, 10.0], n)),
    )
    out = thin_tracks(frame, max_gap_h=4, max_points_per_vessel=cap)
    assert 1 <= out.height <= cap
    assert out["timestamp_utc"].is_sorted()


def test_empty_positions_give_no_tracks() -> None:
    assert thin_tracks(_straight(3).clear(), max_gap_h=4, max_points_per_vessel=10).is_empty()


# --- period ----------------------------------------------------------------------------------


def test_period_ends_at_newest_message_not_the_clock() -> None:
    lazy = fx.positions().lazy()
    newest = fx.positions()["timestamp_utc"].max()
    since, until = report_window(lazy, "week")
    assert until == newest and until - since == timedelta(days=7)
    assert report_window(lazy, "day")[0] == newest - timedelta(days=1)  # type: ignore[operator]


def test_explicit_window_and_errors() -> None:
    lazy = fx.positions().clear().lazy()
    a, b = parse_when("2024-05-01"), parse_when("2024-05-07", end_of_day=True)
    assert (a, b) == (datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC))
    assert report_window(lazy, None, a, b) == (a, b)
    assert parse_when("2024-05-01T06:30+02:00") == datetime(2024, 5, 1, 4, 30, tzinfo=UTC)
    naive = datetime(2024, 5, 1, 6, 30)
    assert report_window(lazy, "day", naive)[0] == naive.replace(tzinfo=UTC)
    with pytest.raises(ReportError, match="no positions"):
        report_window(lazy, "day")
    with pytest.raises(ConfigError, match="must be after"):
        report_window(lazy, None, b, a)
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        parse_when("yesterday")


# --- index -----------------------------------------------------------------------------------


def _entry(folder: str, until: str, calls: int) -> dict[str, object]:
    return {"folder": folder, "until": until, "title": f"<r> {folder}", "numbers": {"calls": calls}}


def test_index_lists_reports_newest_first_and_survives_a_broken_manifest(tmp_path: Path) -> None:
    content = build_report(fx.inputs())
    publish(tmp_path, "a", content, _entry("a", "2024-05-02", 1))
    publish(tmp_path, "b", content, _entry("b", "2024-05-04", 2))
    publish(tmp_path, "a", content, _entry("a", "2024-05-01", 5))  # rewrite replaces
    index = (tmp_path / "index.html").read_text()
    assert index.index('href="b/index.html"') < index.index('href="a/index.html"')
    assert "&lt;r&gt; a" in index and "<r>" not in index
    assert [e["folder"] for e in read_manifest(tmp_path)] == ["b", "a"]
    (tmp_path / "manifest.json").write_text("{not json")
    assert {e["folder"] for e in read_manifest(tmp_path)} == {"a", "b"}
    (tmp_path / "b").unlink()  # a report deleted by hand (`rm -r reports/b`)
    publish(tmp_path, "c", content, _entry("c", "2024-05-03", 3))
    assert [e["folder"] for e in read_manifest(tmp_path)] == ["c", "a"]
    hidden = {p.name for p in tmp_path.iterdir() if p.name.startswith(".")}
    assert hidden == {".versions", ".lock", ".lock.json"}
    assert sorted(p.name.split(".")[0] for p in (tmp_path / ".versions").iterdir()) == ["a", "c"]


# --- command line ----------------------------------------------------------------------------


def _store_with_data(root: Path) -> Path:
    store = root / "store"
    positions = fx.positions()
    atomic_write_parquet(positions, store / "positions" / "date=2024-05-03" / "part.parquet")
    atomic_write_parquet(fx.statics(), store / "statics" / "part.parquet")
    from monitor.schema import CALLS_WITH_POSITION_SCHEMA
    from monitor.store.calls import CALLS

    calls = fx.calls().with_columns(lat=pl.lit(None), lon=pl.lit(None))
    calls = calls.select([pl.col(c).cast(t) for c, t in CALLS_WITH_POSITION_SCHEMA.items()])
    atomic_write_parquet(calls, CALLS.path(store))
    config = root / "monitor.toml"
    config.write_text(
        'name = "Test"\n[store]\npath = "store"\n[report]\noutput = "out"\n'
        "[[geofences.circles]]\n"
        'id = "NAMPO"\nname = "Nampo"\nlat = 38.73\nlon = 125.35\nradius_m = 4000\n'
    )
    return config


def test_cli_writes_report_and_prints_its_path(tmp_path: Path) -> None:
    config = _store_with_data(tmp_path)
    result = CliRunner().invoke(
        main, ["report", "--config", str(config), "--period", "day", "--offline"]
    )
    assert result.exit_code == 0, result.output
    index = Path(result.output.strip())
    assert index.is_file() and index.parent.parent == tmp_path / "out"
    assert (index.parent / "calls.kml").is_file()
    assert (tmp_path / "out" / "index.html").is_file()
    assert remote_references(index.read_text()) == []


def test_cli_since_until_and_output(tmp_path: Path) -> None:
    config = _store_with_data(tmp_path)
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(
        main,
        ["report", "--config", str(config), "--since", "2024-05-03", "--until", "2024-05-03",
         "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert Path(result.output.strip()).parent.name == "20240503T0000Z_20240504T0000Z"


def test_cli_on_an_empty_store_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--store", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "ingest data first" in result.output


def test_report_summary_times_are_iso_utc(tmp_path: Path) -> None:
    config = _store_with_data(tmp_path)
    result = CliRunner().invoke(
        main, ["report", "--config", str(config), "--since", "2024-05-03", "--until", "2024-05-03"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((Path(result.output.strip()).parent / "summary.json").read_text())
    assert (summary["since"], summary["until"]) == ("2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", summary["written"])
