"""AIS payload decoding: the vectorised path against pyais, value rules and message keys."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from decode_fixtures import merge, payload_keys
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from pyais import decode as pyais_decode
from pyais import encode_dict

import monitor.decode.nmea.decoder as nmea_mod
from monitor.decode.ais.payload import Pieces
from monitor.decode.ais.positions import decode_positions
from monitor.decode.ais.rules import decode_payload, payload_key, position_row
from monitor.decode.ais.statics import decode_statics
from monitor.decode.codes import Reject
from monitor.decode.nmea.decoder import NmeaDecoder
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA, DecodedBatch

EPOCH = 1_700_000_000


def tag(sentence: str, epoch: int = EPOCH) -> str:
    return f"\\c:{epoch}*00\\{sentence}"


def decode_lines(lines: list[str], **kwargs: Any) -> DecodedBatch:
    decoder = NmeaDecoder("test", **kwargs)
    batch = decoder.feed(("\n".join(lines) + "\n").encode())
    merge(batch, decoder.flush())
    return batch


def slow_only(lines: list[str], monkeypatch: pytest.MonkeyPatch) -> DecodedBatch:
    """Decode with every message forced through pyais."""
    with monkeypatch.context() as m:
        m.setattr(nmea_mod, "FAST_POSITION_TYPES", frozenset())
        m.setattr(nmea_mod, "FAST_STATIC_TYPES", frozenset())
        return decode_lines(lines)


def expected_position(sentence: str) -> dict[str, Any] | None:
    """The row pyais gives for a sentence, with the monitor's "not available" rules."""
    msg: Any = pyais_decode(sentence)
    t = int(msg.msg_type)
    if t == 27:
        sog_na, cog_na, heading = msg.speed == 63, msg.course >= 360, None
    else:
        sog_na, cog_na = msg.speed == 102.3, msg.course >= 360
        heading = msg.heading if msg.heading < 360 else None
    pos_na = msg.lat == 91 or msg.lon == 181
    return {
        "mmsi": msg.mmsi,
        "lat": None if pos_na else msg.lat,
        "lon": None if pos_na else msg.lon,
        "sog_kn": None if sog_na else float(msg.speed),
        "cog_deg": None if cog_na else float(msg.course),
        "heading_deg": heading,
        "nav_status": None if t == 18 else int(msg.status),
        "msg_type": t,
    }


raw_lat = st.one_of(st.integers(-90 * 600_000, 90 * 600_000), st.just(91 * 600_000))
raw_lon = st.one_of(st.integers(-180 * 600_000, 180 * 600_000), st.just(181 * 600_000))


@st.composite
def position_message(draw: st.DrawFn) -> dict[str, Any]:
    msg_type = draw(st.sampled_from([1, 2, 3, 18, 27]))
    data: dict[str, Any] = {
        "type": msg_type,
        "mmsi": draw(st.integers(1, 999_999_999)),
        "repeat": draw(st.integers(0, 3)),
    }
    if msg_type == 27:
        data["lat"] = draw(st.one_of(st.integers(-90 * 600, 90 * 600), st.just(91 * 600))) / 600
        data["lon"] = draw(st.one_of(st.integers(-180 * 600, 180 * 600), st.just(181 * 600))) / 600
        data["speed"] = draw(st.integers(0, 63))
        data["course"] = draw(st.integers(0, 511))
        data["status"] = draw(st.integers(0, 15))
        return data
    data["lat"] = draw(raw_lat) / 600_000
    data["lon"] = draw(raw_lon) / 600_000
    data["speed"] = draw(st.integers(0, 1023)) / 10
    data["course"] = draw(st.integers(0, 4095)) / 10
    data["heading"] = draw(st.integers(0, 511))
    if msg_type != 18:
        data["status"] = draw(st.integers(0, 15))
        data["turn"] = draw(st.integers(-127, 127))
    return data


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    cols = ["mmsi", "lat", "lon", "sog_kn", "cog_deg", "heading_deg", "nav_status", "msg_type"]
    return frame.select(cols).to_dicts()


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1, a) == math.copysign(1, b) and a == b  # bit-identical, even -0.0
    return bool(a == b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(position_message(), min_size=1, max_size=20))
