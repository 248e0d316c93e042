"""The analyst's commands on a small demo store: calls, vessels, vessel, export, in every format
and at every width; unknown ids; the ingest summary's wording; config check's tiles and --strict."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result
from simulate_fixtures import write_config

from monitor.cli import main
from monitor.pipeline.demo import run_demo
from monitor.schema import EVENTS_SCHEMA
from monitor.store.calls import load_calls


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return (config, store) of a small demo: four ports, a day and a half, 12 vessels."""
    root = tmp_path_factory.mktemp("desk")
    config = write_config(root)
    summary = run_demo(root / "demo", days=1.5, vessels=12, config=config)
    return config, summary.output / "store"


def run(demo: tuple[Path, Path], *args: str, columns: int | None = None) -> Result:
    config, store = demo
    env = {"COLUMNS": str(columns)} if columns else {"COLUMNS": ""}
    return CliRunner().invoke(
        main, ["--config", str(config), "--store", str(store), *args], env=env
    )


def calls(demo: tuple[Path, Path]) -> pl.DataFrame:
    return load_calls(demo[1])


# --- calls --------------------------------------------------------------------------------------


def test_calls_csv_and_json_parse_back_to_the_stored_calls(demo: tuple[Path, Path]) -> None:
    stored = calls(demo)
    assert stored.height > 0
    result = run(demo, "calls", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["call_id"] for r in rows] == stored["call_id"].to_list()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows[0]["arrival_utc"])
    records = json.loads(run(demo, "calls", "--format", "json").output)
    assert [r["mmsi"] for r in records] == stored["mmsi"].to_list()
    assert records[0]["arrival_utc"] == rows[0]["arrival_utc"]
    assert set(records[0]) >= {"call_id", "port_id", "departure_utc", "confidence", "flag"}


@pytest.mark.parametrize("columns", [80, None])
def test_calls_table_fits_and_keeps_every_mmsi_and_date_whole(
    demo: tuple[Path, Path], columns: int | None
) -> None:
    result = run(demo, "calls", columns=columns)
    assert result.exit_code == 0, result.output
    width = columns or 100  # not a terminal: 100 columns
    lines = result.output.splitlines()
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    stored = calls(demo)
    for row in stored.iter_rows(named=True):
        line = next(
            line
            for line in lines
            if re.search(rf"\b{row['mmsi']}\b", line)
            and row["arrival_utc"].strftime("%Y-%m-%d %H:%M") in line
        )
        assert line
    # No cell cut inside a number or a date: every digit run is whole.
    for run_ in re.findall(r"[\d][\d:-]*", result.output):
        assert not re.fullmatch(r"\d{4}-\d\d-\d?|\d{5,8}", run_), run_


def test_calls_filters_by_port_and_period(demo: tuple[Path, Path]) -> None:
    stored = calls(demo)
    port = stored["port_id"][0]
    records = json.loads(run(demo, "calls", "--port", port, "--format", "json").output)
    assert {r["port_id"] for r in records} == {port}
    assert len(records) == stored.filter(pl.col("port_id") == port).height
    last = stored["arrival_utc"].max()
    assert isinstance(last, datetime)
    early = json.loads(
        run(demo, "calls", "--until", last.strftime("%Y-%m-%dT%H:%M"), "--format", "json").output
    )
    assert len(early) < stored.height


