"""CSV readers: MarineCadastre, DMA, mapped columns; bad rows counted, statics deduplicated."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import CsvColumns
from monitor.decode.csv.decoder import CsvDecoder
from monitor.decode.csv.dialects import parse_column_mapping
from monitor.errors import ConfigError, SourceError
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA

MC_HEADER = (
    b"MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
    b"Length,Width,Draft,Cargo,TransceiverClass\n"
)
DMA_HEADER = (
    b"# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,"
    b"Heading,IMO,Callsign,Name,Ship type,Cargo type,Width,Length,Type of position fixing "
    b"device,Draught,Destination,ETA,Data source type,A,B,C,D\n"
)


def test_marinecadastre_rows_become_positions_with_nulls_for_not_available() -> None:
    rows = (
        b"636014574,2018-06-01T00:00:00,29.15365,-116.259483,102.3,360.0,511,ZANTE,IMO9261451,"
        b"A8UY9,74,0,279,40,12.4,74,A\n"
        b"367000140,2018-06-01T00:00:05,40.64409,-74.07157,0.0,-60.6,246,,,,,5,,,,,B\n"
    )
    dec = CsvDecoder("mc.csv", MC_HEADER)
    assert dec.dialect == "marinecadastre"
    batch = dec.feed(rows)
    assert batch.n_lines == 2 and batch.n_messages == 2 and not batch.rejected
    assert batch.time_sources == {"csv": 2}
    pos = batch.positions
    assert pos.schema == pl.Schema(POSITIONS_SCHEMA)
    first, second = pos.row(0, named=True), pos.row(1, named=True)
    assert first["sog_kn"] is None and first["cog_deg"] is None and first["heading_deg"] is None
    assert first["msg_type"] == 1 and second["msg_type"] == 18
    assert second["cog_deg"] == pytest.approx(299.4)
    assert second["nav_status"] == 5
    assert first["timestamp_utc"] == dt.datetime(2018, 6, 1, tzinfo=dt.UTC)
    assert set(pos["source"]) == {"mc.csv"}
    statics = batch.statics
    assert statics.schema == pl.Schema(STATICS_SCHEMA)
    assert statics.height == 1
    row = statics.row(0, named=True)
    assert (row["mmsi"], row["imo"], row["vessel_name"], row["callsign"], row["ship_type"]) == (
        636014574,
        9261451,
        "ZANTE",
        "A8UY9",
        74,
    )
    assert row["draught_m"] == pytest.approx(12.4)


def test_bad_rows_are_counted_by_reason_and_good_rows_kept() -> None:
    rows = (
        b"x,2018-06-01T00:00:00,1,1,,,,,,,,,,,,,A\n"
        b"0,2018-06-01T00:00:00,1,1,,,,,,,,,,,,,A\n"
        b"123456789,not a time,1,1,,,,,,,,,,,,,A\n"
        b"123456789,2018-06-01T00:00:00,95,1,,,,,,,,,,,,,A\n"
        b"123456789,2018-06-01T00:00:00,,1,,,,,,,,,,,,,A\n"
        b"123456789,2018-06-01T00:00:01,10,20,,,,,,,,,,,,,A\n"
        b"\n"
    )
    batch = CsvDecoder("bad.csv", MC_HEADER).feed(rows)
    assert batch.rejected == {"invalid_mmsi": 2, "no_time": 1, "invalid_position": 2}
    assert batch.positions.height == 1 and batch.n_messages == 1


def test_a_line_polars_cannot_parse_is_rejected_alone() -> None:
    good = b"123456789,2018-06-01T00:00:01,10,20,,,,,,,,,,,,,A\n"
    broken = b'123456789,"2018-06-01T00:00:02,10,20\n'
    batch = CsvDecoder("q.csv", MC_HEADER).feed(good * 3 + broken + good.replace(b"01,", b"03,"))
    assert batch.positions.height >= 3
    assert sum(batch.rejected.values()) >= 1


def test_dma_text_codes_and_day_first_times() -> None:
    row = (
        b"01/11/2022 09:35:36,Class A,219000123,55.47,8.43,Moored,0,0.1,200.5,180,9123456,"
        b"OXAB2,ESBJERG TUG,Tug,,10,30,GPS,4.2,ESBJERG,02/11/2022 06:00:00,AIS,20,10,5,5\n"
        b"01/11/2022 09:35:37,Base Station,2190047,55.0,8.0,Unknown value,,,,,,,,,,,,,,,,AIS,,,,\n"
    )
    dec = CsvDecoder("dma.csv", DMA_HEADER)
    assert dec.dialect == "dma"
    batch = dec.feed(row)
    pos = batch.positions.row(0, named=True)
    assert pos["timestamp_utc"] == dt.datetime(2022, 11, 1, 9, 35, 36, tzinfo=dt.UTC)
    assert pos["nav_status"] == 5 and pos["msg_type"] == 1
    assert batch.other_types == {4: 1} and batch.positions.height == 1
    assert batch.n_messages == 2
    static = batch.statics.row(0, named=True)
    assert static["ship_type"] == 52
    assert (static["to_bow_m"], static["to_stern_m"]) == (20, 10)
    assert static["eta"] == "11-02 06:00"
    assert static["destination"] == "ESBJERG"


def test_statics_one_per_vessel_per_identity_across_chunks() -> None:
    dec = CsvDecoder("s.csv", MC_HEADER)
    line = b"111111111,2018-06-01T00:00:%02d,1,1,,,,SHIP A,,,70,,,,,,A\n"
    first = dec.feed(b"".join(line % s for s in range(5)))
    again = dec.feed(b"".join(line % s for s in range(5, 9)))
    renamed = dec.feed(b"111111111,2018-06-01T00:01:00,1,1,,,,SHIP B,,,70,,,,,,A\n")
    assert first.statics.height == 1 and again.statics.height == 0
    assert renamed.statics["vessel_name"].to_list() == ["SHIP B"]
    assert first.statics["timestamp_utc"].item() == dt.datetime(2018, 6, 1, tzinfo=dt.UTC)


def test_mapped_columns_with_a_format_and_epoch_times() -> None:
    header = b"ID;t;y;x;speed\n"
    mapping = CsvColumns(mmsi="ID", timestamp="t", lat="y", lon="x", sog="speed")
    dec = CsvDecoder("m.csv", header, mapping)
    assert dec.dialect == "mapped" and dec.separator == ";"
    batch = dec.feed(b"244000001;1700000000;52.1;4.2;3.5\n244000001;1700000000123;52.1;4.2;3.6\n")
    times = batch.positions["timestamp_utc"].to_list()
    assert times[0] == dt.datetime.fromtimestamp(1_700_000_000, dt.UTC)
    assert times[1] == dt.datetime.fromtimestamp(1_700_000_000.123, dt.UTC)
    fmt = CsvColumns(mmsi="ID", timestamp="t", lat="y", lon="x", timestamp_format="%d/%m/%Y %H:%M")
    batch = CsvDecoder("f.csv", b"ID,t,y,x\n", fmt).feed(b"1,20/03/2021 00:22,31.4,32.3\n")
    assert batch.positions["timestamp_utc"].item() == dt.datetime(2021, 3, 20, 0, 22, tzinfo=dt.UTC)


def test_msg_key_is_the_same_for_the_same_row_and_differs_otherwise() -> None:
    row = b"123456789,2018-06-01T00:00:01,10,20,5,90,,,,,,,,,,,A\n"
    a = CsvDecoder("a.csv", MC_HEADER).feed(row).positions["msg_key"].item()
    b = CsvDecoder("b.csv", MC_HEADER).feed(row).positions["msg_key"].item()
    c = CsvDecoder("c.csv", MC_HEADER).feed(row.replace(b",5,", b",6,")).positions["msg_key"]
    assert a == b != c.item()


def test_unknown_header_and_bad_mapping_name_the_file() -> None:
    with pytest.raises(SourceError, match=r"odd\.csv: CSV header not recognised.*--csv-columns"):
        CsvDecoder("odd.csv", b"ID,ais_pos_timestamp,longitude,latitude\n")
    mapping = CsvColumns(mmsi="ID", timestamp="when", lat="y", lon="x")
    with pytest.raises(SourceError, match=r"m\.csv: .*when"):
        CsvDecoder("m.csv", b"ID,time,y,x\n", mapping)


def test_parse_column_mapping() -> None:
    mapping = parse_column_mapping("mmsi=ID, timestamp=time,lat=y,lon=x,timestamp_format=%d/%m/%Y")
    assert (mapping.mmsi, mapping.timestamp, mapping.lat, mapping.lon) == ("ID", "time", "y", "x")
    assert mapping.timestamp_format == "%d/%m/%Y"
    with pytest.raises(ConfigError, match="unknown field 'speed'"):
        parse_column_mapping("mmsi=ID,timestamp=t,lat=y,lon=x,speed=s")
    with pytest.raises(ConfigError, match="missing required field"):
        parse_column_mapping("mmsi=ID")
    with pytest.raises(ConfigError, match="not FIELD=COLUMN"):
        parse_column_mapping("mmsi")


_cell = st.one_of(
    st.just(""),
    st.sampled_from(["0", "1", "-1", "91", "181", "102.3", "511", "360", "IMO123", "Moored"]),
    st.sampled_from(["2018-06-01T00:00:00", "2018-13-01T00:00:00", "01/11/2022 09:35:36"]),
    st.text(alphabet="abcXYZ09 .:-/@", max_size=8),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(_cell, min_size=17, max_size=17), min_size=1, max_size=12))
def test_any_rows_are_accepted_or_counted_never_crash(rows: list[list[str]]) -> None:
    data = "".join(",".join(cells) + "\n" for cells in rows).encode()
    batch = CsvDecoder("fuzz.csv", MC_HEADER).feed(data)
    non_blank = sum(1 for cells in rows if any(cells))
    assert batch.n_messages + sum(batch.rejected.values()) == non_blank
    assert batch.positions.height == batch.n_messages - sum(batch.other_types.values())
    assert batch.positions.schema == pl.Schema(POSITIONS_SCHEMA)
    if batch.positions.height:
        assert batch.positions["lat"].abs().max() <= 90  # type: ignore[operator]
