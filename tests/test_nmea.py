"""NMEA line handling: time sources, multi-part reassembly, corrupt lines and chunking."""

from __future__ import annotations

import threading
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import pytest
from decode_fixtures import merge, pghp_reference, pghp_statuses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyais import encode_dict

from monitor.decode.bytes import uint_after, uint_before
from monitor.decode.nmea.clock import parse_clock_line
from monitor.decode.nmea.decoder import NmeaDecoder, untimed_error
from monitor.decode.nmea.lines import station_key
from monitor.errors import SourceError
from monitor.schema import DecodedBatch

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def pos(mmsi: int, **extra: Any) -> str:
    return str(encode_dict({"type": 1, "mmsi": mmsi, "lat": 39.0, "lon": 125.3, **extra})[0])


def with_checksum(body: str, lead: str = "$") -> str:
    x = 0
    for ch in body.encode():
        x ^= ch
    return f"{lead}{body}*{x:02X}"


def pghp(y: int, mo: int, d: int, h: int, mi: int, s: int, ms: int) -> str:
    return with_checksum(f"PGHP,1,{y},{mo},{d},{h},{mi},{s},{ms},219,,2190067,1,62")


def run(lines: list[str], chunks: list[int] | None = None, **kwargs: Any) -> DecodedBatch:
    """Decode ``lines``, cut into chunks of the given line counts (one chunk by default)."""
    decoder = NmeaDecoder("feed.nmea", **kwargs)
    batch = DecodedBatch()
    sizes = chunks or [len(lines)]
    at = 0
    for size in sizes:
        part = lines[at : at + size]
        at += size
        merge(batch, decoder.feed(("\n".join(part) + "\n").encode()))
    merge(batch, decoder.feed(("\n".join(lines[at:]) + "\n").encode()))
    merge(batch, decoder.flush())
    return batch


def times(batch: DecodedBatch) -> dict[int, datetime]:
    frame = pl.concat(
        [
            batch.positions.select("mmsi", "timestamp_utc"),
            batch.statics.select("mmsi", "timestamp_utc"),
        ]
    )
    return {r["mmsi"]: r["timestamp_utc"] for r in frame.to_dicts()}


def test_tag_block_in_front_seconds_and_milliseconds() -> None:
    batch = run(
        [
            f"\\s:rEV02,c:{T0}*00\\{pos(1)}",
            f"\\g:1-1-42,c:{T0 * 1000 + 250},s:x*00\\{pos(2)}",
        ]
    )
    assert times(batch) == {1: utc(T0), 2: utc(T0 + 0.25)}
    assert batch.time_sources == {"tag_block": 2}


def test_tag_block_fields_short_and_long_blocks_alike() -> None:
    long_source = "s:" + "R" * 70
    lines = [
        f"\\{long_source},c:{T0 + 1}*00\\{pos(1)}",  # longer than the scan window
        f"\\c:{T0 + 2},c:{T0 + 9}*00\\{pos(2)}",  # the first c: counts
        f"\\{long_source},c:{T0 + 3},c:{T0 + 9}*00\\{pos(3)}",
        f"\\s:abc,xc:{T0 + 9}*00\\{pos(4)}",  # "xc:" is not a c: field
        f"\\{long_source},xc:{T0 + 9}*00\\{pos(5)}",
        f"\\{long_source}*00{pos(6)}",  # never closed on its line
        f"\\s:abc*00{pos(7)}",
        f"\\g:1-2-3985,s:rEV02,xy:1,c:{T0 + 8}*00\\{pos(8)}",  # past the narrow window
    ]
    batch = run(lines)
    assert times(batch) == {1: utc(T0 + 1), 2: utc(T0 + 2), 3: utc(T0 + 3), 8: utc(T0 + 8)}
    assert batch.rejected == {"no_time": 2, "unknown_format": 2}


def test_tag_block_on_its_own_line_times_the_next_sentence_only() -> None:
    batch = run([f"\\c:{T0}*00\\", pos(1), pos(2), "\\si:AISD*3F\\", pos(3)])
    assert times(batch) == {1: utc(T0)}
    assert batch.rejected == {"no_time": 2}


