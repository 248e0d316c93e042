"""NMEA 4.0 tag-block checksums: checked where a feed writes real ones, so a flipped time is
rejected; feeds that write dummy ones are still read."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from nmea_builders import EPOCH0, xor
from pyais import encode_dict

from monitor.decode.nmea.decoder import NmeaDecoder


def _sentence(i: int) -> str:
    msg: dict[str, Any] = {"type": 1, "mmsi": 366000000 + i, "lat": 37.0 + i * 1e-3, "lon": -122.0}
    (sentence,) = encode_dict(msg, talker_id="AI", sentence_type="VDM")
    return str(sentence)


def _tag(body: str, checksum: int | None) -> str:
    return f"\\{body}*{checksum:02X}\\" if checksum is not None else f"\\{body}\\"


def _real(i: int) -> str:
    body = f"s:rx1,c:{EPOCH0 + 60 * i}"
    return _tag(body, xor(body)) + _sentence(i)


def _dummy(i: int) -> str:
    body = f"s:rx1,c:{EPOCH0 + 60 * i}"
    return _tag(body, 0 if xor(body) else 1) + _sentence(i)


def _decode(lines: list[str]) -> tuple[dict[int, int], dict[str, int]]:
    """Return the stored time (epoch s) per MMSI and the rejections."""
    decoder = NmeaDecoder("feed")
    batch = decoder.feed("".join(line + "\n" for line in lines).encode("latin-1"))
    last = decoder.flush()
    batch.rejected.update(last.rejected)
    times = {
        int(mmsi): int(t.timestamp())
        for mmsi, t in batch.positions.select("mmsi", "timestamp_utc").iter_rows()
    }
    return times, dict(batch.rejected)


def _flip_time(line: str) -> str:
    """Return ``line`` with the first digit of its c: time changed, the checksum kept."""
    at = line.index("c:") + 2
    digit = str((int(line[at]) + 1) % 10)
    return line[:at] + digit + line[at + 1 :]


def test_a_flipped_time_in_a_feed_with_real_checksums_is_rejected() -> None:
    lines = [_real(i) for i in range(100)]
    for i in (20, 55, 99):
        lines[i] = _flip_time(lines[i])
    times, rejected = _decode(lines)
    assert rejected == {"bad_tag_checksum": 3}
    assert sorted(times) == [366000000 + i for i in range(100) if i not in (20, 55, 99)]
    assert all(t == EPOCH0 + 60 * (mmsi - 366000000) for mmsi, t in times.items())


def test_a_feed_with_dummy_checksums_is_read_whole() -> None:
    times, rejected = _decode([_dummy(i) for i in range(100)])
    assert rejected == {}
    assert len(times) == 100


def test_tag_blocks_without_a_checksum_are_read() -> None:
    lines = [_tag(f"c:{EPOCH0 + 60 * i}", None) + _sentence(i) for i in range(50)]
    times, rejected = _decode(lines)
    assert rejected == {} and len(times) == 50


def test_each_input_is_judged_on_its_own_first_lines() -> None:
    real = [_real(i) for i in range(40)]
    real[30] = _flip_time(real[30])
    dummy = [_dummy(i) for i in range(40)]
    assert _decode(real)[1] == {"bad_tag_checksum": 1}
    assert _decode(dummy)[1] == {}


def test_the_choice_holds_for_the_whole_input() -> None:
    decoder = NmeaDecoder("feed")
    first = decoder.feed("".join(_real(i) + "\n" for i in range(30)).encode())
    later = [_real(i) for i in range(30, 60)]
    later[5] = _flip_time(later[5])
    second = decoder.feed("".join(line + "\n" for line in later).encode())
    assert not first.rejected and second.rejected == {"bad_tag_checksum": 1}


def test_a_lone_tag_block_line_with_a_bad_checksum_times_nothing() -> None:
    lines = []
    for i in range(30):
        body = f"s:rx1,c:{EPOCH0 + 60 * i}"
        lines += [_tag(body, xor(body)), _sentence(i)]
    lines[20] = _flip_time(lines[20])
    times, rejected = _decode(lines)
    assert rejected["bad_tag_checksum"] == 1
    assert 366000010 not in times or times[366000010] == EPOCH0 + 600
    assert len(times) == 29


@settings(max_examples=300, deadline=None)
@given(line=st.integers(10, 39), bit=st.integers(0, 6), data=st.data())
def test_no_single_bit_flip_stores_a_wrong_time(line: int, bit: int, data: st.DataObject) -> None:
    lines = [_real(i) for i in range(40)]
    text = lines[line]
    at = data.draw(st.integers(0, len(text) - 1))
    flipped = chr(ord(text[at]) ^ (1 << bit))
    if flipped in "\r\n":
        return
    lines[line] = text[:at] + flipped + text[at + 1 :]
    times, _ = _decode(lines)
    expected = {366000000 + i: EPOCH0 + 60 * i for i in range(40)}
    for mmsi, t in times.items():
        if mmsi in expected:
            assert t == expected[mmsi], (lines[line], mmsi)
