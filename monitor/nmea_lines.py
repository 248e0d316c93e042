"""Parsing of NMEA lines: structure, checksums, the time each line carries itself and the lines
that time others.

A chunk is parsed by one compiled pass over its raw bytes (:mod:`monitor.jit`), line by line.

Accepted sentences: ``!ccVDM`` / ``!ccVDO`` from any two-character talker, single-digit fragment
fields and sequence id, a one-character (or empty) channel, then either the standard
``payload,fill*hh`` or the non-standard ``payload,fill,x*hh``. NMEA 4.0 tag-block checksums are
not checked, because real feeds write dummy ones.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

import numpy as np

from monitor.fragments import NO_TIME
from monitor.jit import I64, U8, U64, inline, kernel
from monitor.nmea_clock import (
    PGHP_BAD_CHECKSUM,
    PGHP_INVALID,
    PGHP_OK,
    SRC_PGHP,
    SRC_TAG,
    SRC_TRAIL,
    SRC_USCG,
    epoch_us,
    find_byte,
    hex_digit,
    pghp_line,
    star_checksum,
    uint_after,
    uint_before,
)

_NO_TIME: Final = NO_TIME
_PAD = 160  # zero bytes after the chunk, so that reads a little past a line's end stay inside


@dataclass
class LineScan:
    """One chunk: its AIS sentences and the lines that time them."""

    buf: U8
    n_lines: int
    #: Every line that is an AIS sentence (``!ccVDM``/``!ccVDO``), well-formed or not.
    ais_lines: I64
    #: Well-formed sentences with a good checksum, in line order: line index and fields.
    line: I64
    total: I64
    num: I64
    seq: I64
    chan: I64
    pstart: I64
    plen: I64
    fill: I64
    #: Time carried by the sentence's own line (NO_TIME if none) and its source code.
    own_time: I64
    own_src: I64
    #: Receiver station named after the checksum (US Coast Guard ",r<id>") as a key, 0 if none.
    station: U64
    #: Lines that time the next AIS line ($PGHP, tag block alone on its line): rows line, time,
    #: source.
    prefixes: I64
    #: ``$xxZDA``/``$xxRMC`` lines: rows line, body start, end, checksum good (1) or not (0).
    clocks: I64
    rejected: Counter[str]


#: Counts returned by the scan kernel, by index.
_UNKNOWN, _BAD_CHECKSUM, _INVALID_FIELD = 0, 1, 2
#: Rows of the sentence table the scan returns.
_LINE, _TOTAL, _NUM, _SEQ, _CHAN, _PSTART, _PLEN, _FILL, _STAR, _TRAILING, _TIME, _SRC = range(12)
_STATION_MUL = np.uint64(0x9E3779B97F4A7C15)
_ONES = np.uint64(0x0101_0101_0101_0101)
_HIGH_BITS = np.uint64(0x8080_8080_8080_8080)
_NEWLINES = np.uint64(0x0A0A_0A0A_0A0A_0A0A)


def _words(buf: U8) -> U64:
    """Return the 8 bytes at every offset of ``buf`` as little-endian words (a view)."""
    return np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, offset=0, strides=(1,))


#: Bit patterns of the byte index (0-7) of a word's lowest byte with its high bit set.
_BYTE_INDEX = np.uint64(0x0001_0203_0405_0607)


@inline
def _newlines(buf: U8, aligned: U64, size: int) -> I64:
    """Return the index of every newline in ``buf[:size]``."""
    n = 0
    for i in range(size):
        n += buf[i] == 10
    found = np.empty(n, np.int64)
    k = 0
    # Eight bytes at a time: a word holds a newline when one of its bytes XOR "\n" is zero. The
    # test can also flag a byte just above a real one, hence the check of each candidate.
    for w in range((size + 7) // 8):
        t = aligned[w] ^ _NEWLINES
        flags = (t - _ONES) & ~t & _HIGH_BITS
        while flags:
            lowest = flags & (~flags + np.uint64(1))
            at = 8 * w + int(((lowest >> np.uint64(7)) * _BYTE_INDEX) >> np.uint64(56))
            if buf[at] == 10 and at < size:
                found[k] = at
                k += 1
            flags ^= lowest
    return found


@inline
def _xor(buf: U8, words: U64, start: int, stop: int) -> int:
    """Return the XOR of ``buf[start:stop]`` (an NMEA checksum)."""
    x = np.uint64(0)
    k = start
    while k + 8 <= stop:
        x ^= words[k]
        k += 8
    x ^= x >> np.uint64(32)
    x ^= x >> np.uint64(16)
    x ^= x >> np.uint64(8)
    c = int(x & np.uint64(0xFF))
    while k < stop:
        c ^= buf[k]
        k += 1
    return c


@inline
def station_key(buf: U8, at: int) -> np.uint64:
    """Return a non-zero key for the field starting at ``at`` (up to 16 bytes, to a comma)."""
    head, tail = np.uint64(0), np.uint64(0)
    for k in range(16):
        c = buf[at + k]
        if c == 44 or c < 33:
            break
        if k < 8:
            head |= np.uint64(c) << np.uint64(8 * k)
        else:
            tail |= np.uint64(c) << np.uint64(8 * (k - 8))
    return ((head * _STATION_MUL) ^ tail) | np.uint64(1)


@inline
def _tag_block(buf: U8, start: int, end: int) -> tuple[int, int]:
    """Return where the tag block opening at ``start`` closes (-1 if not on its line) and its
    first ``c:`` time (NO_TIME if none)."""
    close = find_byte(buf, 92, start + 1, end)
    if close < 0:
        return -1, _NO_TIME
    for k in range(start + 1, close - 1):
        if buf[k] == 99 and buf[k + 1] == 58 and (k == start + 1 or buf[k - 1] == 44):
            value, nd = uint_after(buf, k + 2, 16)
            if 0 < nd < 16:
                return close, epoch_us(value, nd)
            return close, _NO_TIME
    return close, _NO_TIME


@inline
def _sentence(buf: U8, words: U64, b: int, e: int, row: I64) -> int:
    """Parse the ``!ccVDM`` sentence ``buf[b:e]`` into ``row`` (_TOTAL.._TRAILING); return -1 if
    it is good, else the index of its count (_UNKNOWN, _BAD_CHECKSUM)."""
    if e - b < 15 or buf[b + 6] != 44 or buf[b + 8] != 44 or buf[b + 10] != 44:
        return _UNKNOWN
    total, num = int(buf[b + 7]) - 48, int(buf[b + 9]) - 48
    if not (1 <= total <= 9 and 1 <= num <= total):
        return _UNKNOWN
    c3 = b + 11
    seq = -1
    if buf[c3] != 44:
        seq = int(buf[c3]) - 48
        if not (0 <= seq <= 9) or buf[b + 12] != 44:
            return _UNKNOWN
        c3 = b + 12
    chan = 0
    c4 = c3 + 1
    if buf[c4] != 44:
        chan = int(buf[c4])
        c4 += 1
        if buf[c4] != 44:
            return _UNKNOWN
    # The checksum ends the line, or comes before fields (US Coast Guard style).
    star = e - 3
    trailing = 0
    if buf[star] != 42:
        star = find_byte(buf, 42, c4 + 1, e - 2)
        if star < 0 or buf[star + 3] != 44:
            return _UNKNOWN
        trailing = 1
    c5 = star - 4 if buf[star - 4] == 44 and buf[star - 2] == 44 and star - 4 > c4 else star - 2
    fill = int(buf[c5 + 1]) - 48
    if buf[c5] != 44 or c5 <= c4 or not (0 <= fill <= 5):
        return _UNKNOWN
    x = _xor(buf, words, b + 1, star)
    high, low = hex_digit(buf[star + 1]), hex_digit(buf[star + 2])
    if high < 0 or low < 0 or x != high * 16 + low:
        return _BAD_CHECKSUM
    row[_TOTAL], row[_NUM], row[_SEQ], row[_CHAN] = total, num, seq, chan
    row[_PSTART], row[_PLEN], row[_FILL] = c4 + 1, c5 - c4 - 1, fill
    row[_STAR], row[_TRAILING] = star, trailing
    return -1


@inline
def _dollar_line(buf: U8, body: int, e: int) -> int:
    """Return what a "$" line is: 1 for $PGHP, 2 for a $xxZDA or $xxRMC clock, 0 otherwise."""
    if e - body < 6:
        return 0
    if buf[body + 1] == 80 and buf[body + 2] == 71 and buf[body + 3] == 72 and buf[body + 4] == 80:
        return 1 if buf[body + 5] == 44 else 0
    a, b, c = buf[body + 3], buf[body + 4], buf[body + 5]
    return 2 if (a == 90 and b == 68 and c == 65) or (a == 82 and b == 77 and c == 67) else 0


@kernel
def _scan(buf: U8, words: U64, aligned: U64, size: int) -> tuple[int, I64, I64, U64, I64, I64, I64]:
    """Return the chunk's line count, AIS lines, good sentences (rows _LINE.._SRC) and their
    station keys, prefix lines (line, time, source), clock lines (line, body, end, checksum
    good) and the counts (_UNKNOWN, _BAD_CHECKSUM, _INVALID_FIELD)."""
    newlines = _newlines(buf, aligned, size)
    n = len(newlines)
    ais = np.empty(n, np.int64)
    table = np.empty((12, n), np.int64)
    station = np.zeros(n, np.uint64)
    prefixes = np.empty((3, n), np.int64)
    clocks = np.empty((4, n), np.int64)
    counts = np.zeros(3, np.int64)
    n_ais = n_good = n_prefix = n_clock = 0
    at = 0
    for li in range(n):
        s = at
        e = at = newlines[li]
        at += 1
        if e > s and buf[e - 1] == 13:
            e -= 1
        body, tag_time = s, _NO_TIME
        if e > s and buf[s] == 92:
            close, tag_time = _tag_block(buf, s, e)
            body = e if close < 0 else close + 1
            if close < 0:
                counts[_UNKNOWN] += 1
            elif body == e and tag_time != _NO_TIME:
                prefixes[0, n_prefix], prefixes[1, n_prefix] = li, tag_time
                prefixes[2, n_prefix] = SRC_TAG
                n_prefix += 1
        if body == e:
            continue
        first = buf[body]
        if first == 36:
            kind = _dollar_line(buf, body, e)
            if kind == 1:
                time, status = pghp_line(buf, body, e)
                if status == PGHP_OK:
                    prefixes[0, n_prefix], prefixes[1, n_prefix] = li, time
                    prefixes[2, n_prefix] = SRC_PGHP
                    n_prefix += 1
                counts[_BAD_CHECKSUM] += status == PGHP_BAD_CHECKSUM
                counts[_INVALID_FIELD] += status == PGHP_INVALID
            elif kind == 2:
                clocks[0, n_clock], clocks[1, n_clock], clocks[2, n_clock] = li, body, e
                clocks[3, n_clock] = star_checksum(buf, body, e) != 0
                n_clock += 1
            continue
        if first != 33:
            counts[_UNKNOWN] += first != 35  # "#" comments are not data
            continue
        if e - body < 6 or buf[body + 3] != 86 or buf[body + 4] != 68 or (buf[body + 5] | 2) != 79:
            continue  # "!" lines other than VDM/VDO (e.g. !AIPWR status) are not AIS data
        ais[n_ais] = li
        n_ais += 1
        row = table[:, n_good]
        status = _sentence(buf, words, body, e, row)
        if status >= 0:
            counts[status] += 1
            continue
        row[_LINE], row[_TIME], row[_SRC] = li, tag_time, SRC_TAG
        if row[_TRAILING]:
            star = row[_STAR]
            # The receiver station: the first ",r" field after the checksum, usually right there.
            r = star + 4
            while r < e and not (buf[r] == 114 and buf[r - 1] == 44):
                r += 1
            if r < e:
                station[n_good] = station_key(buf, r)
            if tag_time == _NO_TIME:
                value, nd = uint_before(buf, e, 16)
                if 0 < nd < 16 and buf[e - nd - 1] == 44 and e - nd - 1 > star:
                    row[_TIME] = epoch_us(value, nd)
                    row[_SRC] = SRC_USCG if station[n_good] != 0 else SRC_TRAIL
        if row[_TIME] == _NO_TIME:
            row[_SRC] = 0
        n_good += 1
    return (
        n,
        ais[:n_ais],
        table[:, :n_good],
        station[:n_good],
        prefixes[:, :n_prefix],
        clocks[:, :n_clock],
        counts,
    )


def scan_lines(data: bytes) -> LineScan:
    """Return the structure of a chunk of complete NMEA lines (see the module docstring)."""
    if not data.endswith(b"\n"):
        data += b"\n"
    # Padded to whole words: the newline search reads the chunk as 64-bit words.
    buf = np.frombuffer(data + bytes(_PAD + -len(data) % 8), np.uint8)
    words, aligned = _words(buf), buf.view(np.uint64)
    n, ais, table, station, prefixes, clocks, counts = _scan(buf, words, aligned, len(data))
    rejected: Counter[str] = Counter()
    for reason, count in zip(
        ("unknown_format", "bad_checksum", "invalid_field"), counts.tolist(), strict=True
    ):
        if count:
            rejected[reason] += count
    return LineScan(
        buf=buf,
        n_lines=n,
        ais_lines=ais,
        line=table[_LINE],
        total=table[_TOTAL],
        num=table[_NUM],
        seq=table[_SEQ],
        chan=table[_CHAN],
        pstart=table[_PSTART],
        plen=table[_PLEN],
        fill=table[_FILL],
        own_time=table[_TIME],
        own_src=table[_SRC],
        station=station,
        prefixes=prefixes,
        clocks=clocks,
        rejected=rejected,
    )