def test_fast_path_is_bit_identical_to_pyais(messages: list[dict[str, Any]]) -> None:
    sentences = [encode_dict(m)[0] for m in messages]
    batch = decode_lines([tag(s) for s in sentences])
    assert batch.rejected == {}
    got = rows(batch.positions)
    want = [expected_position(s) for s in sentences]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert w is not None
        assert all(same(g[k], w[k]) for k in w), (g, w)


def test_not_available_values_become_null() -> None:
    sentences = [
        encode_dict(
            {
                "type": 1,
                "mmsi": 1,
                "lat": 91,
                "lon": 181,
                "speed": 102.3,
                "course": 360,
                "heading": 511,
            }
        )[0],
        encode_dict({"type": 27, "mmsi": 2, "lat": 91, "lon": 181, "speed": 63, "course": 511})[0],
        encode_dict({"type": 18, "mmsi": 3, "lat": 10, "lon": 181, "speed": 0, "heading": 400})[0],
    ]
    frame = decode_lines([tag(s) for s in sentences]).positions.sort("mmsi")
    assert frame["lat"].null_count() == 3 and frame["lon"].null_count() == 3
    assert frame["sog_kn"].to_list() == [None, None, 0.0]
    assert frame["cog_deg"].to_list()[:2] == [None, None]
    assert frame["heading_deg"].to_list() == [None, None, None]
    assert frame["nav_status"].to_list() == [15, 15, None]  # pyais encodes 15 by default


def test_extreme_and_negative_values() -> None:
    sentences = [
        encode_dict(
            {
                "type": 1,
                "mmsi": 999_999_999,
                "lat": -90,
                "lon": -180,
                "speed": 102.2,
                "course": 359.9,
                "heading": 359,
                "status": 15,
            }
        )[0],
        encode_dict(
            {"type": 3, "mmsi": 1, "lat": 90, "lon": 180, "speed": 0, "course": 0, "heading": 0}
        )[0],
        encode_dict(
            {
                "type": 18,
                "mmsi": 338_123_456,
                "lat": -33.8568,
                "lon": 151.2153,
                "speed": 5.5,
                "course": 270.1,
                "heading": 271,
            }
        )[0],
    ]
    frame = decode_lines([tag(s) for s in sentences]).positions
    assert frame.schema == pl.Schema(POSITIONS_SCHEMA)
    first, second, third = frame.to_dicts()
    assert (first["lat"], first["lon"], first["sog_kn"], first["cog_deg"]) == (
        -90.0,
        -180.0,
        102.2,
        359.9,
    )
    assert (second["lat"], second["lon"], second["mmsi"]) == (90.0, 180.0, 1)
    assert third["msg_type"] == 18 and third["lat"] == -33.8568 and third["lon"] == 151.2153


def test_invalid_mmsi_and_position_are_rejected_with_reasons() -> None:
    sentences = [
        encode_dict({"type": 1, "mmsi": 0, "lat": 1, "lon": 1})[0],
        encode_dict({"type": 1, "mmsi": 1_000_000_000, "lat": 1, "lon": 1})[0],
        encode_dict({"type": 1, "mmsi": 5, "lat": 95, "lon": 1})[0],
        encode_dict({"type": 18, "mmsi": 6, "lat": 1, "lon": -190})[0],
        encode_dict({"type": 1, "mmsi": 7, "lat": 1, "lon": 1})[0],
    ]
    batch = decode_lines([tag(s) for s in sentences])
    assert batch.rejected == {"invalid_mmsi": 2, "invalid_position": 2}
    assert batch.positions["mmsi"].to_list() == [7]
    assert batch.n_messages == 1


def test_truncated_and_bad_characters() -> None:
    good = encode_dict({"type": 1, "mmsi": 7, "lat": 1, "lon": 1})[0]
    payload = good.split(",")[5]
    lines = [
        checksummed(f"AIVDM,1,1,,A,{payload[:20]},0"),  # 120 bits: no heading
        checksummed(f"AIVDM,1,1,,A,{payload[:-1]}\x7f,0"),  # not a 6-bit character
        checksummed("AIVDM,1,1,,B,,0"),  # empty payload
        good,
    ]
    batch = decode_lines([tag(s) for s in lines])
    assert batch.rejected == {"truncated": 2, "invalid_field": 1}
    assert batch.positions.height == 1


def checksummed(body: str) -> str:
    x = 0
    for ch in body.encode():
        x ^= ch
    return f"!{body}*{x:02X}"