def test_a_bare_until_date_includes_that_whole_day(demo: tuple[Path, Path]) -> None:
    stored = calls(demo)
    last = stored["arrival_utc"].max()
    assert isinstance(last, datetime)
    day = last.date()
    # Read as the midnight that starts the day, the date would leave the last call out.
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert stored.filter(pl.col("arrival_utc") < midnight).height < stored.height
    for args in (["calls", "--format", "json"], ["export", "calls", "--format", "geojson"]):
        output = json.loads(run(demo, *args, "--until", day.isoformat()).output)
        found = output if isinstance(output, list) else output["features"]
        assert len(found) == stored.height


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["calls", "--port", "nampoo"], "did you mean nampo"),
        (["calls", "--mmsi", "123"], "no vessel with MMSI 123"),
        (["vessels", "--port", "rajn"], "did you mean rajin"),
        (["export", "positions", "--port", "vostochnyy"], "did you mean vostochny"),
        (["vessel", "NO SUCH VESSEL NAME"], "no vessel named"),
    ],
)
def test_unknown_port_or_vessel_says_so_and_exits_2(
    demo: tuple[Path, Path], args: list[str], expected: str
) -> None:
    result = run(demo, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Run `monitor detect`" not in result.output


# --- vessels and vessel -------------------------------------------------------------------------


def test_vessels_lists_every_vessel_in_every_format(demo: tuple[Path, Path]) -> None:
    records = json.loads(run(demo, "vessels", "--format", "json").output)
    assert len(records) == 12
    assert all(r["names"] and r["first_seen_utc"] <= r["last_seen_utc"] for r in records)
    rows = list(csv.DictReader(io.StringIO(run(demo, "vessels", "--format", "csv").output)))
    assert [int(r["mmsi"]) for r in rows] == [r["mmsi"] for r in records]
    table = run(demo, "vessels", columns=80).output
    assert all(str(r["mmsi"]) in table for r in records)
    assert all(len(line) <= 80 for line in table.splitlines())


def test_vessel_search_by_part_of_a_name_in_any_case(demo: tuple[Path, Path]) -> None:
    everyone = json.loads(run(demo, "vessels", "--format", "json").output)
    target = next(r for r in everyone if r["vessel_name"] and " " in r["vessel_name"])
    part = target["vessel_name"].split(" ")[-1].lower()
    found = json.loads(run(demo, "vessels", "--name", part, "--format", "json").output)
    assert target["mmsi"] in [r["mmsi"] for r in found]
    assert all(any(part in n.lower() for n in r["names"]) for r in found)
    by_mmsi = json.loads(
        run(demo, "vessels", "--mmsi", str(target["mmsi"]), "--format", "json").output
    )
    assert [r["mmsi"] for r in by_mmsi] == [target["mmsi"]]
    if target["imo"]:
        by_imo = json.loads(
            run(demo, "vessels", "--imo", str(target["imo"]), "--format", "json").output
        )
        assert target["mmsi"] in [r["mmsi"] for r in by_imo]
    with_calls = json.loads(run(demo, "vessels", "--port", "nampo", "--format", "json").output)
    assert all("nampo" in r["ports"] for r in with_calls)


def test_vessel_story_by_name_and_by_mmsi(demo: tuple[Path, Path]) -> None:
    stored = calls(demo)
    mmsi = int(stored["mmsi"].mode()[0])
    story = json.loads(run(demo, "vessel", str(mmsi), "--format", "json").output)
    assert story["vessel"]["mmsi"] == mmsi
    assert len(story["calls"]) == stored.filter(pl.col("mmsi") == mmsi).height
    arrivals = [c["arrival_utc"] for c in story["calls"]]
    assert arrivals == sorted(arrivals)
    assert {c["field"] for c in story["identity_changes"]} >= {"name"}
    name = story["vessel"]["vessel_name"]
    text = run(demo, "vessel", name.lower(), columns=100).output
    assert text.startswith(name) and f"MMSI {mmsi}" in text
    assert text.count(" call ") + text.count("call  ") >= len(arrivals)
    timeline = list(
        csv.DictReader(io.StringIO(run(demo, "vessel", str(mmsi), "--format", "csv").output))
    )
    assert [r["what"] for r in timeline].count("call") == len(arrivals)


def test_vessel_story_shows_events_when_the_store_has_them(demo: tuple[Path, Path]) -> None:
    stored = calls(demo)
    mmsi = int(stored["mmsi"][0])
    events = demo[1] / "events" / "events.parquet"
    events.parent.mkdir(exist_ok=True)
    row = {
        "event_id": "e1",
        "kind": "identity_change",
        "mmsi": mmsi,
        "start_utc": stored["arrival_utc"][0],
        "end_utc": stored["arrival_utc"][0],
        "field": "vessel_name",
        "old_value": "OLD",
        "new_value": "NEW",
    }
    pl.DataFrame([row]).select(
        pl.col(name).cast(dtype) if name in row else pl.lit(None, dtype).alias(name)
        for name, dtype in EVENTS_SCHEMA.items()
    ).write_parquet(events)
    try:
        story = json.loads(run(demo, "vessel", str(mmsi), "--format", "json").output)
        assert [e["kind"] for e in story["events"]] == ["identity_change"]
        step = next(s for s in story["timeline"] if s["what"] == "Identity change")
        assert step["detail"] == "vessel_name: OLD \u2192 NEW"
    finally:
        events.unlink()


# --- export -------------------------------------------------------------------------------------


def test_export_positions_of_one_vessel_in_every_format(
    demo: tuple[Path, Path], tmp_path: Path
) -> None:
    mmsi = str(calls(demo)["mmsi"][0])
    geo = json.loads(run(demo, "export", "positions", "--mmsi", mmsi, "--format", "geojson").output)
    (feature,) = geo["features"]
    assert feature["geometry"]["type"] == "LineString"
    n = feature["properties"]["n_positions"]
    assert n == len(feature["geometry"]["coordinates"]) == len(feature["properties"]["times"]) > 10
    rows = list(
        csv.DictReader(io.StringIO(run(demo, "export", "positions", "--mmsi", mmsi).output))
    )
    assert len(rows) == n and {r["mmsi"] for r in rows} == {mmsi}
    kml = ET.fromstring(run(demo, "export", "positions", "--mmsi", mmsi, "--format", "kml").output)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    assert len(kml.findall(".//k:Placemark/k:LineString", ns)) == 1
    out = tmp_path / "track.parquet"
    result = run(demo, "export", "positions", "--mmsi", mmsi, "--format", "parquet", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out).height == n


def test_export_positions_of_a_port_keeps_those_during_its_calls(demo: tuple[Path, Path]) -> None:
    stored = calls(demo).filter(pl.col("port_id") == "nampo")
    rows = list(
        csv.DictReader(io.StringIO(run(demo, "export", "positions", "--port", "nampo").output))
    )
    assert rows and {int(r["mmsi"]) for r in rows} <= set(stored["mmsi"].to_list())


def test_export_calls_and_transits_with_filters(demo: tuple[Path, Path]) -> None:
    stored = calls(demo)
    port = stored["port_id"][0]
    rows = list(csv.DictReader(io.StringIO(run(demo, "export", "calls", "--port", port).output)))
    assert len(rows) == stored.filter(pl.col("port_id") == port).height
    transits = json.loads(run(demo, "export", "transits", "--format", "json").output)
    assert isinstance(transits, list)
    assert all({"mmsi", "port_id", "arrival_utc"} <= set(t) for t in transits)


# --- ingest summary -----------------------------------------------------------------------------


def test_ingest_summary_words(tmp_path: Path) -> None:
    store = tmp_path / "store"
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 8)
    nmea = tmp_path / "feed.nmea"
    line = "\\s:rx1,c:1709510401*09\\!AIVDM,1,1,,A,199Osgh0278rf:fDQ16Mvs820000,0*31"
    nmea.write_text(f"{line}\n{line}\n", encoding="utf-8")

    def ingest(*paths: Path) -> Result:
        args = ["ingest", *map(str, paths), "--store", str(store)]
        return CliRunner().invoke(main, args, env={"COLUMNS": "160"})

    bad = ingest(garbage)
    assert bad.exit_code == 1
    assert bad.output.startswith(f"Nothing ingested into {store}: 1 input could not be read")
    assert "Ingested 1 input" not in bad.output
    first = ingest(nmea)
    assert first.output.startswith(f"Ingested {nmea} into {store}")
    # The same message twice in an empty store: a duplicate received twice, not already stored.
    assert "received more than once in these inputs" in first.output
    assert "already in the store" not in first.output
    # The line per input the README promises: input, status, format, messages, positions, share.
    assert re.search(r"/feed\.nmea\s+ingested\s+nmea\s+2\s+1\s+100\.0%$", first.output, re.M)
    again = ingest(nmea)
    assert again.output.startswith(f"Nothing ingested into {store}: 1 input unchanged")
    assert "duplicates" not in again.output
    assert re.search(r"\bunchanged\b", again.output.splitlines()[-1])


