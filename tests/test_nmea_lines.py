"""Word-at-a-time parts of the line scan against plain Python readings of the same bytes."""

from __future__ import annotations

from functools import reduce

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.jit import U8
from monitor.decode.bytes import find_byte, uint_after, uint_before, xor_bytes
from monitor.decode.nmea.lines import _PAD, _c_field, _newlines, scan_lines

#: Bytes that matter to the scan, and a few that do not.
ALPHABET = b"\n\r\\*,:c!$0123456789AVDMs \x00\x80\xff"
texts = st.binary(max_size=300).map(lambda raw: bytes(ALPHABET[b % len(ALPHABET)] for b in raw))


def padded(data: bytes) -> U8:
    """Return ``data`` with the scan's zero padding."""
    return np.frombuffer(data + bytes(_PAD + -len(data) % 8), np.uint8)


@given(texts)
def test_newlines_are_every_newline_byte(data: bytes) -> None:
    found = _newlines(padded(data), len(data))
    assert found.tolist() == [i for i, c in enumerate(data) if c == 10]


@given(texts)
def test_line_count_is_the_newline_count(data: bytes) -> None:
    assert scan_lines(data).n_lines == (data + b"\n").count(b"\n") - data.endswith(b"\n")


@settings(max_examples=300)
@given(texts, st.data())
def test_find_is_the_first_match_in_range(data: bytes, draw: st.DataObject) -> None:
    start = draw.draw(st.integers(0, len(data)))
    end = draw.draw(st.integers(0, len(data)))
    buf = padded(data)
    for byte in (b"*", b"\\"):
        assert find_byte(buf, byte[0], start, end) == data.find(byte, start, end)


def test_find_at_every_offset_from_every_start() -> None:
    # Word boundaries fall anywhere relative to the match, the start and the end.
    for at in range(20):
        data = b"x" * at + b"*" + b"x" * 10
        buf = padded(data)
        for start in range(len(data)):
            for end in range(start, len(data) + 1):
                assert find_byte(buf, ord("*"), start, end) == data.find(b"*", start, end)


@given(texts, st.data())
def test_checksum_is_the_xor_of_the_bytes(data: bytes, draw: st.DataObject) -> None:
    start = draw.draw(st.integers(0, len(data)))
    stop = draw.draw(st.integers(start, len(data)))
    assert xor_bytes(padded(data), start, stop) == reduce(lambda x, c: x ^ c, data[start:stop], 0)


def digits_at(data: bytes, at: int, limit: int) -> tuple[int, int]:
    n = 0
    while n < limit and at + n < len(data) and data[at + n : at + n + 1].isdigit():
        n += 1
    return (int(data[at : at + n]) if n else 0), n


#: Text with runs of digits of any length around 8 and 16.
numbers = st.lists(
    st.sampled_from([b",", b"*", b":", b" ", b"a"]) | st.from_regex(rb"\A[0-9]{1,20}\Z"), max_size=8
).map(b"".join)


@settings(max_examples=300)
@given(numbers, st.data())
def test_numbers_read_up_to_sixteen_digits(data: bytes, draw: st.DataObject) -> None:
    at = draw.draw(st.integers(0, len(data)))
    buf = padded(data)
    assert uint_after(buf, at, 16) == digits_at(data, at, 16)
    limit = draw.draw(st.integers(1, 16))  # the callers' range: 16 digits fit an int64
    assert uint_after(buf, at, limit) == digits_at(data, at, limit)
    # Backwards, from the end of the text; a number may start at its very first byte.
    backwards = digits_at(data[:at][::-1], 0, limit)[1]
    expected = (int(data[at - backwards : at]) if backwards else 0), backwards
    assert uint_before(buf, at, limit) == expected


def first_c_field(data: bytes, start: int, close: int) -> int:
    for k in range(start + 1, close - 1):
        opens = k == start + 1 or data[k - 1] == ord(",")
        if opens and data[k : k + 2] == b"c:":
            return k + 2
    return -1


#: Pieces of tag blocks: field names, separators and values of various lengths.
tag_pieces = st.sampled_from(
    [b"c:", b"c", b":", b",", b"s:", b"1", b"cc:", b"\\", b"rcv0123", b"g:1-2-3", b",c:17"]
)


@settings(max_examples=300)
@given(st.lists(tag_pieces, max_size=20))
def test_c_field_is_the_first_field_named_c(pieces: list[bytes]) -> None:
    data = b"\\" + b"".join(pieces) + b"\\!"
    close = data.find(b"\\", 1)
    assert _c_field(padded(data), 0, close) == first_c_field(data, 0, close)


def test_c_field_at_every_offset() -> None:
    for before in range(24):
        for field in (b"c:", b"c:1", b"c:17", b"cc:1", b"c1:"):
            for opening in (b"\\", b"\\" + b"s" * before + b","):
                data = opening + field + b"\\!"
                close = data.find(b"\\", 1)
                assert _c_field(padded(data), 0, close) == first_c_field(data, 0, close), data
