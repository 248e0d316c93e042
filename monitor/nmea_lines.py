"""Parsing of NMEA lines: structure, checksums and the time each line carries itself.

A chunk is parsed by one compiled pass over its raw bytes (:mod:`monitor.jit`), line by line.

Accepted sentences: ``!ccVDM`` / ``!ccVDO`` from any two-character talker, single-digit fragment
fields and sequence id, a one-character (or empty) channel, then either the standard
``payload,fill*hh`` or the non-standard ``payload,fill,x*hh``. NMEA 4.0 tag-block checksums are
not checked, because real feeds write dummy ones.
"""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from monitor.fragments import NO_TIME
from monitor.jit import inline, kernel

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]

#: Time-source codes used in int columns; index into TIME_SOURCES.
TIME_SOURCES: Final = ("", "tag_block", "trailing_epoch", "uscg", "pghp", "zda", "rmc", "fallback")
SRC_TAG, SRC_TRAIL, SRC_USCG, SRC_PGHP, SRC_ZDA, SRC_RMC, SRC_FALLBACK = range(1, 8)

_PAD = 160  # zero bytes after the chunk, so that reads a little past a line's end stay inside


@dataclass
class LineScan:
    """One chunk: line bounds and the fields of every well-formed AIS sentence in it."""

    buf: U8
    n_lines: int
    ends: I64
    #: Where each line's content starts after a leading tag block.
    body: I64
    #: Every line whose body is an AIS sentence (``!ccVDM``/``!ccVDO``), well-formed or not.
    bang_lines: I64
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
    #: Lines whose body starts with "$" (clock, $PGHP and other NMEA sentences).
    dollar_lines: I64
    #: Tag blocks alone on their line, and their c: time (NO_TIME if none).
    tag_alone: I64
    tag_alone_time: I64
    rejected: Counter[str]


_NO_TIME: Final = NO_TIME
#: Counts returned by the scan kernel, by index.
_UNKNOWN, _BAD_CHECKSUM = 0, 1
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
def _hex(c: int) -> int:
    """Return the value of a hexadecimal digit byte, -1 if it is not one."""
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


@inline
def uint_after(buf: U8, at: int, limit: int) -> tuple[int, int]:
    """Return the value and digit count (up to ``limit``) of the number starting at ``at``."""
    value, n = 0, 0
    while n < limit and 48 <= buf[at + n] <= 57:
        value = value * 10 + (int(buf[at + n]) - 48)
        n += 1
    return value, n


@inline
def uint_before(buf: U8, end: int, limit: int) -> tuple[int, int]:
    """Return the value and digit count (up to ``limit``) of the number ending before ``end``."""
    n = 0
    while n < limit and end - n - 1 >= 0 and 48 <= buf[end - n - 1] <= 57:
        n += 1
    value = 0
    for k in range(end - n, end):
        value = value * 10 + (int(buf[k]) - 48)
    return value, n


@inline
def epoch_us(value: int, ndigits: int) -> int:
    """Return epoch seconds (up to 11 digits) or milliseconds (12+ digits) as microseconds."""
    return value * 1_000 if ndigits >= 12 else value * 1_000_000


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
    close = -1
    for k in range(start + 1, end):
        if buf[k] == 92:
            close = k
            break
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
        star = -1
        for k in range(c4 + 1, e - 2):
            if buf[k] == 42:
                star = k
                break
        if star < 0 or buf[star + 3] != 44:
            return _UNKNOWN
        trailing = 1
    c5 = star - 4 if buf[star - 4] == 44 and buf[star - 2] == 44 and star - 4 > c4 else star - 2
    fill = int(buf[c5 + 1]) - 48
    if buf[c5] != 44 or c5 <= c4 or not (0 <= fill <= 5):
        return _UNKNOWN
    x = _xor(buf, words, b + 1, star)
    high, low = _hex(buf[star + 1]), _hex(buf[star + 2])
    if high < 0 or low < 0 or x != high * 16 + low:
        return _BAD_CHECKSUM
    row[_TOTAL], row[_NUM], row[_SEQ], row[_CHAN] = total, num, seq, chan
    row[_PSTART], row[_PLEN], row[_FILL] = c4 + 1, c5 - c4 - 1, fill
    row[_STAR], row[_TRAILING] = star, trailing
    return -1


