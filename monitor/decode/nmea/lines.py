"""Parsing of NMEA lines: structure, checksums, the time each line carries itself and the lines
that time others.

A chunk is parsed by one compiled pass over its raw bytes (:mod:`monitor.core.jit`), line by line.
Searches, checksums and numbers read eight bytes at a time (:mod:`monitor.decode.bytes`).

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
from dataclasses import dataclass, replace
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

from monitor.core.jit import I64, U8, U64, inline, kernel
from monitor.decode.bytes import (
    BACKSLASH,
    CARRIAGE_RETURN,
    COLON,
    COMMA,
    DOLLAR,
    EXCLAMATION,
    HASH,
    HASH_K1,
    NEWLINE,
    ONES,
    SPACE,
    STAR,
    ZERO,
    checksum_ok,
    find_byte,
    load_u64,
    low_bytes,
    lowest_bit,
    lowest_byte,
    matches,
    repeated,
    text_word,
    uint_after,
    uint_before,
)
from monitor.decode.codes import Reject, TimeSource
from monitor.decode.nmea.clock import epoch_us, pghp_line, star_checksum
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
    #: Where the name of the receiver station is in ``buf`` (the tag block's ``s:`` field, else
    #: the US Coast Guard ``,r<id>`` field after the checksum) and how long it is (0: none).
    station_at: I64
    station_len: I64
    #: A hash of that name (0: none): equal names, equal keys.
    station_name_key: I64
    #: Checksum of the sentence's tag block: TAG_GOOD, TAG_BAD, or TAG_NONE (no tag block or
    #: no ``*hh`` in it).
    tag_ok: I64
    #: Lines that time the next AIS line ($PGHP, tag block alone on its line): rows line, time,
    #: source, tag-block checksum (TAG_NONE for $PGHP, whose own checksum is checked).
    prefixes: I64
    #: ``$xxZDA``/``$xxRMC`` lines: rows line, body start, end, checksum good (1) or not (0).
    clocks: I64
    rejected: Counter[str]

    def subset(self, sentences: npt.NDArray[np.bool_], prefixes: npt.NDArray[np.bool_]) -> LineScan:
        """Return the scan with only the good sentences and prefix lines marked True; the
        others stay AIS lines (in ``ais_lines``) that nothing times."""
        return replace(
            self,
            **{name: getattr(self, name)[sentences] for name in _SENTENCE_FIELDS},
            prefixes=self.prefixes[:, prefixes],
        )


#: The fields of a LineScan with one value per good sentence.
_SENTENCE_FIELDS: Final = (
    "line",
    "total",
    "num",
    "seq",
    "chan",
    "pstart",
    "plen",
    "fill",
    "own_time",
    "own_src",
    "station",
    "tag_ok",
    "station_at",
    "station_len",
    "station_name_key",
)


class _Scanned(NamedTuple):
    """What the scan kernel finds in a chunk (see :class:`LineScan`)."""

    n_lines: int
    ais_lines: I64
    #: Rows _LINE.._TAG.
    sentences: I64
    station: U64
    prefixes: I64
    clocks: I64
    #: Lines rejected, by Reject code.
    rejected: I64


_N_REJECT = len(Reject)
#: Rows of the sentence table the scan returns.
_LINE, _TOTAL, _NUM, _SEQ, _CHAN, _PSTART, _PLEN, _FILL, _TIME, _SRC, _TAG = range(11)
_STAT, _STLEN, _STKEY = 11, 12, 13
#: States of a tag-block checksum.
TAG_NONE, TAG_BAD, TAG_GOOD = -1, 0, 1
#: Kinds of "$" lines.
_OTHER_LINE, _PGHP_LINE, _CLOCK_LINE = range(3)
_PGHP = text_word(b"PGHP,")
_ZDA, _RMC = text_word(b"ZDA"), text_word(b"RMC")
_VDM, _VDO = text_word(b"VDM"), text_word(b"VDO")
_STATION_FIELD = ord("r")
_SOURCE_FIELD = ord("s")
_STATION_MUL = np.uint64(HASH_K1)
_NEWLINES = repeated(NEWLINE)
_BACKSLASHES = repeated(BACKSLASH)
_COMMAS = repeated(COMMA)
_CS = repeated(ord("c"))
_COLONS = repeated(COLON)
#: Gathers the lowest bit of each byte of a word into its top byte (byte i to bit 56 + i).
_GATHER = np.uint64(0x0102_0408_1020_4080)
_LOW3, _LOW5 = low_bytes(3), low_bytes(5)


@inline
def _newlines(buf: U8, size: int) -> I64:
    """Return the index of every newline in the chunk (``size`` bytes, then zero bytes to a whole
    number of words)."""
    aligned = buf.view(np.uint64)
    n_words = (size + 7) // 8
    # First, in one pass that the compiler vectorises, the newline count (one bit per newline,
    # added up across the word by the multiplication) and a map of one bit per byte, set for
    # newlines (gathered from each word into a byte).
    bits = np.zeros((n_words + 7) // 8 * 8, np.uint8)
    n = 0
    for w in range(n_words):
        flags = matches(aligned[w], _NEWLINES) >> np.uint64(7)
        n += int((flags * ONES) >> np.uint64(56))
        bits[w] = (flags * _GATHER) >> np.uint64(56)
    # Then the map, 64 bytes of the chunk at a time: few steps, and one per newline.
    found = np.empty(n, np.int64)
    blocks = bits.view(np.uint64)
    k = 0
    for i in range(len(blocks)):
        block = blocks[i]
        while block:
            found[k] = 64 * i + lowest_bit(block)
            k += 1
            block &= block - np.uint64(1)
    return found


@inline
def station_key(buf: U8, at: int) -> np.uint64:
    """Return a non-zero key for the field starting at ``at`` (up to 16 bytes, to a comma)."""
    head, tail = np.uint64(0), np.uint64(0)
    for k in range(16):
        c = buf[at + k]
        if c == COMMA or c <= SPACE:
            return ((head * _STATION_MUL) ^ tail) | np.uint64(1)
        if k < 8:
            head |= np.uint64(c) << np.uint64(8 * k)
        else:
            tail |= np.uint64(c) << np.uint64(8 * (k - 8))
    return ((head * _STATION_MUL) ^ tail) | np.uint64(1)


@inline
def _field_end(buf: U8, at: int, end: int) -> int:
    """Return where the field starting at ``at`` ends: its comma or star, or ``end``."""
    k = at
    while (k < end) & (buf[k] != COMMA) & (buf[k] != STAR):
        k += 1
    return k


@inline
def _name_key(buf: U8, at: int, length: int) -> int:
    """Return a hash of ``buf[at:at + length]`` (0 for no bytes)."""
    h = np.int64(0)
    for k in range(length):
        h = h * np.int64(1_000_003) + np.int64(buf[at + k]) + np.int64(1)
    return int(h)


@inline
def _s_field(buf: U8, start: int, close: int) -> int:
    """Return where the value of the first ``s:`` field (the source station) of the tag block
    from ``start`` (its opening backslash) to ``close`` (its closing one) starts, -1 if none."""
    at = -1
    q = start + 1
    while (q + 1 < close) & (at < 0):
        opens = (buf[q - 1] == BACKSLASH) | (buf[q - 1] == COMMA)
        if opens & (buf[q] == _SOURCE_FIELD) & (buf[q + 1] == COLON):
            at = q + 2
        q += 1
    return at


@inline
def _c_fields(word: np.uint64) -> np.uint64:
    """Return the flags of the bytes 1-6 of ``word`` that open a ``c:`` field: a "c", then a
    colon, after a comma or a backslash."""
    opens = matches(word, _COMMAS) | matches(word, _BACKSLASHES)
    return (opens << np.uint64(8)) & matches(word, _CS) & (matches(word, _COLONS) >> np.uint64(8))


@inline
def _c_field(buf: U8, start: int, close: int) -> int:
    """Return where the value of the first ``c:`` field of the tag block from ``start`` (its
    opening backslash) to ``close`` (its closing one) starts, -1 if it has none."""
    # A field opens after the opening backslash or after a comma (the block holds no other
    # backslash). The word at q covers the fields opening at q + 1 .. q + 6.
    q = start
    flags = _c_fields(load_u64(buf, q))
    while (flags == 0) & (q + 8 < close):
        q += 6
        flags = _c_fields(load_u64(buf, q))
    at = q + lowest_byte(flags)
    return at + 2 if flags != 0 and at < close - 1 else -1


class _Fields(NamedTuple):
    """The fields of a ``!ccVDM`` sentence before its payload."""

    #: Fragment count, 0 if the fields are malformed.
    total: int
    #: Fragment number.
    num: int
    #: Sequence id, -1 if none.
    seq: int
    #: Channel, 0 if none.
    chan: int
    #: Index of the comma before the payload.
    payload_comma: int


@inline
def _fields(buf: U8, b: int, e: int) -> _Fields:
    """Return the fields before the payload of the ``!ccVDM`` sentence ``buf[b:e]``."""
    # One test of bitwise operations rather than "and"/"or" branches, between which numba would
    # count references to buf on every sentence. Bytes read past a short line are padding or
    # the next line, and do not matter then.
    total, num = int(buf[b + 7]) - ZERO, int(buf[b + 9]) - ZERO
    bad = (e - b < 15) | (buf[b + 6] != COMMA) | (buf[b + 8] != COMMA) | (buf[b + 10] != COMMA)
    bad |= (total < 1) | (total > 9) | (num < 1) | (num > total)
    # A one-digit sequence id and a one-character channel, each optional.
    seq = int(buf[b + 11]) - ZERO
    has_seq = seq != COMMA - ZERO
    bad |= has_seq & ((seq < 0) | (seq > 9) | (buf[b + 12] != COMMA))
    c4 = b + 12 + has_seq
    chan = int(buf[c4])
    has_chan = chan != COMMA
    c4 += has_chan
    bad |= buf[c4] != COMMA
    if bad:
        return _Fields(0, 0, 0, 0, 0)
    return _Fields(total, num, seq if has_seq else -1, chan if has_chan else 0, c4)


@inline
def _fill(buf: U8, star: int, c4: int) -> tuple[int, int]:
    """Return the index of the comma before the fill-bit count of a sentence whose checksum
    starts at ``star`` and whose payload follows ``c4``, and that count (-1 if malformed)."""
    # A non-standard field may come between the count and the checksum.
    extra = (buf[star - 4] == COMMA) & (buf[star - 2] == COMMA) & (star - 4 > c4)
    c5 = star - 4 if extra else star - 2
    fill = int(buf[c5 + 1]) - ZERO
    bad = (buf[c5] != COMMA) | (c5 <= c4) | (fill < 0) | (fill > 5)
    return c5, -1 if bad else fill


@inline
def _tag_checksum(buf: U8, start: int, close: int) -> int:
    """Return the state of the checksum of the tag block from ``start`` (its opening backslash)
    to ``close`` (its closing one): TAG_GOOD, TAG_BAD, or TAG_NONE when it ends without
    ``*hh``."""
    star = close - 3
    if (star <= start) | (buf[max(star, 0)] != STAR):
        return TAG_NONE
    return TAG_GOOD if checksum_ok(buf, start, star) else TAG_BAD


@inline
def _dollar_line(buf: U8, body: int, e: int) -> int:
    """Return what the "$" line ``buf[body:e]`` is: _PGHP_LINE, _CLOCK_LINE ($xxZDA or $xxRMC)
    or _OTHER_LINE."""
    # The bytes after the "$": "PGHP," or a talker and then the sentence's name.
    head = load_u64(buf, body + 1)
    name = (head >> np.uint64(16)) & _LOW3
    pghp = (head & _LOW5) == _PGHP
    clock = (name == _ZDA) | (name == _RMC)
    kind = _PGHP_LINE if pghp else _CLOCK_LINE if clock else _OTHER_LINE
    return kind if e - body >= 6 else _OTHER_LINE


@inline
def _is_vdm(buf: U8, body: int, e: int) -> bool:
    """Return whether the "!" line ``buf[body:e]`` is a ``!ccVDM`` or ``!ccVDO`` sentence."""
    name = load_u64(buf, body + 3) & _LOW3
    return bool((e - body >= 6) & ((name == _VDM) | (name == _VDO)))


@kernel
def _scan(buf: U8, size: int) -> _Scanned:
    """Return what the chunk ``buf[:size]`` holds."""
    newlines = _newlines(buf, size)
    n = len(newlines)
    ais = np.empty(n, np.int64)
    table = np.empty((14, n), np.int64)
    station = np.zeros(n, np.uint64)
    prefixes = np.empty((4, n), np.int64)
    clocks = np.empty((4, n), np.int64)
    counts = np.zeros(_N_REJECT, np.int64)
    n_ais = n_good = n_prefix = n_clock = 0
    at = 0
    for li in range(n):
        s = at
        e = at = newlines[li]
        at += 1
        if e > s and buf[e - 1] == CARRIAGE_RETURN:
            e -= 1
        body, tag_time, tag_ok = s, _NO_TIME, TAG_NONE
        st_at, st_len = -1, 0
        if e > s and buf[s] == BACKSLASH:
            close = find_byte(buf, BACKSLASH, s + 1, e)
            if close < 0:
                counts[Reject.UNKNOWN_FORMAT] += 1
                continue
            st_at = _s_field(buf, s, close)
            if st_at >= 0:
                st_len = _field_end(buf, st_at, close) - st_at
            c_at = _c_field(buf, s, close)
            if c_at >= 0:
                value, nd = uint_after(buf, c_at, 16)
                if 0 < nd < 16:
                    tag_time = epoch_us(value, nd)
            tag_ok = _tag_checksum(buf, s, close)
            body = close + 1
            if body == e:
                if tag_time != _NO_TIME:
                    prefixes[0, n_prefix], prefixes[1, n_prefix] = li, tag_time
                    prefixes[2, n_prefix], prefixes[3, n_prefix] = TimeSource.TAG_BLOCK, tag_ok
                    n_prefix += 1
                continue
        if body == e:
            continue
        first = buf[body]
        if first == DOLLAR:
            kind = _dollar_line(buf, body, e)
            if kind == _PGHP_LINE:
                time, reason = pghp_line(buf, body, e)
                if time != _NO_TIME:
                    prefixes[0, n_prefix], prefixes[1, n_prefix] = li, time
                    prefixes[2, n_prefix], prefixes[3, n_prefix] = TimeSource.PGHP, TAG_NONE
                    n_prefix += 1
                counts[reason] += 1
            elif kind == _CLOCK_LINE:
                clocks[0, n_clock], clocks[1, n_clock], clocks[2, n_clock] = li, body, e
                clocks[3, n_clock] = star_checksum(buf, body, e) != 0
                n_clock += 1
            continue
        if first != EXCLAMATION:
            counts[Reject.UNKNOWN_FORMAT] += first != HASH  # "#" comments are not data
            continue
        if not _is_vdm(buf, body, e):
            continue  # "!" lines other than VDM/VDO (e.g. !AIPWR status) are not AIS data
        ais[n_ais] = li
        n_ais += 1
        fields = _fields(buf, body, e)
        total, c4 = fields.total, fields.payload_comma
        if total == 0:
            counts[Reject.UNKNOWN_FORMAT] += 1
            continue
        # The checksum ends the line, or comes before fields (US Coast Guard style).
        star = e - 3
        trailing = buf[star] != STAR
        if trailing:
            star = find_byte(buf, STAR, c4 + 1, e - 2)
            if star < 0 or buf[star + 3] != COMMA:
                counts[Reject.UNKNOWN_FORMAT] += 1
                continue
        c5, fill = _fill(buf, star, c4)
        if fill < 0:
            counts[Reject.UNKNOWN_FORMAT] += 1
            continue
        if not checksum_ok(buf, body, star):
            counts[Reject.BAD_CHECKSUM] += 1
            continue
        j = n_good
        table[_LINE, j], table[_TOTAL, j], table[_NUM, j] = li, total, fields.num
        table[_SEQ, j], table[_CHAN, j] = fields.seq, fields.chan
        table[_PSTART, j], table[_PLEN, j] = c4 + 1, c5 - c4 - 1
        table[_FILL, j], table[_TAG, j] = fill, tag_ok
        time, src = tag_time, TimeSource.TAG_BLOCK
        if trailing:
            # The receiver station: the first ",r" field after the checksum, usually right there.
            r = star + 4
            while r < e and not (buf[r] == _STATION_FIELD and buf[r - 1] == COMMA):
                r += 1
            if r < e:
                station[j] = station_key(buf, r)
                if st_len == 0:
                    st_at, st_len = r, _field_end(buf, r, e) - r
            if tag_time == _NO_TIME:
                value, nd = uint_before(buf, e, 16)
                if 0 < nd < 16 and buf[e - nd - 1] == COMMA and e - nd - 1 > star:
                    time = epoch_us(value, nd)
                    src = TimeSource.USCG if station[j] != 0 else TimeSource.TRAILING_EPOCH
        table[_TIME, j] = time
        table[_SRC, j] = src if time != _NO_TIME else TimeSource.NONE
        table[_STAT, j], table[_STLEN, j] = st_at, st_len
        table[_STKEY, j] = _name_key(buf, st_at, st_len)
        n_good += 1
    return _Scanned(
        n_lines=n,
        ais_lines=ais[:n_ais],
        sentences=table[:, :n_good],
        station=station[:n_good],
        prefixes=prefixes[:, :n_prefix],
        clocks=clocks[:, :n_clock],
        rejected=counts,
    )


def scan_lines(data: bytes) -> LineScan:
    """Return the structure of a chunk of complete NMEA lines (see the module docstring)."""
    if not data.endswith(b"\n"):
        data += b"\n"
    # Padded to whole words: the newline search reads the chunk as 64-bit words.
    buf = np.frombuffer(data + bytes(_PAD + -len(data) % 8), np.uint8)
    found = _scan(buf, len(data))
    table = found.sentences
    rejected: Counter[str] = Counter()
    Reject.add_counts(found.rejected, rejected)
    return LineScan(
        buf=buf,
        n_lines=found.n_lines,
        ais_lines=found.ais_lines,
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
        station=found.station,
        tag_ok=table[_TAG],
        station_at=table[_STAT],
        station_len=table[_STLEN],
        station_name_key=table[_STKEY],
        prefixes=found.prefixes,
        clocks=found.clocks,
        rejected=rejected,
    )