# --- config check -------------------------------------------------------------------------------


def test_config_check_rejects_tiles_the_report_would_reject(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8") + '\n[report]\ntiles = "No.SuchTiles"\n'
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["config", "check", str(config)])
    assert result.exit_code == 1
    assert "report.tiles" in result.output and "OpenStreetMap" in result.output


def test_config_check_warns_before_the_headline_and_strict_fails(tmp_path: Path) -> None:
    config = tmp_path / "empty.toml"
    config.write_text('name = "nothing"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["config", "check", str(config)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("warning: no geofences")
    assert lines[1] == f"{config}: OK with 1 warning(s) above (nothing)"
    strict = CliRunner().invoke(main, ["config", "check", "--strict", str(config)])
    assert strict.exit_code == 1
    assert "no geofences" in strict.output and "--strict" in strict.output
    assert "OK" not in strict.output


def test_piped_output_has_no_line_wrapped_mid_sentence(demo: tuple[Path, Path]) -> None:
    result = run(demo, "detect")
    assert result.exit_code == 0, result.output
    processed = next(line for line in result.output.splitlines() if line.startswith("Processed"))
    assert processed.endswith("displaced positions dropped).")
    assert any(
        line.startswith("Calls: ") and line.endswith(".") for line in result.output.splitlines()
    )
