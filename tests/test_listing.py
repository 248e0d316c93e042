"""Listings in the terminal: tables that fit the width without cutting ids or times, CSV and
JSON that parse back to the same values."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from monitor.cli.output import Column, listing_text, plain, table_lines

T0 = datetime(2024, 5, 1, 6, 30, tzinfo=UTC)


def _minute(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


COLUMNS = (
    Column("vessel_name", "Vessel", shrink_to=10),
    Column("mmsi", "MMSI", right=True),
    Column("arrival_utc", "Arrival (UTC)", _minute),
    Column("departure_utc", "Departure (UTC)", _minute, drop=2),
    Column("port_name", "Port", shrink_to=8, drop=1),
    Column("ship_type", "Type", shrink_to=6, drop=3),
    Column("duration_h", "Hours", lambda h: f"{h:.1f}", drop=4, right=True),
)


def frame(n: int = 4) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "vessel_name": ["KORYO WAVE", "A VERY LONG VESSEL NAME INDEED", "=HYPERLINK(1)", None][
                :n
            ],
            "mmsi": [511940716, 445123456, 273456789, 636012345][:n],
            "arrival_utc": [T0 + timedelta(hours=i) for i in range(n)],
            "departure_utc": [T0 + timedelta(hours=i + 5) if i != 2 else None for i in range(n)],
            "port_name": ["Nampo", "Vladivostok Commercial Port", "Rajin", "Posyet"][:n],
            "ship_type": ["Cargo", "Tanker, hazardous category A", None, "Tug"][:n],
            "duration_h": [5.0, 5.0, None, 5.0][:n],
            "names": [["KORYO WAVE", "OLD NAME"], ["X"], [], ["Y"]][:n],
        },
        schema_overrides={"mmsi": pl.UInt32(), "arrival_utc": pl.Datetime("us", "UTC")},
    )


MMSI = re.compile(r"\b\d{9}\b")
TIME = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b")


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_table_fits_the_width_and_never_cuts_an_mmsi_or_a_time(width: int) -> None:
    text = listing_text(frame(), COLUMNS, "table", width=width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines)
    assert len(MMSI.findall(text)) == 4
    assert len(TIME.findall(text)) >= 4  # every arrival, whole
    # No partial MMSI or date: every digit run is a whole value or a small number.
    for run in re.findall(r"\d[\d-]*", text):
        assert len(run) in (1, 2, 3, 9, 10) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", run), run


def test_narrow_table_leaves_out_the_least_important_columns_first() -> None:
    wide = listing_text(frame(), COLUMNS, "table", width=200).splitlines()[0]
    assert all(c.header in wide for c in COLUMNS)
    narrow = listing_text(frame(), COLUMNS, "table", width=80).splitlines()[0]
    assert "Hours" not in narrow and "Type" not in narrow
    assert "Vessel" in narrow and "MMSI" in narrow and "Arrival (UTC)" in narrow


def test_long_names_are_shortened_with_an_ellipsis_not_wrapped() -> None:
    lines = listing_text(frame(), COLUMNS, "table", width=70).splitlines()
    assert len(lines) == 2 + 4  # header, rule, one line per row
    assert any("\u2026" in line for line in lines)


def test_too_narrow_for_any_table_prints_one_block_per_row() -> None:
    text = listing_text(frame(2), COLUMNS, "table", width=30)
    assert "MMSI" in text and "511940716" in text and "2024-05-01 06:30" in text
    blocks = text.strip().split("\n\n")
    assert len(blocks) == 2
    labels = {c.header.split()[0] for c in COLUMNS}
    assert all(line.split()[0] in labels for line in blocks[0].splitlines())


def test_csv_parses_back_with_every_column() -> None:
    text = listing_text(frame(), COLUMNS, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["mmsi"]) for r in rows] == [511940716, 445123456, 273456789, 636012345]
    assert rows[0]["arrival_utc"] == "2024-05-01T06:30:00Z"
    assert rows[2]["departure_utc"] == ""
    assert rows[0]["names"] == "KORYO WAVE; OLD NAME"
    assert rows[2]["vessel_name"].endswith("=HYPERLINK(1)")
    assert rows[1]["port_name"] == "Vladivostok Commercial Port"  # never shortened


def test_json_parses_back_with_every_column() -> None:
    records = json.loads(listing_text(frame(), COLUMNS, "json"))
    assert len(records) == 4
    assert records[0]["mmsi"] == 511940716
    assert records[0]["arrival_utc"] == "2024-05-01T06:30:00Z"
    assert records[2]["departure_utc"] is None and records[3]["vessel_name"] is None
    assert records[0]["names"] == ["KORYO WAVE", "OLD NAME"]
    assert records[1]["ship_type"] == "Tanker, hazardous category A"


def test_control_characters_in_stored_text_do_not_reach_the_table() -> None:
    hostile = frame(1).with_columns(vessel_name=pl.lit("EVIL\x1b[2J\nNAME\x07"))
    text = listing_text(hostile, COLUMNS, "table", width=100)
    assert "\x1b" not in text and "\x07" not in text
    assert len(text.splitlines()) == 3


@given(
    names=st.lists(st.text(max_size=40), min_size=1, max_size=6),
    width=st.integers(min_value=20, max_value=160),
)
def test_any_names_at_any_width_fit_or_stack(names: list[str], width: int) -> None:
    rows = [[name, "511940716", "2024-05-01 06:30"] for name in names]
    columns = [
        Column("n", "Vessel", shrink_to=8),
        Column("m", "MMSI", right=True),
        Column("t", "Arrival (UTC)"),
    ]
    lines = table_lines([[plain(r[0]), r[1], r[2]] for r in rows], columns, width)
    text = "\n".join(lines)
    assert text.count("511940716") >= len(names)
    assert text.count("2024-05-01 06:30") >= len(names)
    if "\u2500" in text:  # laid out as a table
        assert all(cell_len(line) <= width for line in lines)