def test_pghp_times_the_next_sentence_only() -> None:
    batch = run(
        [
            "\\si:AISD*3F\\",
            pghp(2013, 11, 12, 12, 0, 5, 26),
            pos(1),
            pos(2),
            pghp(2013, 11, 12, 12, 0, 6, 0),
            "$AIVSI,x*00",
            pos(3),
        ]
    )
    base = datetime(2013, 11, 12, 12, 0, 5, 26_000, UTC)
    assert times(batch) == {1: base, 3: datetime(2013, 11, 12, 12, 0, 6, tzinfo=UTC)}
    assert batch.rejected == {"no_time": 1}
    assert batch.time_sources == {"pghp": 2}


def test_uscg_and_trailing_epoch_fields() -> None:
    batch = run(
        [
            # No station here: the ",r" of the next line must not count.
            f"{pos(3)},{T0 * 1000 + 500}",
            f"{pos(1)},r003669987,{T0}",
            f"{pos(2)},x259906,s28320,d-098,T33.71033565,r003669973,{T0 + 1}",
        ]
    )
    assert times(batch) == {1: utc(T0), 2: utc(T0 + 1), 3: utc(T0 + 0.5)}
    assert batch.time_sources == {"uscg": 2, "trailing_epoch": 1}


def test_zda_and_rmc_clocks_time_following_lines_across_chunks() -> None:
    lines = [
        pos(1),
        with_checksum("GPZDA,114702.51,27,01,2012,,"),
        pos(2),
        with_checksum("GPRMC,114800.00,V,1228.3,S,13050.7,E,0.0,,270112,,,A"),  # void fix: ignored
        pos(3),
        with_checksum("GPRMC,195719,A,5310.8115,N,00525.7025,E,0.0,0.0,160414,0.7,E,A"),
        pos(4),
        with_checksum("GPZDA,195720,16,04,14,-02,00"),  # two-digit year as some loggers write
        pos(5),
    ]
    batch = run(lines, chunks=[3, 1, 1])
    zda = datetime(2012, 1, 27, 11, 47, 2, 510_000, UTC)
    assert times(batch) == {
        2: zda,
        3: zda,
        4: datetime(2014, 4, 16, 19, 57, 19, tzinfo=UTC),
        5: datetime(2014, 4, 16, 19, 57, 20, tzinfo=UTC),
    }
    assert batch.rejected == {"no_time": 1}
    assert batch.time_sources == {"zda": 3, "rmc": 1}


def test_clock_checksums_checked_in_any_spelling() -> None:
    good = with_checksum("GPZDA,000001,02,03,2024,,")
    lower = good[:-2] + good[-2:].lower()
    wrong = good[:-2] + f"{(int(good[-2:], 16) ^ 1):02X}"
    # A "*" inside the sentence: the checksum is the one after the first "*".
    inner = "$GPZDA,000009,02,03,2024*00,,*11"
    batch = run([pos(1), lower, pos(2), wrong, pos(3), inner, pos(4)])
    t = datetime(2024, 3, 2, 0, 0, 1, tzinfo=UTC)
    assert times(batch) == {2: t, 3: t, 4: t}
    assert batch.rejected == {"no_time": 1, "bad_checksum": 2}


def test_own_time_wins_over_prefix_and_clock() -> None:
    batch = run(
        [
            with_checksum("GPZDA,000000,01,01,2020,,"),
            pghp(2021, 1, 1, 0, 0, 0, 0),
            f"\\c:{T0}*00\\{pos(1)}",
            pghp(2021, 1, 1, 0, 0, 0, 0),
            pos(2),
            pos(3),
        ]
    )
    assert times(batch) == {
        1: utc(T0),
        2: datetime(2021, 1, 1, tzinfo=UTC),
        3: datetime(2020, 1, 1, tzinfo=UTC),
    }


def test_clock_parser_rejects_impossible_dates() -> None:
    with pytest.raises(ValueError):
        parse_clock_line(b"$GPZDA,114702,31,02,2012,,*00")
    assert parse_clock_line(b"$GPGGA,1,2,3*00") is None


def test_no_time_at_all_is_reported_with_a_fix() -> None:
    batch = run([pos(1), pos(2)])
    assert batch.n_messages == 0 and batch.rejected == {"no_time": 2}
    error = untimed_error("feed.nmea", batch)
    assert isinstance(error, SourceError)
    assert "feed.nmea" in str(error) and "no time source" in str(error)
    assert untimed_error("x", run([f"\\c:{T0}*00\\{pos(1)}"])) is None