STATIC_MESSAGES = [
    {
        "type": 5,
        "mmsi": 412_000_001,
        "imo": 9_123_456,
        "callsign": "P5AB",
        "shipname": "SONG HAE",
        "ship_type": 70,
        "to_bow": 120,
        "to_stern": 30,
        "to_port": 10,
        "to_starboard": 12,
        "month": 3,
        "day": 17,
        "hour": 14,
        "minute": 30,
        "draught": 8.4,
        "destination": "NAMPO",
    },
    {"type": 5, "mmsi": 412_000_002, "shipname": "@@", "ship_type": 78, "destination": " X "},
    {"type": 24, "mmsi": 338_000_001, "partno": 0, "shipname": "LITTLE ONE"},
    {
        "type": 24,
        "mmsi": 338_000_001,
        "partno": 1,
        "ship_type": 37,
        "callsign": "B12",
        "to_bow": 5,
        "to_stern": 4,
        "to_port": 2,
        "to_starboard": 1,
    },
    {
        "type": 24,
        "mmsi": 981_234_567,
        "partno": 1,
        "ship_type": 36,
        "callsign": "AUX",
        "mothership_mmsi": 338_000_001,
    },
    {
        "type": 19,
        "mmsi": 338_000_009,
        "lat": 10,
        "lon": 20,
        "speed": 3.3,
        "course": 90,
        "heading": 91,
        "shipname": "CLASSB",
        "ship_type": 30,
        "to_bow": 6,
        "to_stern": 3,
    },
]


def static_lines(messages: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for i, m in enumerate(messages):
        out.extend(tag(s, EPOCH + i) for s in encode_dict(m, seq_id=str(i % 10)))
    return out


def test_static_reports_decode_to_expected_values() -> None:
    batch = decode_lines(static_lines(STATIC_MESSAGES))
    assert batch.rejected == {}
    assert batch.statics.schema == pl.Schema(STATICS_SCHEMA)
    by_key = {(r["mmsi"], r["msg_type"], r["vessel_name"]): r for r in batch.statics.to_dicts()}
    song = by_key[(412_000_001, 5, "SONG HAE")]
    assert song["imo"] == 9_123_456 and song["callsign"] == "P5AB"
    assert song["destination"] == "NAMPO" and song["eta"] == "03-17 14:30"
    assert song["draught_m"] == 8.4 and song["to_bow_m"] == 120 and song["ship_type"] == 70
    blank = by_key[(412_000_002, 5, None)]
    assert blank["destination"] == "X" and blank["eta"] is None and blank["imo"] is None
    assert blank["ship_type"] == 75  # reserved cargo code folded as pyais does
    part_a = by_key[(338_000_001, 24, "LITTLE ONE")]
    assert part_a["callsign"] is None and part_a["to_bow_m"] is None
    part_b = by_key[(338_000_001, 24, None)]
    assert (part_b["callsign"], part_b["ship_type"], part_b["to_port_m"]) == ("B12", 37, 2)
    aux = by_key[(981_234_567, 24, None)]
    assert aux["to_bow_m"] is None and aux["callsign"] == "AUX"
    # Type 19 is both a position and a static report.
    assert by_key[(338_000_009, 19, "CLASSB")]["to_bow_m"] == 6
    assert batch.positions.filter(pl.col("mmsi") == 338_000_009)["heading_deg"].to_list() == [91]
    assert batch.n_messages == len(STATIC_MESSAGES)


def test_vectorised_statics_equal_pyais_path(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = static_lines(STATIC_MESSAGES * 3)
    fast, slow = decode_lines(lines), slow_only(lines, monkeypatch)
    assert_frame_equal(fast.statics.sort(pl.all()), slow.statics.sort(pl.all()))
    assert_frame_equal(fast.positions.sort(pl.all()), slow.positions.sort(pl.all()))
    assert (fast.n_messages, fast.rejected) == (slow.n_messages, slow.rejected)


#: Every character of the AIS 6-bit text alphabet, in code order.
SIXBIT_TEXT = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_ !\"#$%&'()*+,-./0123456789:;<=>?"


def test_every_text_character_decodes_like_the_pyais_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert len(SIXBIT_TEXT) == 64
    text = SIXBIT_TEXT * 2
    messages: list[dict[str, Any]] = []
    for i in range(0, 64, 3):
        name, call, dest = text[i : i + 20], text[i + 5 : i + 12], text[i + 30 : i + 50]
        messages += [
            {"type": 5, "mmsi": 1000 + i, "shipname": name, "callsign": call, "destination": dest},
            {"type": 24, "mmsi": 2000 + i, "partno": 0, "shipname": name},
            {"type": 24, "mmsi": 3000 + i, "partno": 1, "callsign": call, "ship_type": 30},
        ]
    lines = static_lines(messages)
    fast, slow = decode_lines(lines), slow_only(lines, monkeypatch)
    assert fast.rejected == slow.rejected == {}
    assert_frame_equal(fast.statics, slow.statics)
    names = set(fast.statics["vessel_name"].drop_nulls().to_list())
    assert "!\"#$%&'()*+,-./01234" in names  # padding "@" only at the ends is removed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "type": st.just(5),
                "mmsi": st.integers(1, 999_999_999),
                "imo": st.integers(0, 2**30 - 1),
                "callsign": st.text("ABCXYZ0123 @", max_size=7),
                "shipname": st.text("ABCDEFGHIJ @-.", max_size=20),
                "ship_type": st.integers(0, 255),
                "to_bow": st.integers(0, 511),
                "to_port": st.integers(0, 63),
                "month": st.integers(0, 15),
                "day": st.integers(0, 31),
                "hour": st.integers(0, 31),
                "minute": st.integers(0, 63),
                "draught": st.integers(0, 255).map(lambda v: v / 10),
                "destination": st.text("NAMPO RJ@", max_size=20),
            }
        ),
        min_size=1,
        max_size=8,
    )
)
def test_type5_property_fast_equals_pyais(messages: list[dict[str, Any]]) -> None:
    lines = static_lines(messages)
    fast = decode_lines(lines)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(nmea_mod, "FAST_STATIC_TYPES", frozenset())
        slow = decode_lines(lines)
    assert_frame_equal(fast.statics, slow.statics)
    assert fast.rejected == slow.rejected