@kernel
def _scan(buf: U8, words: U64, aligned: U64, size: int) -> tuple[I64, I64, I64, U64, I64, I64, I64]:
    """Return the chunk's structure: per line (end, body), the AIS lines, the good sentences
    (rows _LINE.._SRC), their station keys, the "$" lines, the lone tag blocks (line, time) and
    the counts (_UNKNOWN, _BAD_CHECKSUM)."""
    newlines = _newlines(buf, aligned, size)
    n = len(newlines)
    lines = np.empty((2, n), np.int64)
    bang = np.empty(n, np.int64)
    table = np.empty((12, n), np.int64)
    station = np.zeros(n, np.uint64)
    dollar = np.empty(n, np.int64)
    alone = np.empty((2, n), np.int64)
    counts = np.zeros(2, np.int64)
    n_bang = n_good = n_dollar = n_alone = 0
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
            elif body == e:
                alone[0, n_alone], alone[1, n_alone] = li, tag_time
                n_alone += 1
        lines[0, li], lines[1, li] = e, body
        if body == e:
            continue
        first = buf[body]
        if first == 36:
            dollar[n_dollar] = li
            n_dollar += 1
            continue
        if first != 33:
            counts[_UNKNOWN] += first != 35  # "#" comments are not data
            continue
        if e - body < 6 or buf[body + 3] != 86 or buf[body + 4] != 68 or (buf[body + 5] | 2) != 79:
            continue  # "!" lines other than VDM/VDO (e.g. !AIPWR status) are not AIS data
        bang[n_bang] = li
        n_bang += 1
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
        lines,
        bang[:n_bang],
        table[:, :n_good],
        station[:n_good],
        dollar[:n_dollar],
        alone[:, :n_alone],
        counts,
    )


def scan_lines(data: bytes) -> LineScan:
    """Return the structure of a chunk of complete NMEA lines (see the module docstring)."""
    if not data.endswith(b"\n"):
        data += b"\n"
    # Padded to whole words: the newline search reads the chunk as 64-bit words.
    buf = np.frombuffer(data + bytes(_PAD + -len(data) % 8), np.uint8)
    words, aligned = _words(buf), buf.view(np.uint64)
    lines, bang, table, station, dollar, alone, counts = _scan(buf, words, aligned, len(data))
    rejected: Counter[str] = Counter()
    rejected["unknown_format"] += int(counts[_UNKNOWN])
    rejected["bad_checksum"] += int(counts[_BAD_CHECKSUM])
    return LineScan(
        buf=buf,
        n_lines=lines.shape[1],
        ends=lines[0],
        body=lines[1],
        bang_lines=bang,
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
        dollar_lines=dollar,
        tag_alone=alone[0],
        tag_alone_time=alone[1],
        rejected=rejected,
    )


PGHP_OK, PGHP_BAD_CHECKSUM, PGHP_INVALID, PGHP_OTHER = range(4)


@inline
def _days_from_civil(y: int, mo: int, d: int) -> int:
    """Return the days since 1970-01-01 of a proleptic Gregorian date."""
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo - 3 if mo > 2 else mo + 9) + 2) // 5 + d - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


@inline
def _month_days(y: int, mo: int) -> int:
    if mo == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if mo in (4, 6, 9, 11) else 31


@inline
def _star_checksum(buf: U8, body: int, end: int) -> int:
    """Return 1 if the sentence ``buf[body:end]`` has a ``*hh`` checksum (after its first "*")
    that matches, 0 if it does not, -1 if the sentence has no "*"."""
    star = -1
    for k in range(body + 1, end):
        if buf[k] == 42:
            star = k
            break
    if star < 0:
        return -1
    if star + 3 > end:
        return 0
    x = 0
    for k in range(body + 1, star):
        x ^= buf[k]
    high, low = _hex(buf[star + 1]), _hex(buf[star + 2])
    return 1 if high >= 0 and low >= 0 and x == high * 16 + low else 0