def test_fallback_time_times_untimed_lines() -> None:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    batch = run([pos(1), f"\\c:{T0}*00\\{pos(2)}"], fallback_time_utc=when)
    assert times(batch) == {1: when, 2: utc(T0)}
    assert batch.time_sources == {"fallback": 1, "tag_block": 1}


def type5(mmsi: int, seq: int, channel: str = "A") -> list[str]:
    data: dict[str, str | int | float | bytes | bool] = {
        "type": 5,
        "mmsi": mmsi,
        "shipname": f"SHIP {mmsi}",
        "destination": "RAJIN",
    }
    return [str(s) for s in encode_dict(data, seq_id=str(seq), radio_channel=channel)]


def tagged(sentence: str, epoch: float) -> str:
    return f"\\c:{int(epoch)}*00\\{sentence}"


@pytest.mark.parametrize("chunks", [None, [1], [1, 1, 1]])
def test_multipart_reassembled_within_and_across_chunks(chunks: list[int] | None) -> None:
    a1, a2 = type5(100, 3)
    b1, b2 = type5(200, 4)
    lines = [
        tagged(a1, T0),
        tagged(b1, T0),
        tagged(pos(9), T0),
        tagged(a2, T0 + 1),
        tagged(b2, T0 + 1),
    ]
    batch = run(lines, chunks=chunks)
    assert batch.rejected == {}
    assert sorted(batch.statics["vessel_name"].to_list()) == ["SHIP 100", "SHIP 200"]
    assert times(batch)[100] == utc(T0)


def test_second_part_without_time_takes_the_first_parts_time() -> None:
    p1, p2 = type5(100, 1)
    batch = run([f"\\g:1-2-3985,c:{T0}*00\\{p1}", f"\\g:2-2-3985*00\\{p2}"])
    assert times(batch) == {100: utc(T0)}


@pytest.mark.parametrize("chunks", [None, [1]])
def test_stale_first_part_is_never_joined_to_a_later_second_part(chunks: list[int] | None) -> None:
    old1, _ = type5(100, 5)
    _, new2 = type5(200, 5)
    fresh1, fresh2 = type5(300, 5)
    lines = [
        tagged(old1, T0),
        tagged(new2, T0 + 120),  # same channel and sequence id, two minutes later
        tagged(fresh1, T0 + 200),
        tagged(fresh2, T0 + 201),
    ]
    batch = run(lines, chunks=chunks, fragment_timeout_s=10)
    assert batch.statics["mmsi"].to_list() == [300]
    assert batch.rejected == {"expired_fragment": 2}


def test_leftover_parts_expire_at_flush_and_restarted_message_wins() -> None:
    first, _ = type5(100, 2)
    again1, again2 = type5(200, 2)
    batch = run(
        [tagged(first, T0), tagged(again1, T0 + 1), tagged(again2, T0 + 1), tagged(first, T0 + 2)]
    )
    assert batch.statics["mmsi"].to_list() == [200]
    assert batch.rejected == {"expired_fragment": 2}


def test_three_part_message_and_receiver_stations_kept_apart() -> None:
    payload = encode_dict({"type": 5, "mmsi": 100, "shipname": "A"})[0].split(",")[5]
    payload += encode_dict({"type": 5, "mmsi": 100, "shipname": "A"}, seq_id="1")[1].split(",")[5]
    thirds = [payload[:25], payload[25:50], payload[50:]]
    lines = [
        with_checksum(f"AIVDM,3,{i + 1},7,B,{p},{2 if i == 2 else 0}", "!") + f",r1,{T0}"
        for i, p in enumerate(thirds)
    ]
    assert run(lines).statics["vessel_name"].to_list() == ["A"]
    # Two receivers relay parts of different messages with the same channel and sequence id.
    r1, r2 = type5(300, 7, "B"), type5(400, 7, "B")
    interleaved = [
        r1[0] + f",r1,{T0}",
        r2[0] + f",r2,{T0}",
        r1[1] + f",r1,{T0}",
        r2[1] + f",r2,{T0}",
    ]
    batch = run(interleaved)
    assert sorted(batch.statics["vessel_name"].to_list()) == ["SHIP 300", "SHIP 400"]
    assert batch.rejected == {}


