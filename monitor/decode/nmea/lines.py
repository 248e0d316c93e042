"""Parsing of NMEA lines: structure, checksums, the time each line carries itself and the lines
that time others.

A chunk is parsed by one compiled pass over its raw bytes (:mod:`monitor.core.jit`), line by line.
Searches and checksums read eight bytes at a time, as words.

The helpers that the pass inlines receive the chunk's arrays as new references. Where such a
helper keeps an array alive on some paths and not on others (a loop that exits in several
places, a test of "and"/"or" terms that read the array), numba keeps the increments and
decrements of the array's reference count: two atomic operations per array and call, which cost
more than parsing the line. Hence loops with one exit and tests combined with "&" and "|" below.

Accepted sentences: ``!ccVDM`` / ``!ccVDO`` from any two-character talker, single-digit fragment
fields and sequence id, a one-character (or empty) channel, then either the standard
``payload,fill*hh`` or the non-standard ``payload,fill,x*hh``. NMEA 4.0 tag-block checksums are
computed and reported (``tag_ok``), not acted on: some real feeds write dummy ones, so whether
they are checked is up to the decoder, input by input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

import numpy as np

from monitor.core.jit import I64, U8, U64, inline, kernel
from monitor.decode.nmea.clock import (
    PGHP_BAD_CHECKSUM,
    PGHP_INVALID,
    PGHP_OK,
    SRC_PGHP,
    SRC_TAG,
    SRC_TRAIL,
    SRC_USCG,
    epoch_us,
    hex_digit,
    pghp_line,
    star_checksum,
    uint_before,
)
from monitor.decode.nmea.fragments import NO_TIME

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
    #: Checksum of the sentence's tag block: TAG_GOOD, TAG_BAD, or TAG_NONE (no tag block or
    #: no ``*hh`` in it).
    tag_ok: I64
    #: Lines that time the next AIS line ($PGHP, tag block alone on its line): rows line, time,
    #: source, tag-block checksum (TAG_NONE for $PGHP, whose own checksum is checked).
    prefixes: I64
    #: ``$xxZDA``/``$xxRMC`` lines: rows line, body start, end, checksum good (1) or not (0).
    clocks: I64
    rejected: Counter[str]


#: Counts returned by the scan kernel, by index.
_UNKNOWN, _BAD_CHECKSUM, _INVALID_FIELD = 0, 1, 2
#: Rows of the sentence table the scan returns.
_LINE, _TOTAL, _NUM, _SEQ, _CHAN, _PSTART, _PLEN, _FILL, _TIME, _SRC, _TAG = range(11)
#: Tag-block checksum states.
TAG_NONE, TAG_BAD, TAG_GOOD = -1, 0, 1
_STATION_MUL = np.uint64(0x9E3779B97F4A7C15)
#: Words of eight equal bytes, for tests on eight bytes at a time.
_ONES = np.uint64(0x0101_0101_0101_0101)
_LOW_BITS = np.uint64(0x7F7F_7F7F_7F7F_7F7F)
_HIGH_BITS = np.uint64(0x8080_8080_8080_8080)
_NEWLINES = np.uint64(0x0A0A_0A0A_0A0A_0A0A)
_STARS = np.uint64(0x2A2A_2A2A_2A2A_2A2A)
_BACKSLASHES = np.uint64(0x5C5C_5C5C_5C5C_5C5C)
_COMMAS = np.uint64(0x2C2C_2C2C_2C2C_2C2C)
_COLONS = np.uint64(0x3A3A_3A3A_3A3A_3A3A)
_CS = np.uint64(0x6363_6363_6363_6363)
_ZEROS = np.uint64(0x3030_3030_3030_3030)
_ABOVE_NINE = np.uint64(0x4646_4646_4646_4646)  # 0x80 - 0x3A, added to the low 7 bits
_POWERS_OF_TEN = np.array([10**k for k in range(9)], np.int64)
#: Bit patterns of the byte index (0-7) of a word's lowest byte with its high bit set.
_BYTE_INDEX = np.uint64(0x0001_0203_0405_0607)
#: Gathers the lowest bit of each byte of a word into its top byte (byte i to bit 56 + i).
_GATHER = np.uint64(0x0102_0408_1020_4080)
#: A de Bruijn sequence: times a power of two, its top 6 bits differ for each of the 64 powers.
_DE_BRUIJN = np.uint64(0x03F7_9D71_B4CB_0A89)
_BIT_INDEX = np.zeros(64, np.int64)
_BIT_INDEX[[(int(_DE_BRUIJN) << k) % 2**64 >> 58 for k in range(64)]] = np.arange(64)


def _words(buf: U8) -> U64:
    """Return the 8 bytes at every offset of ``buf`` as little-endian words (a view)."""
    return np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, offset=0, strides=(1,))


@inline
def _word(words: U64, at: int) -> np.uint64:
    """Return the 8 bytes from ``at`` (not negative) as a little-endian word."""
    # As unsigned, the index skips numba's wraparound of negative indexes.
    return np.uint64(words[np.uint64(at)])


@inline
def _matches(word: np.uint64, pattern: np.uint64) -> np.uint64:
    """Return a word with the high bit set in each byte of ``word`` equal to that of ``pattern``,
    and every other bit clear."""
    t = word ^ pattern
    # A byte of t is zero when neither its high bit nor the sum of its low bits and 0x7F has the
    # high bit set; that sum never carries into the next byte, so the test is exact.
    return ~(((t & _LOW_BITS) + _LOW_BITS) | t | _LOW_BITS)


@inline
def _lowest_byte(flags: np.uint64) -> int:
    """Return the index (0-7) of the lowest byte with its high bit set in ``flags`` (non-zero,
    high bits only)."""
    lowest = flags & (~flags + np.uint64(1))
    return int(np.int64(((lowest >> np.uint64(7)) * _BYTE_INDEX) >> np.uint64(56)))


@inline
def _lowest_bit(bits: np.uint64) -> int:
    """Return the index (0-63) of the lowest set bit of ``bits`` (non-zero)."""
    return int(_BIT_INDEX[((bits & (~bits + np.uint64(1))) * _DE_BRUIJN) >> np.uint64(58)])


@inline
def _newlines(aligned: U64, size: int) -> I64:
    """Return the index of every newline in the chunk (``size`` bytes, then zero bytes), read as
    ``aligned`` words."""
    n_words = (size + 7) // 8
    # First, in one pass that the compiler vectorises, the newline count (one bit per newline,
    # added up across the word by the multiplication) and a map of one bit per byte, set for
    # newlines (gathered from each word into a byte).
    bits = np.zeros((n_words + 7) // 8 * 8, np.uint8)
    n = 0
    for w in range(n_words):
        flags = _matches(aligned[w], _NEWLINES) >> np.uint64(7)
        n += int((flags * _ONES) >> np.uint64(56))
        bits[w] = (flags * _GATHER) >> np.uint64(56)
    # Then the map, 64 bytes of the chunk at a time: few steps, and one per newline.
    found = np.empty(n, np.int64)
    blocks = bits.view(np.uint64)
    k = 0
    for i in range(len(blocks)):
        block = blocks[i]
        while block:
            found[k] = 64 * i + _lowest_bit(block)
            k += 1
            block &= block - np.uint64(1)
    return found


@inline
def _find(words: U64, pattern: np.uint64, start: int, end: int) -> int:
    """Return the index of the first byte in ``[start, end)`` equal to those of ``pattern``, -1
    if none; reads up to 7 bytes past ``end``, which the padding after the chunk covers."""
    k = start
    flags = _matches(_word(words, k), pattern)
    while flags == 0 and k + 8 < end:
        k += 8
        flags = _matches(_word(words, k), pattern)
    at = k + _lowest_byte(flags)
    return at if flags != 0 and at < end else -1


@inline
def _xor(words: U64, start: int, stop: int) -> int:
    """Return the XOR of the bytes in ``[start, stop)`` (an NMEA checksum); reads up to 7 bytes
    past ``stop``."""
    x = np.uint64(0)
    k = start
    while k + 8 <= stop:
        x ^= _word(words, k)
        k += 8
    # The last 0-7 bytes: a whole word with the bytes past ``stop`` masked out.
    x ^= _word(words, k) & ((np.uint64(1) << np.uint64(8 * (stop - k))) - np.uint64(1))
    x ^= x >> np.uint64(32)
    x ^= x >> np.uint64(16)
    x ^= x >> np.uint64(8)
    return int(np.int64(x & np.uint64(0xFF)))


@inline
def station_key(buf: U8, at: int) -> np.uint64:
    """Return a non-zero key for the field starting at ``at`` (up to 16 bytes, to a comma)."""
    head, tail = np.uint64(0), np.uint64(0)
    for k in range(16):
        c = buf[at + k]
        if c == 44 or c < 33:
            return ((head * _STATION_MUL) ^ tail) | np.uint64(1)
        if k < 8:
            head |= np.uint64(c) << np.uint64(8 * k)
        else:
            tail |= np.uint64(c) << np.uint64(8 * (k - 8))
    return ((head * _STATION_MUL) ^ tail) | np.uint64(1)


@inline
def _c_fields(word: np.uint64) -> np.uint64:
    """Return the flags (high bits) of the bytes 1-6 of ``word`` that open a ``c:`` field: a
    "c", then a colon, after a comma or a backslash."""
    opens = _matches(word, _COMMAS) | _matches(word, _BACKSLASHES)
    return (opens << np.uint64(8)) & _matches(word, _CS) & (_matches(word, _COLONS) >> np.uint64(8))


@inline
def _c_field(words: U64, start: int, close: int) -> int:
    """Return where the value of the first ``c:`` field of the tag block from ``start`` (its
    opening backslash) to ``close`` (its closing one) starts, -1 if it has none."""
    # A field opens after the opening backslash or after a comma (the block holds no other
    # backslash). The word at q covers the fields opening at q + 1 .. q + 6.
    q = start
    flags = _c_fields(_word(words, q))
    while (flags == 0) & (q + 8 < close):
        q += 6
        flags = _c_fields(_word(words, q))
    at = q + _lowest_byte(flags)
    return at + 2 if flags != 0 and at < close - 1 else -1


@inline
def _digit_count(word: np.uint64) -> int:
    """Return how many bytes of ``word``, from its lowest, are ASCII digits in a row (0-8)."""
    below = ~(((word | _HIGH_BITS) - _ZEROS) | word) & _HIGH_BITS  # under "0", exactly
    above = (((word & _LOW_BITS) + _ABOVE_NINE) | word) & _HIGH_BITS  # over "9", exactly
    other = below | above
    return _lowest_byte(other) if other else 8


@inline
def _digits_value(word: np.uint64, n: int) -> int:
    """Return the number written by the lowest ``n`` (0-8) bytes of ``word``, ASCII digits."""
    # The digits shifted to the top bytes, zeros below (two shifts, as one of 64 bits is not
    # defined), then pairs, fours and eights of digits combined in place: the first digit is
    # the lowest byte, and no partial sum overflows its lane.
    shift = np.uint64(4 * (8 - n))
    v = ((word - _ZEROS) << shift) << shift
    v = (v * np.uint64(10) + (v >> np.uint64(8))) & np.uint64(0x00FF_00FF_00FF_00FF)
    v = (v * np.uint64(100) + (v >> np.uint64(16))) & np.uint64(0x0000_FFFF_0000_FFFF)
    v = (v * np.uint64(10_000) + (v >> np.uint64(32))) & np.uint64(0xFFFF_FFFF)
    return int(v)


@inline
def _number(words: U64, at: int) -> tuple[int, int]:
    """Return the value and digit count (up to 16) of the number starting at ``at``."""
    high, low = _word(words, at), _word(words, at + 8)
    n_high = _digit_count(high)
    n_low = _digit_count(low) if n_high == 8 else 0
    value = _digits_value(high, n_high) * _POWERS_OF_TEN[n_low] + _digits_value(low, n_low)
    return value, n_high + n_low


@inline
def _fields(buf: U8, b: int, e: int) -> tuple[int, int, int, int, int]:
    """Return the fragment count (0 if the fields are malformed), fragment number, sequence id
    (-1 if none), channel (0 if none) and the index of the comma before the payload of the
    ``!ccVDM`` sentence ``buf[b:e]``."""
    # One test of bitwise operations rather than "and"/"or" branches, between which numba would
    # count references to buf on every sentence. Bytes read past a short line are padding or
    # the next line, and do not matter then.
    total, num = int(buf[b + 7]) - 48, int(buf[b + 9]) - 48
    bad = (e - b < 15) | (buf[b + 6] != 44) | (buf[b + 8] != 44) | (buf[b + 10] != 44)
    bad |= (total < 1) | (total > 9) | (num < 1) | (num > total)
    # A one-digit sequence id and a one-character channel, each optional.
    seq = int(buf[b + 11]) - 48
    has_seq = seq != 44 - 48
    bad |= has_seq & ((seq < 0) | (seq > 9) | (buf[b + 12] != 44))
    c4 = b + 12 + has_seq
    chan = int(buf[c4])
    has_chan = chan != 44
    c4 += has_chan
    bad |= buf[c4] != 44
    if bad:
        return 0, 0, 0, 0, 0
    return total, num, seq if has_seq else -1, chan if has_chan else 0, c4


@inline
def _fill(buf: U8, star: int, c4: int) -> tuple[int, int]:
    """Return the index of the comma before the fill-bit count of a sentence whose checksum
    starts at ``star`` and whose payload follows ``c4``, and that count (-1 if malformed)."""
    # A non-standard field may come between the count and the checksum.
    extra = (buf[star - 4] == 44) & (buf[star - 2] == 44) & (star - 4 > c4)
    c5 = star - 4 if extra else star - 2
    fill = int(buf[c5 + 1]) - 48
    bad = (buf[c5] != 44) | (c5 <= c4) | (fill < 0) | (fill > 5)
    return c5, -1 if bad else fill


@inline
def _checksum_ok(buf: U8, words: U64, b: int, star: int) -> bool:
    """Return whether the ``*hh`` at ``star`` is the checksum of the sentence starting at ``b``."""
    x = _xor(words, b + 1, star)
    high, low = hex_digit(buf[star + 1]), hex_digit(buf[star + 2])
    return (high >= 0) & (low >= 0) & (x == high * 16 + low)


@inline
def _tag_checksum(buf: U8, words: U64, start: int, close: int) -> int:
    """Return the state of the checksum of the tag block from ``start`` (its opening backslash)
    to ``close`` (its closing one): TAG_GOOD, TAG_BAD, or TAG_NONE when it ends without
    ``*hh``."""
    star = close - 3
    if (star <= start) | (buf[max(star, 0)] != 42):
        return TAG_NONE
    x = _xor(words, start + 1, star)
    high, low = hex_digit(buf[star + 1]), hex_digit(buf[star + 2])
    return TAG_GOOD if (high >= 0) & (low >= 0) & (x == high * 16 + low) else TAG_BAD


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
    newlines = _newlines(aligned, size)
    n = len(newlines)
    ais = np.empty(n, np.int64)
    table = np.empty((11, n), np.int64)
    station = np.zeros(n, np.uint64)
    prefixes = np.empty((4, n), np.int64)
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
        body, tag_time, tag_ok = s, _NO_TIME, TAG_NONE
        if e > s and buf[s] == 92:
            close = _find(words, _BACKSLASHES, s + 1, e)
            if close < 0:
                counts[_UNKNOWN] += 1
                continue
            c_at = _c_field(words, s, close)
            if c_at >= 0:
                value, nd = _number(words, c_at)
                if 0 < nd < 16:
                    tag_time = epoch_us(value, nd)
            tag_ok = _tag_checksum(buf, words, s, close)
            body = close + 1
            if body == e:
                if tag_time != _NO_TIME:
                    prefixes[0, n_prefix], prefixes[1, n_prefix] = li, tag_time
                    prefixes[2, n_prefix], prefixes[3, n_prefix] = SRC_TAG, tag_ok
                    n_prefix += 1
                continue
        if body == e:
            continue
        first = buf[body]
        if first == 36:
            kind = _dollar_line(buf, body, e)
            if kind == 1:
                time, status = pghp_line(buf, body, e)
                if status == PGHP_OK:
                    prefixes[0, n_prefix], prefixes[1, n_prefix] = li, time
                    prefixes[2, n_prefix], prefixes[3, n_prefix] = SRC_PGHP, TAG_NONE
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
        total, num, seq, chan, c4 = _fields(buf, body, e)
        if total == 0:
            counts[_UNKNOWN] += 1
            continue
        # The checksum ends the line, or comes before fields (US Coast Guard style).
        star = e - 3
        trailing = buf[star] != 42
        if trailing:
            star = _find(words, _STARS, c4 + 1, e - 2)
            if star < 0 or buf[star + 3] != 44:
                counts[_UNKNOWN] += 1
                continue
        c5, fill = _fill(buf, star, c4)
        if fill < 0:
            counts[_UNKNOWN] += 1
            continue
        if not _checksum_ok(buf, words, body, star):
            counts[_BAD_CHECKSUM] += 1
            continue
        j = n_good
        table[_LINE, j], table[_TOTAL, j], table[_NUM, j], table[_SEQ, j] = li, total, num, seq
        table[_CHAN, j], table[_PSTART, j], table[_PLEN, j] = chan, c4 + 1, c5 - c4 - 1
        table[_FILL, j], table[_TAG, j] = fill, tag_ok
        time, src = tag_time, SRC_TAG
        if trailing:
            # The receiver station: the first ",r" field after the checksum, usually right there.
            r = star + 4
            while r < e and not (buf[r] == 114 and buf[r - 1] == 44):
                r += 1
            if r < e:
                station[j] = station_key(buf, r)
            if tag_time == _NO_TIME:
                value, nd = uint_before(buf, e, 16)
                if 0 < nd < 16 and buf[e - nd - 1] == 44 and e - nd - 1 > star:
                    time = epoch_us(value, nd)
                    src = SRC_USCG if station[j] != 0 else SRC_TRAIL
        table[_TIME, j], table[_SRC, j] = time, src if time != _NO_TIME else 0
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
        tag_ok=table[_TAG],
        prefixes=prefixes,
        clocks=clocks,
        rejected=rejected,
    )
