"""Flag from the MMSI's MID, ship type text."""

from __future__ import annotations

import polars as pl
import pytest

from monitor.analyse.vessels import (
    MID_COUNTRIES,
    SHIP_TYPES,
    flag_expr,
    flag_of,
    mid_of,
    ship_type_expr,
    ship_type_text,
)


@pytest.mark.parametrize(
    ("mmsi", "mid", "flag"),
    [
        (445_123_456, 445, "North Korea"),
        (273_456_789, 273, "Russia"),
        (366_999_001, 366, "United States"),
        (636_012_345, 636, "Liberia"),
        (353_000_001, 353, "Panama"),
        (477_000_001, 477, "Hong Kong (China)"),
        (244_660_000, 244, "Netherlands"),
        (2_734_567, 273, "Russia"),  # coast station 00MIDxxxx
        (44_512_345, 445, "North Korea"),  # group call 0MIDxxxxx
        (111_273_123, 273, "Russia"),  # SAR aircraft 111MIDxxx
        (827_312_345, 273, "Russia"),  # handheld 8MIDxxxxx
        (984_451_234, 445, "North Korea"),  # craft of a parent ship 98MIDxxxx
        (992_731_234, 273, "Russia"),  # aid to navigation 99MIDxxxx
        (200_000_000, 200, None),  # no country holds MID 200
        (970_123_456, None, None),  # AIS-SART: no country
        (123, None, None),
    ],
)
def test_flag_from_mid(mmsi: int, mid: int | None, flag: str | None) -> None:
    assert mid_of(mmsi) == mid
    assert flag_of(mmsi) == flag


def test_mid_table_is_complete_and_well_formed() -> None:
    assert len(MID_COUNTRIES) > 280
    assert all(200 < mid < 800 for mid in MID_COUNTRIES)
    assert all(len(iso) == 2 and iso.isupper() for iso, _ in MID_COUNTRIES.values())
    # Every country with several MIDs keeps one ISO code for all of them.
    names_by_iso: dict[str, set[str]] = {}
    for iso, name in MID_COUNTRIES.values():
        names_by_iso.setdefault(iso, set()).add(name)
    assert names_by_iso["PA"] == {"Panama"}
    assert {MID_COUNTRIES[m][0] for m in range(351, 358)} == {"PA"}


def test_flag_expr_matches_flag_of() -> None:
    mmsis = [445_123_456, 2_734_567, 992_731_234, 970_123_456, 200_000_000, 538_000_001]
    out = pl.DataFrame({"mmsi": mmsis}, schema={"mmsi": pl.UInt32}).select(
        flag_expr(pl.col("mmsi"))
    )
    assert out.to_series().to_list() == [flag_of(m) for m in mmsis]


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0, "Not available"),
        (30, "Fishing"),
        (52, "Tug"),
        (70, "Cargo"),
        (79, "Cargo, no additional information"),
        (84, "Tanker, hazardous category D"),
        (61, "Passenger, hazardous category A"),
        (40, "High speed craft (HSC)"),
        (27, "Wing in ground (WIG), reserved"),
        (15, "Reserved"),
        (99, "Other type, no additional information"),
        (150, "Reserved for regional use"),
        (None, None),
        (300, None),
    ],
)
def test_ship_type_text(code: int | None, text: str | None) -> None:
    assert ship_type_text(code) == text


def test_ship_type_table_covers_every_code_and_expr_matches() -> None:
    assert set(SHIP_TYPES) == set(range(256))
    codes = [0, 37, 70, 89, None, 255]
    out = pl.DataFrame({"c": codes}, schema={"c": pl.UInt8}).select(ship_type_expr(pl.col("c")))
    assert out.to_series().to_list() == [ship_type_text(c) for c in codes]