def test_corrupt_lines_are_counted_and_good_lines_kept() -> None:
    good = [tagged(pos(m), T0) for m in (1, 2, 3, 4)]
    broken = pos(5)
    lines = [
        good[0],
        tagged(broken[:-1] + ("0" if broken[-1] != "0" else "1"), T0),  # bad checksum
        "garbage \x00\xff line",
        tagged(broken[:25], T0),  # cut in the middle
        good[1] + "\r",  # CRLF
        "",
        "# comment",
        "!AIPWR,UNIT=0,POWER=1*05",
        "\\unterminated tag block",
        good[2],
        tagged("!AIVDM,1,1,,A,,0*26", T0),
        good[3],
    ]
    data = "\n".join(lines).encode("latin-1") + b"\n"
    decoder = NmeaDecoder("x")
    batch = decoder.feed(data)
    assert sorted(batch.positions["mmsi"].to_list()) == [1, 2, 3, 4]
    assert batch.rejected == {"bad_checksum": 1, "unknown_format": 3, "truncated": 1}
    assert batch.n_lines == len(lines)


def test_times_from_a_broken_clock_are_rejected() -> None:
    p1, p2 = type5(100, 1)
    batch = run(
        [
            tagged(pos(1), 0),
            f"{pos(2)},99999999999999",
            tagged(p1, 5),
            tagged(p2, 5),
            tagged(pos(3), T0),
        ]
    )
    assert batch.rejected == {"time_out_of_range": 3}
    assert batch.positions["mmsi"].to_list() == [3]


def test_empty_and_blank_chunks() -> None:
    decoder = NmeaDecoder("x")
    assert decoder.feed(b"").n_lines == 0
    blank = decoder.feed(b"\r\n\n")
    assert (blank.n_lines, blank.n_messages, blank.rejected) == (2, 0, {})
    unterminated = decoder.feed(tagged(pos(1), T0).encode())  # last line without newline
    assert unterminated.positions["mmsi"].to_list() == [1]


def test_any_talker_and_eight_field_sentences() -> None:
    payload = pos(7).split(",")[5]
    lines = [
        tagged(with_checksum(f"BSVDM,1,1,,B,{payload},0", "!"), T0),
        tagged(with_checksum(f"ABVDO,1,1,1,,{payload},0", "!"), T0),
        tagged(with_checksum(f"AIVDM,1,1,1,,{payload},0,0", "!"), T0),
    ]
    batch = run(lines)
    assert batch.positions["mmsi"].to_list() == [7, 7, 7]
    assert batch.positions["msg_key"].n_unique() == 1