@kernel
def _pghp(buf: U8, body: I64, end: I64) -> tuple[I64, I64]:
    n = len(body)
    time_us = np.zeros(n, np.int64)
    status = np.empty(n, np.int64)
    fields = np.empty(8, np.int64)
    for i in range(n):
        at = body[i] + 6
        digits_ok = True
        for j in range(8):
            # Fields have at most 4 digits: a longer one makes the line invalid whatever its value.
            fields[j], nd = uint_after(buf, at, 8)
            digits_ok = digits_ok and 0 < nd <= 4 and buf[at + nd] == 44
            at += nd + 1
        kind, y, mo, d = int(fields[0]), int(fields[1]), int(fields[2]), int(fields[3])
        h, mi, sec, ms = int(fields[4]), int(fields[5]), int(fields[6]), int(fields[7])
        if _star_checksum(buf, body[i], end[i]) == 0:
            status[i] = PGHP_BAD_CHECKSUM
        elif kind != 1:
            status[i] = PGHP_OTHER
        elif not (
            digits_ok
            and 1 <= mo <= 12
            and 1 <= d <= _month_days(y, mo)
            and h < 24
            and mi < 60
            and sec < 61
            and ms < 1000
        ):
            status[i] = PGHP_INVALID
        else:
            status[i] = PGHP_OK
            days = _days_from_civil(y, mo, d)
            time_us[i] = (((days * 24 + h) * 60 + mi) * 60 + sec) * 1_000_000 + ms * 1_000
    return time_us, status


def pghp_times(buf: U8, body: I64, end: I64) -> tuple[I64, I64]:
    """Return the time (µs, 0 unless PGHP_OK) and a status code (PGHP_*) of each ``$PGHP`` line.

    Only Gatehouse message type 1 carries a time (``$PGHP,1,yyyy,m,d,h,m,s,ms,...``).
    """
    return _pghp(buf, np.asarray(body, np.int64), np.asarray(end, np.int64))


@kernel
def _checksums(buf: U8, body: I64, end: I64) -> npt.NDArray[np.bool_]:
    ok = np.empty(len(body), np.bool_)
    for i in range(len(body)):
        ok[i] = _star_checksum(buf, body[i], end[i]) != 0
    return ok


def checksums_ok(buf: U8, body: I64, end: I64) -> npt.NDArray[np.bool_]:
    """Return True for each sentence ``buf[body:end]`` whose ``*hh`` checksum matches the bytes
    between its first character and the ``*``, or that has none."""
    return _checksums(buf, np.asarray(body, np.int64), np.asarray(end, np.int64))


def _utc_us(y: int, mo: int, d: int, h: int, mi: int, s: float) -> int:
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]):
        raise ValueError("impossible date")
    if not (0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 61):
        raise ValueError("impossible time of day")
    return calendar.timegm((y, mo, d, h, mi, 0, 0, 0, 0)) * 1_000_000 + round(s * 1_000_000)


def _hms(text: bytes) -> tuple[int, int, float]:
    return int(text[0:2]), int(text[2:4]), float(text[4:] or b"0")


def _year(text: bytes) -> int:
    y = int(text)
    if len(text) <= 2:
        y += 1900 if y >= 80 else 2000
    return y


def parse_clock_line(sentence: bytes) -> tuple[int, int] | None:
    """Return (epoch µs, time-source code) of a $PGHP, $xxZDA or valid $xxRMC sentence, else None.

    Raises ValueError or IndexError when the sentence is one of those but malformed.
    """
    fields = sentence.split(b"*", 1)[0].split(b",")
    if sentence.startswith(b"$PGHP,"):
        if fields[1] != b"1":
            return None
        y, mo, d, h, mi, s, ms = (int(f) for f in fields[2:9])
        return _utc_us(y, mo, d, h, mi, s) + ms * 1000, SRC_PGHP
    kind = sentence[3:6]
    if kind == b"ZDA":
        h, mi, sec = _hms(fields[1])
        return _utc_us(_year(fields[4]), int(fields[3]), int(fields[2]), h, mi, sec), SRC_ZDA
    if kind == b"RMC":
        if fields[2] != b"A":
            return None
        h, mi, sec = _hms(fields[1])
        date = fields[9]
        return _utc_us(_year(date[4:6]), int(date[2:4]), int(date[0:2]), h, mi, sec), SRC_RMC
    return None