def test_msg_key_ignores_receiver_and_time_but_not_content() -> None:
    sentence = encode_dict({"type": 1, "mmsi": 7, "lat": 1, "lon": 1})[0]
    other = encode_dict({"type": 1, "mmsi": 7, "lat": 1, "lon": 1.0001})[0]
    as_bs = checksummed("BS" + sentence[3:].split("*")[0])
    batch = decode_lines([tag(sentence, EPOCH), tag(as_bs, EPOCH + 5), tag(other, EPOCH)])
    keys = batch.positions["msg_key"].to_list()
    assert keys[0] == keys[1] != keys[2]
    assert keys[0] == payload_key(sentence.split(",")[5].encode())


@given(st.lists(st.binary(min_size=0, max_size=90), min_size=1, max_size=30))
def test_vectorised_keys_equal_scalar_keys(payloads: list[bytes]) -> None:
    buf = np.frombuffer(b"".join(payloads) + bytes(200), np.uint8)
    lengths = np.array([len(p) for p in payloads], np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    keys = payload_keys(buf, Pieces(starts, lengths))
    assert keys.tolist() == [payload_key(p) for p in payloads]
    # A payload split in two pieces hashes like the joined payload.
    half = lengths // 2
    split = Pieces(starts, half, starts + half, lengths - half)
    assert payload_keys(buf, split).tolist() == keys.tolist()


def test_payloads_split_anywhere_in_two_pieces_decode_like_one_piece() -> None:
    """A payload cut in two pieces anywhere, the second stored before the first, decodes like the
    payload in one piece."""
    messages: list[dict[str, Any]] = [
        {
            "type": 5,
            "mmsi": 412_000_001,
            "imo": 9_123_456,
            "callsign": "P5AB",
            "shipname": "SONG HAE PIONEER ST",
            "destination": "  NAMPO",
            "month": 3,
            "day": 17,
            "draught": 8.4,
        },
        {"type": 24, "mmsi": 338_000_001, "partno": 1, "callsign": "B12", "ship_type": 37},
        {"type": 1, "mmsi": 7, "lat": -33.5, "lon": 151.25, "speed": 12.3, "heading": 91},
        {"type": 18, "mmsi": 338_000_002, "lat": 55.5, "lon": 12.5, "course": 359.9},
    ]
    # Bytes that are not armour around each piece: reading past a piece would show.
    junk = b"!*,\x00~"
    for message in messages:
        sentences = encode_dict(message)
        payload = "".join(s.split(",")[5] for s in sentences).encode()
        fill = int(sentences[-1].split(",")[6][0])
        n = len(payload)
        buf = bytearray(junk + payload + junk)
        rows = [(len(junk), n, len(junk), 0)]  # s1, l1, s2, l2
        for cut in range(n + 1):
            buf += junk
            second = len(buf)
            buf += payload[cut:] + junk
            rows.append((len(buf), cut, second, n - cut))
            buf += payload[:cut] + junk
        pieces = Pieces(*np.array(rows, np.int64).T)
        data = np.frombuffer(bytes(buf), np.uint8)
        fills = np.full(len(rows), fill, np.int64)
        assert set(payload_keys(data, pieces).tolist()) == {payload_key(payload)}
        if message["type"] in (5, 24):
            times = np.full(len(rows), EPOCH * 1_000_000, np.int64)
            frame, reason = decode_statics(data, pieces, fills, times, "test")
            assert frame.height == len(rows) and frame.unique().height == 1
            assert frame["mmsi"][0] == message["mmsi"]
            if message["type"] == 5:
                assert frame.row(0, named=True)["vessel_name"] == "SONG HAE PIONEER ST"
                assert frame.row(0, named=True)["destination"] == "NAMPO"
        else:
            cols, reason = decode_positions(data, pieces, fills)
            assert set(cols["mmsi"].tolist()) == {message["mmsi"]}
            assert set(cols["lat"].tolist()) == {message["lat"]}
        assert reason.tolist() == [0] * len(rows)


def test_other_types_are_counted_not_stored() -> None:
    lines = [
        tag(encode_dict({"type": 4, "mmsi": 2_190_047, "lat": 55, "lon": 12})[0]),
        tag(encode_dict({"type": 21, "mmsi": 992_191_234, "name": "BUOY"})[0]),
        tag(encode_dict({"type": 1, "mmsi": 7, "lat": 1, "lon": 1})[0]),
    ]
    batch = decode_lines(lines)
    assert batch.other_types == {4: 1, 21: 1}
    assert batch.positions.height == 1 and batch.n_messages == 3


def test_every_byte_is_judged_like_the_pyais_path() -> None:
    good = encode_dict({"type": 1, "mmsi": 7, "lat": 1, "lon": 1})[0].split(",")[5].encode()
    for c in range(256):
        # The byte in every field, then in a longer payload past every field.
        for payload in (b"1" + bytes([c]) * 27, good + b"0" * 12 + bytes([c]) + b"0" * 7):
            buf = np.frombuffer(payload + bytes(64), np.uint8)
            pieces = Pieces(np.array([0]), np.array([len(payload)]))
            cols, reason = decode_positions(buf, pieces, np.array([0]))
            status, msg = decode_payload(payload, 0)
            if status == Reject.NONE:
                status, _ = position_row(msg)
            assert Reject(int(reason[0])) == status, (c, payload)
            if status == Reject.NONE:
                assert cols["mmsi"].tolist() == [msg.mmsi], (c, payload)


_ARMOUR = b"0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"


@given(
    st.lists(
        st.tuples(
            st.binary(min_size=0, max_size=40).map(lambda b: bytes(_ARMOUR[x % 64] for x in b)),
            st.one_of(st.none(), st.tuples(st.integers(0, 39), st.sampled_from(b"!*,Xx\x00~"))),
        ),
        min_size=1,
        max_size=24,
    )
)
def test_bad_characters_found_only_inside_each_payload(
    cases: list[tuple[bytes, tuple[int, int] | None]],
) -> None:
    payloads = []
    for payload, bad in cases:
        if bad is not None and bad[0] < len(payload):
            payload = payload[: bad[0]] + bytes([bad[1]]) + payload[bad[0] + 1 :]
        payloads.append(payload)
    # Bad bytes between payloads: they must not count for their neighbours.
    joined = b"!".join(payloads)
    buf = np.frombuffer(joined + bytes(200), np.uint8)
    lengths = np.array([len(p) for p in payloads], np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
    fill = np.zeros(len(payloads), np.int64)
    _, reason = decode_positions(buf, Pieces(starts, lengths), fill)
    expected = [any(c not in _ARMOUR for c in p) for p in payloads]
    assert (reason == Reject.INVALID_FIELD).tolist() == expected