def mixed_feed() -> list[str]:
    lines: list[str] = ["# start", with_checksum("GPZDA,000001,02,03,2024,,")]
    for i in range(40):
        kind = i % 5
        if kind == 0:
            lines += [tagged(s, T0 + i) for s in type5(1000 + i, i % 10)]
        elif kind == 1:
            lines += [pghp(2024, 3, 2, 0, 0, i, 0), pos(1000 + i)]
        elif kind == 2:
            lines.append(f"{pos(1000 + i)},r0036,{T0 + i}")
        elif kind == 3:
            lines.append(pos(1000 + i))  # timed by the ZDA clock
        else:
            lines += type5(1000 + i, i % 10)
    return lines


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 12), max_size=12))
def test_chunking_does_not_change_the_result(chunks: list[int]) -> None:
    lines = mixed_feed()
    whole, cut = run(lines), run(lines, chunks=chunks)
    for name in ("positions", "statics"):
        a, b = getattr(whole, name), getattr(cut, name)
        assert a.sort(pl.all()).equals(b.sort(pl.all())), name
    assert (whole.n_messages, whole.rejected, whole.time_sources) == (
        cut.n_messages,
        cut.rejected,
        cut.time_sources,
    )
    assert whole.n_messages == 40 and whole.rejected == {}


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 12, 31)))
def test_vectorised_pghp_time_equals_calendar(when: datetime) -> None:
    line = pghp(
        when.year,
        when.month,
        when.day,
        when.hour,
        when.minute,
        when.second,
        when.microsecond // 1000,
    ).encode()
    buf = np.frombuffer(line + bytes(64), np.uint8)
    time_us, status = pghp_statuses(buf, np.array([0]), np.array([len(line)]))
    assert status == ["ok"]
    expected = when.replace(microsecond=when.microsecond // 1000 * 1000, tzinfo=UTC)
    assert time_us[0] == int(expected.timestamp()) * 1_000_000 + expected.microsecond
    assert pghp_reference(line) == time_us[0]


def test_pghp_checksum_and_fields_are_checked() -> None:
    lines = [
        pghp(2013, 2, 29, 0, 0, 0, 0),  # no 29 February in 2013
        pghp(2013, 11, 12, 12, 0, 0, 0)[:-1] + "0",
        with_checksum("PGHP,2,2013,11,12,12,0,0,0,1"),  # another Gatehouse message type
        pghp(2013, 11, 12, 12, 0, 0, 0) + ",1328182324627",
        with_checksum("PGHP,1,2013,11,12,123456789012,0,0,0,1"),  # a field far too long
        with_checksum("PGHP,1,20130,11,12,12,0,0,0,1"),
        with_checksum("PGHP,100000001,2013,11,12,12,0,0,0,1"),
    ]
    blob = ("\n".join(lines) + "\n").encode()
    buf = np.frombuffer(blob + bytes(64), np.uint8)
    starts = np.array([0] + [len(x) + 1 for x in lines[:-1]]).cumsum()
    ends = starts + np.array([len(x) for x in lines])
    _, status = pghp_statuses(buf, starts, ends)
    assert status == [
        "invalid_field",
        "bad_checksum",
        "other",
        "ok",
        "invalid_field",
        "invalid_field",
        "other",
    ]


@given(st.lists(st.integers(0, 10**15 - 1), min_size=1, max_size=20))
def test_number_parsing(values: list[int]) -> None:
    text = "".join(f",{v}*" for v in values).encode()
    buf = np.frombuffer(text + bytes(64), np.uint8)
    starts = np.array([i for i, c in enumerate(text) if c == ord(",")]) + 1
    ends = np.array([i for i, c in enumerate(text) if c == ord("*")])
    after = [uint_after(buf, int(at), 16) for at in starts]
    assert after == [(v, len(str(v))) for v in values]
    before = [uint_before(buf, int(end), 16) for end in ends]
    assert before == after


def test_an_unfinished_feed_each_closes_without_joining_its_scan_thread() -> None:
    # An ingest stopped by an error leaves the generator unfinished; the garbage collector closes
    # it on whichever thread it runs, once inside a thread's start while threading held its own
    # lock: joining the scan thread there never returned (a whole test run hung).
    held = getattr(threading, "_shutdown_locks_lock", None)
    if held is None:
        pytest.skip("this Python's threading has no such lock")
    lines = mixed_feed()
    chunks = [("\n".join(lines[i : i + 7]) + "\n").encode() for i in range(0, len(lines), 7)]
    each = NmeaDecoder("x").feed_each(chunks, lambda chunk: chunk)
    assert isinstance(each, Generator)
    next(each)
    closed = threading.Event()

    def close_holding_the_lock() -> None:
        with held:
            each.close()
        closed.set()

    threading.Thread(target=close_holding_the_lock, daemon=True).start()
    assert closed.wait(20)


def test_feed_each_equals_feed_chunk_by_chunk() -> None:
    lines = mixed_feed()
    chunks = [("\n".join(lines[i : i + 7]) + "\n").encode() for i in range(0, len(lines), 7)]
    chunks.insert(3, b"")
    one = NmeaDecoder("x")
    expected = [one.feed(c) for c in chunks]
    each = list(NmeaDecoder("x").feed_each(enumerate(chunks), lambda item: item[1]))
    assert [item[0] for item, _ in each] == list(range(len(chunks)))
    for want, (_, got) in zip(expected, each, strict=True):
        assert got.positions.equals(want.positions) and got.statics.equals(want.statics)
        assert (got.n_lines, got.n_messages, got.rejected) == (
            want.n_lines,
            want.n_messages,
            want.rejected,
        )


@given(st.lists(st.text("r0123456789ABCXYZ", min_size=1, max_size=20), min_size=1, max_size=12))
def test_station_keys_read_the_field_up_to_its_comma(fields: list[str]) -> None:
    text = "".join(f",{f},9\n" for f in fields).encode()
    buf = np.frombuffer(text + bytes(64), np.uint8)
    at = np.array([i + 1 for i, c in enumerate(text) if c == ord(",")][0::2])
    expected = []
    for f in fields:
        raw = f.encode()[:16].ljust(16, b"\0")
        head, tail = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")
        expected.append(((head * 0x9E3779B97F4A7C15) % 2**64) ^ tail | 1)
    assert [station_key(buf, int(a)) for a in at] == expected
