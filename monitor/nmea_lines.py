"""Vectorised parsing of NMEA lines: structure, checksums and the time each line carries itself.

A chunk is parsed with numpy on its raw bytes, without a Python loop per line. The common line
shapes are recognised at fixed offsets from the ``!`` of the sentence; tag blocks are read in a
short window after their backslash, numbers as 64-bit words of eight digits (SWAR). Whole-chunk
byte searches run only for fields after the checksum (the ``*``, and an ``r`` station field that
is not the first of them).

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

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
Bool = npt.NDArray[np.bool_]

#: Time-source codes used in int columns; index into TIME_SOURCES.
TIME_SOURCES: Final = ("", "tag_block", "trailing_epoch", "uscg", "pghp", "zda", "rmc", "fallback")
SRC_TAG, SRC_TRAIL, SRC_USCG, SRC_PGHP, SRC_ZDA, SRC_RMC, SRC_FALLBACK = range(1, 8)

_PAD = 160  # zero bytes after the chunk so that fixed-width gathers never index out of range
_HEX = np.full(256, -1, np.int64)
for _i, _c in enumerate(b"0123456789ABCDEF"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"abcdef"):
    _HEX[_c] = 10 + _i
_POW10 = 10 ** np.arange(17, dtype=np.int64)


def _windows(buf: U8, start: I64, width: int = 16) -> U8:
    """Return ``buf[start:start+width]`` for each start (bytes before 0 or past the end as 0)."""
    if len(start) == 0:
        return np.zeros((0, width), np.uint8)
    if int(start.min()) < 0 or int(start.max()) + width > len(buf):
        buf = np.concatenate([np.zeros(width, np.uint8), buf, np.zeros(width, np.uint8)])
        start = start + width
    return np.lib.stride_tricks.sliding_window_view(buf, width)[start]


_ALL_BYTES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
#: Masks keeping the n (0-8) lowest / highest bytes of a 64-bit word.
_LOW_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], np.uint64)
_HIGH_MASKS = np.array([((1 << (8 * n)) - 1) << (64 - 8 * n) for n in range(9)], np.uint64)
_HIGH_NIBBLES = np.uint64(0xF0F0_F0F0_F0F0_F0F0)
_LOW_NIBBLES = np.uint64(0x0F0F_0F0F_0F0F_0F0F)
_ZEROS = np.uint64(0x3030_3030_3030_3030)  # "0" in every byte
_SIXES = np.uint64(0x0606_0606_0606_0606)


def words_at(buf: U8, at: I64) -> npt.NDArray[np.uint64]:
    """Return the 8 bytes at each ``at`` as a little-endian word (bytes before 0 as 0)."""
    if len(at) and (int(at.min()) < 0 or int(at.max()) + 8 > len(buf)):
        buf = np.concatenate([np.zeros(16, np.uint8), buf, np.zeros(16, np.uint8)])
        at = at + 16
    # A view of overlapping unaligned words, one per byte offset: one gather per row.
    overlapping = np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, offset=0, strides=(1,))
    return np.asarray(overlapping[at], np.uint64)


def _swar8(word: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Return the value of 8 decimal digits (0-9 per byte, first digit in the lowest byte)."""
    # Digits combined pairwise in place: no lane ever overflows into the next one.
    with np.errstate(over="ignore"):
        word = (word * np.uint64(10) + (word >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
        word = (word * np.uint64(100) + (word >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
        word = (word * np.uint64(10_000) + (word >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return np.asarray(word, np.uint64)


def keep_low_bytes(word: npt.NDArray[np.uint64], n_bytes: I64) -> npt.NDArray[np.uint64]:
    """Return ``word`` with only its ``n_bytes`` (8 or more: all, 0 or less: none) lowest bytes
    kept."""
    return np.asarray(word & _LOW_MASKS[np.clip(n_bytes, 0, 8)], np.uint64)


def _keep_high_bytes(word: npt.NDArray[np.uint64], n_bytes: I64) -> npt.NDArray[np.uint64]:
    """Return ``word`` with only its ``n_bytes`` (8 or more: all, 0 or less: none) highest bytes
    kept."""
    return np.asarray(word & _HIGH_MASKS[np.clip(n_bytes, 0, 8)], np.uint64)


def _nondigit_flags(digits: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Return high-nibble bits set in every byte of ``digits`` (bytes XOR "0") above 9."""
    # Low nibbles plus 6 carry into the high nibble from 10 up, never into the next byte.
    return np.asarray(
        (digits & _HIGH_NIBBLES) | (((digits & _LOW_NIBBLES) + _SIXES) & _HIGH_NIBBLES), np.uint64
    )


def _first_flagged_byte(flags: npt.NDArray[np.uint64]) -> I64:
    """Return the index (0-7) of the lowest byte with a flag, 8 if none."""
    lowest = flags & (~flags + np.uint64(1))  # a power of two: exact as a float
    exponent = np.frexp(lowest.astype(np.float64))[1].astype(np.int64)
    return np.where(flags == 0, 8, (exponent - 1) // 8)


def _last_flagged_byte(flags: npt.NDArray[np.uint64]) -> I64:
    """Return the index (0-7) of the highest byte with a flag, -1 if none."""
    # Flags sit in high nibbles only, so the float rounding never reaches the next power of two.
    exponent = np.frexp(flags.astype(np.float64))[1].astype(np.int64)
    return np.where(flags == 0, -1, (exponent - 1) // 8)


def parse_uint(buf: U8, start: I64) -> tuple[I64, I64]:
    """Return the value and digit count (0-16) of the decimal number starting at each ``start``."""
    # Eight characters per 64-bit word, read in place (SWAR): no per-byte matrix at all.
    head = words_at(buf, start) ^ _ZEROS
    tail = words_at(buf, start + 8) ^ _ZEROS
    n_head = _first_flagged_byte(_nondigit_flags(head))
    n = np.where(n_head < 8, n_head, 8 + _first_flagged_byte(_nondigit_flags(tail)))
    # Everything after the number zeroed, then // 10**(16 - n).
    value = _swar8(keep_low_bytes(head, n)).astype(np.int64) * 100_000_000
    value += _swar8(keep_low_bytes(tail, n - 8)).astype(np.int64)
    return value // _POW10[16 - n], n


def _parse_short_uint(buf: U8, start: I64) -> tuple[I64, I64]:
    """Return the value and digit count of the number starting at each ``start``, reading one
    word: counts stop at 8, so a longer number shows as 8 digits (its first eight)."""
    word = words_at(buf, start) ^ _ZEROS
    n = _first_flagged_byte(_nondigit_flags(word))
    value = _swar8(keep_low_bytes(word, n)).astype(np.int64)
    return value // _POW10[8 - n], n


def parse_uint_before(buf: U8, end: I64) -> tuple[I64, I64]:
    """Return the value and digit count (0-15) of the decimal number ending before each ``end``."""
    head = words_at(buf, end - 16) ^ _ZEROS
    tail = words_at(buf, end - 8) ^ _ZEROS
    n_tail = 7 - _last_flagged_byte(_nondigit_flags(tail))
    n_head = 7 - _last_flagged_byte(_nondigit_flags(head))
    n = np.minimum(np.where(n_tail < 8, n_tail, 8 + n_head), 15)
    # Right-aligned: the bytes before the number zeroed are leading zeros of a 16-digit number.
    value = _swar8(_keep_high_bytes(head, n - 8)).astype(np.int64) * 100_000_000
    value += _swar8(_keep_high_bytes(tail, n)).astype(np.int64)
    return value, n


def epoch_us(value: I64, ndigits: I64) -> I64:
    """Return epoch seconds (up to 11 digits) or milliseconds (12+ digits) as microseconds."""
    return np.where(ndigits >= 12, value * 1_000, value * 1_000_000)


@dataclass
class LineScan:
    """One chunk: line bounds and the fields of every well-formed AIS sentence in it."""

    buf: U8
    n_lines: int
    starts: I64
    ends: I64
    #: Where each line's content starts after a leading tag block.
    body: I64
    #: Every line whose body is an AIS sentence (``!ccVDM``/``!ccVDO``), well-formed or not.
    bang_lines: I64
    #: Well-formed sentences with a good checksum, in line order: line index and fields.
    line: I64
    star: I64
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
    station: npt.NDArray[np.uint64]
    #: Lines whose body starts with "$" (clock, $PGHP and other NMEA sentences).
    dollar_lines: I64
    #: Tag blocks alone on their line, and their c: time (NO_TIME if none).
    tag_alone: I64
    tag_alone_time: I64
    rejected: Counter[str]


#: Tag blocks are looked for in this many bytes after their opening backslash; longer ones (rare)
#: are parsed one by one.
_TAG_WINDOW = 64
_DIGITS = b"0123456789"


def _tag_blocks(
    buf: U8, starts: I64, ends: I64, first: U8, rejected: Counter[str]
) -> tuple[I64, I64, I64]:
    """Return each line's body start, tag-block end (-1 if none) and tag-block c: time.

    The time is the block's first ``c:`` field; a block without one (or with a bad number) has
    none.
    """
    body = starts.copy()
    tag_end = np.full(len(starts), -1, np.int64)
    tag_time = np.full(len(starts), NO_TIME, np.int64)
    tb = np.flatnonzero(first == 92)
    if len(tb) == 0:
        return body, tag_end, tag_time
    # Most blocks are short: a narrow window first, the wide one for the rest.
    in_window, k, has_c, c_index = _tag_window(buf, starts[tb] + 1, _TAG_WINDOW // 2)
    wider = np.flatnonzero(~in_window)
    if len(wider):
        found = _tag_window(buf, starts[tb[wider]] + 1, _TAG_WINDOW)
        in_window[wider], k[wider], has_c[wider], c_index[wider] = found
    second = starts[tb] + 1 + k
    colon = second - k + c_index + 1

    ok = in_window & (second < ends[tb])
    long_rows = np.flatnonzero(~in_window)
    long_times: list[tuple[int, int]] = []
    for r in long_rows.tolist():
        end = _long_tag_block(buf, int(starts[tb[r]]), int(ends[tb[r]]), long_times, int(tb[r]))
        if end >= 0:
            ok[r], second[r] = True, end
    rejected["unknown_format"] += int((~ok).sum())
    body[tb[~ok]] = ends[tb[~ok]]
    body[tb[ok]] = second[ok] + 1
    tag_end[tb[ok]] = second[ok]

    timed = np.flatnonzero(has_c & ok)
    value, nd = parse_uint(buf, colon[timed] + 1)
    good = (nd > 0) & (nd < 16)
    tag_time[tb[timed[good]]] = epoch_us(value[good], nd[good])
    for line, epoch in long_times:
        tag_time[line] = epoch
    return body, tag_end, tag_time


def _tag_window(buf: U8, after: I64, width: int) -> tuple[Bool, I64, Bool, I64]:
    """Return, for tag blocks whose text starts at each ``after``: whether the closing backslash
    is within ``width`` bytes, its offset, whether a ``c:`` field comes before it, and the
    offset of that field's "c"."""
    window = _windows(buf, after, width)
    closing = window == 92
    k = np.argmax(closing, axis=1)
    rows = np.arange(len(after))
    in_window = closing[rows, k]
    # "c:" as the first field or after a comma, its colon inside the block: the first one counts.
    window = window[:, : max(int(k.max(initial=0)) + 1, 3)]
    c_at = (window[:, :-1] == 99) & (window[:, 1:] == 58)
    c_at[:, 1:] &= window[:, :-2] == 44
    c_index = np.argmax(c_at, axis=1)
    has_c = in_window & c_at[rows, c_index] & (c_index + 1 < k)
    return in_window, k, has_c, c_index


def _long_tag_block(buf: U8, start: int, end: int, times: list[tuple[int, int]], line: int) -> int:
    """Return where a tag block longer than the window ends (-1 if not on its line).

    Its time, if any, is appended to ``times`` as (line, µs).
    """
    text = buf[start:end].tobytes()
    close = text.find(b"\\", 1)
    if close < 0:
        return -1
    for field in text[1:close].split(b","):
        if field.startswith(b"c:"):
            digits = len(field) - 2 - len(field[2:].lstrip(_DIGITS))
            if 0 < digits < 16:
                value = int(field[2 : 2 + digits])
                times.append((line, value * (1_000 if digits >= 12 else 1_000_000)))
            break
    return start + close


def _station_keys(buf: U8, at: I64) -> npt.NDArray[np.uint64]:
    """Return a non-zero key for the field starting at each ``at`` (up to 16 bytes, to a comma)."""
    field = np.ascontiguousarray(_windows(buf, at))
    stop = (field == 44) | (field < 33)
    first = np.argmax(stop, axis=1)
    length = np.where(stop[np.arange(len(first)), first], first, 16)
    words = field.view("<u8")
    head = keep_low_bytes(words[:, 0], length)
    tail = keep_low_bytes(words[:, 1], length - 8)
    with np.errstate(over="ignore"):
        keys = (head * np.uint64(0x9E3779B97F4A7C15)) ^ tail | np.uint64(1)
    return np.asarray(keys, np.uint64)


def _stations(buf: U8, size: int, after: I64, end: I64) -> npt.NDArray[np.uint64]:
    """Return the key of the first ``,r<id>`` field (US Coast Guard receiver station) between
    each ``after`` (the comma after a checksum) and ``end``, 0 if none."""
    rpos = np.full(len(after), -1, np.int64)
    # Usually the first field after the checksum: no search needed.
    direct = buf[after + 1] == 114
    rpos[direct] = after[direct] + 1
    rest = np.flatnonzero(~direct)
    if len(rest):
        found = np.flatnonzero(buf[:size] == 114)
        found = found[buf[found - 1] == 44]
        j = np.searchsorted(found, after[rest])
        jc = np.minimum(j, max(len(found) - 1, 0))
        inside = (j < len(found)) & (found[jc] < end[rest]) if len(found) else j < 0
        rpos[rest[inside]] = found[jc[inside]]
    keys = np.zeros(len(after), np.uint64)
    has = rpos >= 0
    keys[has] = _station_keys(buf, rpos[has])
    return keys


def scan_lines(data: bytes) -> LineScan:
    """Return the structure of a chunk of complete NMEA lines (see the module docstring)."""
    if not data.endswith(b"\n"):
        data += b"\n"
    size = len(data)
    buf = np.frombuffer(data + bytes(_PAD), np.uint8)
    nl = np.flatnonzero(buf[:size] == 10).astype(np.int64)
    n = len(nl)
    starts = np.empty(n, np.int64)
    starts[:1] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl.copy()
    ends[(ends > starts) & (buf[ends - 1] == 13)] -= 1
    first = buf[starts]
    rejected: Counter[str] = Counter()
    body, tag_end, tag_time = _tag_blocks(buf, starts, ends, first, rejected)

    bfirst = buf[body]
    has_body = body < ends
    dollar_lines = np.flatnonzero(has_body & (bfirst == 36))
    alone = np.flatnonzero((tag_end >= 0) & ~has_body)
    is_vd = (buf[body + 3] == 86) & (buf[body + 4] == 68) & ((buf[body + 5] | 2) == 79)
    bang_lines = np.flatnonzero(has_body & (bfirst == 33) & is_vd)
    # "!" lines other than VDM/VDO (e.g. !AIPWR status) and "#" comments are not AIS data.
    other = has_body & (bfirst != 33) & (bfirst != 36) & (bfirst != 35)
    rejected["unknown_format"] += int(other.sum())

    b, e = body[bang_lines], ends[bang_lines]
    total = buf[b + 7].astype(np.int64) - 48
    num = buf[b + 9].astype(np.int64) - 48
    ok = (buf[b + 6] == 44) & (buf[b + 8] == 44) & (buf[b + 10] == 44)
    ok &= (total >= 1) & (total <= 9) & (num >= 1) & (num <= total)
    seq_empty = buf[b + 11] == 44
    seq = np.where(seq_empty, -1, buf[b + 11].astype(np.int64) - 48)
    ok &= seq_empty | ((seq >= 0) & (seq <= 9) & (buf[b + 12] == 44))
    c3 = np.where(seq_empty, b + 11, b + 12)
    chan_empty = buf[c3 + 1] == 44
    ok &= chan_empty | (buf[c3 + 2] == 44)
    chan = np.where(chan_empty, 0, buf[c3 + 1]).astype(np.int64)
    c4 = np.where(chan_empty, c3 + 1, c3 + 2)

    star = e - 3
    trailing = np.zeros(len(b), bool)
    search = np.flatnonzero(ok & (buf[np.maximum(star, 0)] != 42))
    if len(search):
        stars = np.flatnonzero(buf[:size] == 42)
        j = np.searchsorted(stars, c4[search])
        found = stars[np.minimum(j, max(len(stars) - 1, 0))] if len(stars) else c4[search]
        found_ok = (j < len(stars)) & (found + 3 <= e[search])
        star[search] = np.where(found_ok, found, e[search] - 3)
        trailing[search] = found_ok & (found + 3 < e[search]) & (buf[found + 3] == 44)
        ok[search] &= found_ok & ((found + 3 == e[search]) | trailing[search])
    eight_fields = (buf[star - 4] == 44) & (buf[star - 2] == 44) & (star - 4 > c4)
    c5 = np.where(eight_fields, star - 4, star - 2)
    fill = buf[c5 + 1].astype(np.int64) - 48
    ok &= (buf[c5] == 44) & (c5 > c4) & (fill >= 0) & (fill <= 5)
    rejected["unknown_format"] += int((~ok).sum())

    sel = np.flatnonzero(ok)
    if len(sel):
        idx = np.empty(2 * len(sel), np.int64)
        idx[0::2] = b[sel] + 1
        idx[1::2] = star[sel]
        computed = np.bitwise_xor.reduceat(buf, idx)[0::2].astype(np.int64)
        given = _HEX[buf[star[sel] + 1]] * 16 + _HEX[buf[star[sel] + 2]]
        good = computed == given
        rejected["bad_checksum"] += int((~good).sum())
        sel = sel[good]
    line = bang_lines[sel]

    own_time = tag_time[line]
    own_src = np.where(own_time != NO_TIME, SRC_TAG, 0)
    station = np.zeros(len(line), np.uint64)
    tr_rows = np.flatnonzero(trailing[sel])
    if len(tr_rows):
        tl_rows = tr_rows[own_src[tr_rows] == 0]
        tl = sel[tl_rows]
        value, nd = parse_uint_before(buf, e[tl])
        valid = (nd > 0) & (buf[e[tl] - nd - 1] == 44) & (e[tl] - nd - 1 > star[tl])
        own_time[tl_rows[valid]] = epoch_us(value[valid], nd[valid])
        station[tr_rows] = _stations(buf, size, star[sel[tr_rows]] + 3, e[sel[tr_rows]])
        rows_valid = tl_rows[valid]
        own_src[rows_valid] = np.where(station[rows_valid] != 0, SRC_USCG, SRC_TRAIL)

    return LineScan(
        buf=buf,
        n_lines=n,
        starts=starts,
        ends=ends,
        body=body,
        bang_lines=bang_lines,
        line=line,
        star=star[sel],
        total=total[sel],
        num=num[sel],
        seq=seq[sel],
        chan=chan[sel],
        pstart=c4[sel] + 1,
        plen=c5[sel] - c4[sel] - 1,
        fill=fill[sel],
        own_time=own_time,
        own_src=own_src,
        station=station,
        dollar_lines=dollar_lines,
        tag_alone=alone,
        tag_alone_time=tag_time[alone],
        rejected=rejected,
    )


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
PGHP_OK, PGHP_BAD_CHECKSUM, PGHP_INVALID, PGHP_OTHER = range(4)


def civil_to_epoch_us(y: I64, mo: I64, d: I64, h: I64, mi: I64, s: I64, ms: I64) -> I64:
    """Return epoch microseconds of UTC calendar fields (proleptic Gregorian), vectorised."""
    y = y - (mo <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(mo > 2, mo - 3, mo + 9) + 2) // 5 + d - 1
    days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    return np.asarray((((days * 24 + h) * 60 + mi) * 60 + s) * 1_000_000 + ms * 1_000, np.int64)


def pghp_times(buf: U8, body: I64, end: I64) -> tuple[I64, I64]:
    """Return the time (µs) and a status code (PGHP_*) of each ``$PGHP`` line, vectorised.

    Only Gatehouse message type 1 carries a time (``$PGHP,1,yyyy,m,d,h,m,s,ms,...``).
    """
    if len(body) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    fields = []
    at = body + 6
    ok = np.ones(len(body), bool)
    for _ in range(8):
        # Fields have at most 4 digits: a longer one makes the line invalid whatever its value.
        value, n = _parse_short_uint(buf, at)
        ok &= (n > 0) & (n <= 4) & (buf[at + n] == 44)
        fields.append(value)
        at = at + n + 1
    kind, y, mo, d, h, mi, sec, ms = fields
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(mo, 0, 12)] + ((mo == 2) & leap)
    ok &= (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= month_days)
    ok &= (h < 24) & (mi < 60) & (sec < 61) & (ms < 1000)
    star = end - 3
    search = np.flatnonzero(buf[np.maximum(star, 0)] != 42)
    if len(search):
        stars = np.flatnonzero(buf == 42)
        j = np.minimum(np.searchsorted(stars, body[search]), max(len(stars) - 1, 0))
        star[search] = stars[j] if len(stars) else end[search]
    has_star = (star > body) & (star + 3 <= end) & (buf[np.maximum(star, 0)] == 42)
    idx = np.empty(2 * len(body), np.int64)
    idx[0::2], idx[1::2] = body + 1, np.where(has_star, star, body + 2)
    computed = np.bitwise_xor.reduceat(buf, idx)[0::2].astype(np.int64) if len(body) else idx[:0]
    given = _HEX[buf[star + 1]] * 16 + _HEX[buf[star + 2]]
    status = np.select(
        [has_star & (computed != given), kind != 1, ~ok],
        [PGHP_BAD_CHECKSUM, PGHP_OTHER, PGHP_INVALID],
        PGHP_OK,
    )
    return civil_to_epoch_us(y, mo, d, h, mi, sec, ms), status


def tail_checksums_ok(buf: U8, body: I64, end: I64) -> npt.NDArray[np.bool_]:
    """Return True for each sentence ``buf[body:end]`` ending in ``*hh`` that matches its bytes
    between the first character and that ``*`` (False otherwise: not necessarily bad)."""
    star = end - 3
    has_tail = (star > body + 1) & (buf[np.maximum(star, 0)] == 42)
    ok = np.zeros(len(body), bool)
    rows = np.flatnonzero(has_tail)
    if len(rows):
        idx = np.empty(2 * len(rows), np.int64)
        idx[0::2], idx[1::2] = body[rows] + 1, star[rows]
        computed = np.bitwise_xor.reduceat(buf, idx)[0::2].astype(np.int64)
        given = _HEX[buf[star[rows] + 1]] * 16 + _HEX[buf[star[rows] + 2]]
        ok[rows] = computed == given
    return ok


def checksum_ok(sentence: bytes) -> bool:
    """Return True when ``$...*hh`` has a matching checksum (or none at all)."""
    star = sentence.find(b"*")
    if star < 0:
        return True
    x = 0
    for ch in sentence[1:star]:
        x ^= ch
    return sentence[star + 1 : star + 3].upper() == f"{x:02X}".encode()


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
