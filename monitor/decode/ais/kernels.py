"""Bulk AIS payload decoding with compiled kernels: position reports, static reports, message keys.

Each message is one or two payload pieces inside a chunk's byte buffer (two for a 2-part type 5
whose parts are both in the chunk). One kernel per message family walks the messages once: it
de-armours the characters, judges the message, extracts its fields by bit offset and hashes its
payload. Values follow the rules in :mod:`monitor.decode.ais.rules` and are bit-identical to pyais
3.3 (same
integer rounding of lat/lon, ``raw / 10.0`` for speed, course and draught).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from monitor.core.jit import I64, U8, U64, Bool, inline, kernel
from monitor.decode.ais import frames as af
from monitor.decode.ais.rules import MIN_BITS, MIN_BITS_24, MMSI_MAX, ship_type_code
from monitor.decode.bytes import (
    ALL_BITS,
    HASH_K1,
    HASH_K2,
    HIGH_BITS,
    LOW_BITS,
    highest_byte,
    load_u64,
    low_bytes,
    lowest_byte,
    repeated,
    store_u64,
)
from monitor.decode.codes import Reject
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA

#: pyais's ShipType normalisation of every 8-bit ship type code.
_SHIP_TYPE = np.array([ship_type_code(v) for v in range(256)], np.int64)

_HASH_K1, _HASH_K2 = np.uint64(HASH_K1), np.uint64(HASH_K2)

_EMPTY_STATICS = pl.DataFrame(schema=STATICS_SCHEMA)


_MIN_CLASS_A, _MIN_18, _MIN_27, _MIN_5 = MIN_BITS[1], MIN_BITS[18], MIN_BITS[27], MIN_BITS[5]
_MIN_24A, _MIN_24B = MIN_BITS_24[0], MIN_BITS_24[1]


class Pieces:
    """Where each message's payload is: ``buf[s1:s1+l1] + buf[s2:s2+l2]`` (``l2`` 0 if one)."""

    def __init__(self, s1: I64, l1: I64, s2: I64 | None = None, l2: I64 | None = None) -> None:
        self.s1, self.l1 = s1, l1
        self.s2 = s1 if s2 is None else s2
        self.l2 = np.zeros_like(l1) if l2 is None else l2
        self.length = self.l1 + self.l2

    def __len__(self) -> int:
        return len(self.s1)

    def subset(self, keep: Bool) -> Pieces:
        """Return the messages where ``keep`` is True."""
        return Pieces(self.s1[keep], self.l1[keep], self.s2[keep], self.l2[keep])


def _room(buf: U8, pieces: Pieces, n_words: int) -> tuple[U8, int]:
    """Return ``buf`` (zero-padded if too short to read ``n_words`` words past every payload)
    and the number of words :func:`_read` fills for the longest payload."""
    longest = int(pieces.length.max(initial=0))
    size = max(longest + 8, 8 * n_words + 8)
    # The kernels read whole words: up to ``size`` bytes from each piece's start.
    if len(pieces) and max(int(pieces.s1.max()), int(pieces.s2.max())) + size > len(buf):
        buf = np.concatenate([buf, np.zeros(size, np.uint8)])
    return buf, max((longest + 7) // 8, n_words)


# ---- kernel helpers: one message at a time ----
#
# The helpers are inlined into the kernels' loops over messages and receive the kernels' arrays
# as new references. Where a helper keeps an array alive on some paths and not on others (an
# early return, a test of "and"/"or" terms that read the array), numba keeps the increments and
# decrements of the array's reference count: two atomic operations per array and message, which
# cost about as much as decoding the message. Hence single exits and scalar tests below.


_BYTES_30, _BYTES_58 = repeated(0x30), repeated(0x58)
_BYTES_3F, _BYTES_1F = repeated(0x3F), repeated(0x1F)
_BYTES_20 = repeated(0x20)
# Added to a 7-bit byte, these set its top bit from 48, 88, 96 and 120 up.
_FROM_48, _FROM_88 = repeated(0x80 - 48), repeated(0x80 - 88)
_FROM_96, _FROM_120 = repeated(0x80 - 96), repeated(0x80 - 120)
_LANES6, _LANES12 = np.uint64(0x003F003F003F003F), np.uint64(0x00000FFF00000FFF)
_LANES16, _LANES32 = np.uint64(0x00FF00FF00FF00FF), np.uint64(0x0000FFFF0000FFFF)
_LOW24, _LOW32 = low_bytes(3), low_bytes(4)


@inline
def _payload_word(buf: U8, s1: int, l1: int, s2: int, at: int) -> np.uint64:
    """Return the bytes ``at`` to ``at + 7`` of the payload ``buf[s1:s1+l1] + buf[s2:]``."""
    # Both reads always, then the bytes of each piece, without a branch around the reads.
    d = l1 - at
    first, second = load_u64(buf, s1 + at), load_u64(buf, s2 + max(-d, 0))
    # Half of the number of bits from the first piece (0-64): two shifts, as one of 64 bits is
    # not defined.
    half = np.uint64(4 * min(max(d, 0), 8))
    return (first & ~((ALL_BITS << half) << half)) | ((second << half) << half)


@inline
def _dearmoured(w: np.uint64) -> np.int64:
    """Return 8 armoured characters (first in the lowest byte) as 48 bits, first highest."""
    # De-armour 8 characters at once; a borrow or carry only moves towards later bytes.
    y = w - _BYTES_30
    y = (y - (((y + _BYTES_58) & HIGH_BITS) >> np.uint64(4))) & _BYTES_3F
    # Join neighbours, first character highest: 6+6 bits, then 12+12, then 24+24.
    y = ((y & _LANES16) << np.uint64(6)) | ((y >> np.uint64(8)) & _LANES16)
    y = ((y & _LANES32) << np.uint64(12)) | ((y >> np.uint64(16)) & _LANES32)
    return np.int64(((y & _LOW32) << np.uint64(24)) | (y >> np.uint64(32)))


@inline
def _read(
    buf: U8, s1: int, l1: int, s2: int, l2: int, bits: I64, n_words: int
) -> tuple[bool, np.uint64]:
    """Fill ``bits`` with the payload ``buf[s1:s1+l1] + buf[s2:s2+l2]`` as 48-bit words (8
    characters each); return (a character is not AIS 6-bit armour, the payload's key).

    The key is :func:`monitor.decode.ais.rules.payload_key`. Words are filled for the whole payload
    and at
    least ``n_words``, which ``bits`` must have room for; past the payload's end they hold
    garbage, and fields there must not be read.
    """
    n = l1 + l2
    n_keyed = (n + 7) // 8
    h = _HASH_K1 ^ np.uint64(n)
    bad = np.uint64(0)
    for k in range(max(n_keyed, n_words)):
        # Most payloads are one piece: plain reads then.
        w = load_u64(buf, s1 + 8 * k) if l2 == 0 else _payload_word(buf, s1, l1, s2, 8 * k)
        bits[k] = _dearmoured(w)
        if k < n_keyed:
            # The bytes of the payload in this word; the last word's others are ignored.
            inside = ALL_BITS >> np.uint64(8 * (8 - min(n - 8 * k, 8)))
            w &= inside
            # "0".."W" (48-87) and "`".."w" (96-119), per byte, 8 bytes at a time.
            y = w & LOW_BITS
            ok = ((y + _FROM_48) & ~(y + _FROM_88)) | ((y + _FROM_96) & ~(y + _FROM_120))
            bad |= ((~ok | w) & HIGH_BITS) & inside
            h = (h ^ w) * _HASH_K2
            h ^= h >> np.uint64(29)
    h *= _HASH_K1
    return bad != 0, h ^ (h >> np.uint64(32))


@inline
def _field(bits: I64, start: int, width: int) -> int:
    """Return the unsigned field of ``width`` bits (at most 48) at bit ``start``."""
    word, off = start // 48, start % 48
    # Most calls have a constant start and width: the compiler keeps one of the two ways.
    low = off + width - 48
    if low <= 0:
        v = (bits[word] >> (48 - off - width)) & ((1 << width) - 1)
    else:
        v = ((bits[word] & ((1 << (48 - off)) - 1)) << low) | (bits[word + 1] >> (48 - low))
    return int(v)


@inline
def _signed(bits: I64, start: int, width: int) -> int:
    """Return the two's complement field of ``width`` bits at bit ``start``."""
    sign = 1 << (width - 1)
    return (_field(bits, start, width) ^ sign) - sign


#: The longest string an Arrow string view holds itself.
_INLINE = 12


@inline
def _view(size: int, head: np.uint64, middle: np.uint64, at: int) -> tuple[np.uint64, np.uint64]:
    """Return the Arrow string view (two words) of a text of ``size`` bytes whose bytes 0-7 are
    ``head`` and 4-11 ``middle`` (garbage past its end), kept at ``at`` of buffer 0 if long."""
    # Polars takes views without a copy; from offsets and bytes it would copy every string.
    # A view is the length, then the first 4 bytes, then either the next 8 (zero-padded) or
    # the buffer's index and the offset in it.
    first = head & ((np.uint64(1) << np.uint64(8 * min(size, 4))) - np.uint64(1))
    half = np.uint64(4 * min(max(size - 4, 0), 8))  # two shifts, as one of 64 bits is not defined
    rest = middle & ~((ALL_BITS << half) << half)
    where = np.uint64(at) << np.uint64(32)
    return np.uint64(size) | (first << np.uint64(32)), rest if size <= _INLINE else where


@inline
def _text(
    bits: I64, start: int, n_chars: int, data: U8, ends: I64, views: U64, col: int, k: int
) -> bool:
    """Write row ``k``'s text (``n_chars`` at bit ``start``) to column ``col``; True if empty.

    "@" is a space and outer spaces are removed, as in :func:`monitor.decode.ais.rules.text_expr`.
    The text
    is written to the column's row of ``data`` from ``ends[col]``, and up to 8 bytes past it
    (the rows have room for that), then described by its Arrow string view (:func:`_view`);
    ``ends[col]`` moves past it only if the view refers to it there.
    """
    at = ends[col]
    base = col * data.shape[1] + at
    lo, hi = n_chars, 0
    for first in range(0, n_chars, 8):
        # Eight characters (48 bits) at a time, spread to one per byte, first lowest; missing
        # ones are 0 ("@").
        size = min(8, n_chars - first)
        y = np.uint64(_field(bits, start + 6 * first, 6 * size)) << np.uint64(6 * (8 - size))
        y = (y >> np.uint64(24)) | ((y & _LOW24) << np.uint64(32))
        y = ((y >> np.uint64(12)) & _LANES12) | ((y & _LANES12) << np.uint64(16))
        y = ((y >> np.uint64(6)) & _LANES6) | ((y & _LANES6) << np.uint64(8))
        # Codes 0-31 are "@".."_" (64-95), 32-63 are themselves; "@" becomes a space.
        zero = ~((y + LOW_BITS) & HIGH_BITS) & HIGH_BITS
        store_u64(
            data, base + first, (y | ((~y & _BYTES_20) << np.uint64(1))) - (zero >> np.uint64(2))
        )
        # Spaces are the codes 0 and 32.
        kept = ((y & _BYTES_1F) + LOW_BITS) & HIGH_BITS
        if kept:
            lo = min(lo, first + lowest_byte(kept))
            hi = first + highest_byte(kept) + 1
    if lo > 0:
        for i in range(lo, hi):
            data[col, at + i - lo] = data[col, at + i]
    size = max(hi - lo, 0)
    head, middle = load_u64(data, base), load_u64(data, base + 4)
    views[col, 2 * k], views[col, 2 * k + 1] = _view(size, head, middle, at)
    ends[col] = at + (size if size > _INLINE else 0)
    return hi == 0


# ---- message keys ----


@kernel
def _keys_kernel(buf: U8, s1: I64, l1: I64, s2: I64, l2: I64, words: int) -> U64:
    keys = np.empty(len(s1), np.uint64)
    bits = np.empty(words, np.int64)
    for m in range(len(s1)):
        keys[m] = _read(buf, s1[m], l1[m], s2[m], l2[m], bits, 0)[1]
    return keys


def payload_keys(buf: U8, pieces: Pieces) -> U64:
    """Return :func:`monitor.decode.ais.rules.payload_key` of each message's payload."""
    buf, words = _room(buf, pieces, 0)
    keys: U64 = _keys_kernel(buf, pieces.s1, pieces.l1, pieces.s2, pieces.l2, words)
    return keys


# ---- position reports ----


#: Rows of the positions kernel's float and null matrices.
_FLOATS = ("lat", "lon", "sog_kn", "cog_deg")
_NULLS = ("lat", "sog_kn", "cog_deg", "heading_deg", "nav_status")


#: 48-bit words that hold every field a position report's kernel reads (up to bit 137).
_POSITION_WORDS = 3


@kernel
def _positions_kernel(
    buf: U8, s1: I64, l1: I64, s2: I64, l2: I64, fill: I64, words: int
) -> tuple[Any, ...]:
    n = len(s1)
    bits = np.empty(words, np.int64)
    reason = np.zeros(n, np.int64)
    mmsi, msg_type, keys = np.empty(n, np.uint32), np.empty(n, np.uint8), np.empty(n, np.uint64)
    heading, status = np.empty(n, np.uint16), np.zeros(n, np.uint8)
    floats, nulls = np.empty((4, n), np.float64), np.empty((5, n), np.bool_)
    k = 0
    for m in range(n):
        length = l1[m] + l2[m]
        bad, key = _read(buf, s1[m], l1[m], s2[m], l2[m], bits, _POSITION_WORDS)
        if bad:
            reason[m] = Reject.INVALID_FIELD
            continue
        t = _field(bits, 0, 6) if length > 0 else 0
        need = _MIN_27 if t == 27 else _MIN_18 if t == 18 else _MIN_CLASS_A
        if length * 6 - fill[m] < need:
            reason[m] = Reject.TRUNCATED
            continue
        mm = _field(bits, 8, 30)
        if mm == 0 or mm > MMSI_MAX:
            reason[m] = Reject.INVALID_MMSI
            continue
        if t == 27:
            lon_raw, lat_raw = _signed(bits, 44, 18), _signed(bits, 62, 17)
            lat_na, lon_na = lat_raw == 91 * 600, lon_raw == 181 * 600
            # pyais: round(raw / 600, 6) computed exactly as ((10000 * raw + 3) // 6) / 1e6.
            lat, lon = (10_000 * lat_raw + 3) // 6 / 1e6, (10_000 * lon_raw + 3) // 6 / 1e6
            sog_raw, cog_raw = _field(bits, 79, 6), _field(bits, 85, 9)
            floats[2, k], nulls[1, k] = float(sog_raw), sog_raw == 63
            floats[3, k], nulls[2, k] = float(cog_raw), cog_raw >= 360
            hd, status[k], nulls[4, k] = 511, _field(bits, 40, 4), False
        else:
            b = 4 if t == 18 else 0  # class B fields sit 4 bits earlier
            lon_raw, lat_raw = _signed(bits, 61 - b, 28), _signed(bits, 89 - b, 27)
            lat_na, lon_na = lat_raw == 91 * 600_000, lon_raw == 181 * 600_000
            # pyais: round(raw / 600000, 6) computed exactly as ((10 * raw + 3) // 6) / 1e6.
            lat, lon = (10 * lat_raw + 3) // 6 / 1e6, (10 * lon_raw + 3) // 6 / 1e6
            sog_raw, cog_raw = _field(bits, 50 - b, 10), _field(bits, 116 - b, 12)
            floats[2, k], nulls[1, k] = sog_raw / 10.0, sog_raw == 1023
            floats[3, k], nulls[2, k] = cog_raw / 10.0, cog_raw >= 3600
            hd = _field(bits, 128 - b, 9)
            status[k], nulls[4, k] = (0, True) if t == 18 else (_field(bits, 38, 4), False)
        if (abs(lat) > 90.0 and not lat_na) or (abs(lon) > 180.0 and not lon_na):
            reason[m] = Reject.INVALID_POSITION
            continue
        mmsi[k], msg_type[k], keys[k], heading[k] = mm, t, key, hd
        floats[0, k], floats[1, k], nulls[0, k], nulls[3, k] = lat, lon, lat_na or lon_na, hd >= 360
        k += 1
    return reason, k, mmsi, msg_type, keys, heading, status, floats, nulls


def decode_positions(buf: U8, pieces: Pieces, fill: I64) -> tuple[dict[str, npt.NDArray[Any]], I64]:
    """Return the position columns of the accepted type 1/2/3/18/27 payloads and a code per message.

    Columns (``msg_key`` included) hold the messages whose code is 0, in order, as numpy arrays
    with null masks named ``<column>_null``; the code indexes
    :data:`monitor.decode.ais.rules.REASONS`
    (0 = accepted).
    """
    buf, words = _room(buf, pieces, _POSITION_WORDS)
    reason, k, mmsi, msg_type, keys, heading, status, floats, nulls = _positions_kernel(
        buf, pieces.s1, pieces.l1, pieces.s2, pieces.l2, fill, words
    )
    cols: dict[str, npt.NDArray[Any]] = {
        "mmsi": mmsi[:k],
        "msg_type": msg_type[:k],
        "msg_key": keys[:k],
        "heading_deg": heading[:k],
        "nav_status": status[:k],
    }
    cols.update((name, floats[j, :k]) for j, name in enumerate(_FLOATS))
    cols.update((f"{name}_null", nulls[j, :k]) for j, name in enumerate(_NULLS))
    cols["lon_null"] = cols["lat_null"]
    return cols, reason


def positions_frame(
    cols: Mapping[str, npt.NDArray[Any]], time_us: I64, msg_key: U64, source: str
) -> pl.DataFrame:
    """Return a POSITIONS_SCHEMA frame from :func:`decode_positions` columns."""
    arrays = {
        "timestamp_utc": af.timestamps(time_us),
        "msg_key": af.array(np.ascontiguousarray(msg_key, np.uint64)),
    }
    for name in POSITIONS_SCHEMA.keys() - arrays.keys() - {"source"}:
        arrays[name] = af.array(cols[name], af.validity(cols.get(f"{name}_null")))
    return af.frame(POSITIONS_SCHEMA, arrays, source, len(time_us))


# ---- static reports ----

#: Columns of a static report that can be null, in the order of the kernel's null matrix.
_NULLABLE = (
    "imo",
    "ship_type",
    "to_bow_m",
    "to_stern_m",
    "to_port_m",
    "to_starboard_m",
    "draught_m",
    "callsign",
    "vessel_name",
    "destination",
    "eta",
)
_IMO, _SHIP, _BOW, _DRAUGHT, _CALL, _NAME, _DEST, _ETA = 0, 1, 2, 6, 7, 8, 9, 10
_TEXTS = _NULLABLE[_CALL:]
_TEXT_WIDTH = 20
#: 48-bit words that hold every field a static report's kernel reads (up to bit 422).
_STATIC_WORDS = 9


@inline
def _dims(
    bits: I64, start: int, dims: npt.NDArray[np.uint16], nulls: Bool, k: int, none: bool
) -> None:
    """Write bow, stern, port and starboard (9, 9, 6, 6 bits from ``start``) to row ``k``."""
    for j in range(4):
        off, width = (0, 9) if j == 0 else (9, 9) if j == 1 else (6 * j + 6, 6)
        v = 0 if none else _field(bits, start + off, width)
        dims[j, k], nulls[_BOW + j, k] = v, v == 0


@inline
def _digits(v: int) -> np.uint64:
    """Return ``v`` (0-99) as two ASCII digits, the first in the low byte."""
    return np.uint64(48 + v // 10) | (np.uint64(48 + v % 10) << np.uint64(8))


@inline
def _eta(bits: I64, views: U64, k: int) -> bool:
    """Write a type 5's ETA as "MM-DD HH:MM" to row ``k`` of the ETA column; return True if not
    valid."""
    month, day = _field(bits, 274, 4), _field(bits, 278, 5)
    hour, minute = _field(bits, 283, 5), _field(bits, 288, 6)
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    # The 11 bytes fit in the view itself: "MM-DD HH" and ":MM", with "-" (45), " " (32), ":" (58).
    head = _digits(month) | np.uint64(45 << 16) | (_digits(day) << np.uint64(24))
    head |= np.uint64(32 << 40) | (_digits(hour) << np.uint64(48))
    tail = np.uint64(58) | (_digits(minute) << np.uint64(8))
    view = _view(11 if valid else 0, head, (head >> np.uint64(32)) | (tail << np.uint64(32)), 0)
    views[_ETA - _CALL, 2 * k], views[_ETA - _CALL, 2 * k + 1] = view
    return not valid


@kernel
def _statics_kernel(
    buf: U8, s1: I64, l1: I64, s2: I64, l2: I64, fill: I64, words: int
) -> tuple[Any, ...]:
    n = len(s1)
    bits = np.empty(words, np.int64)
    reason = np.zeros(n, np.int64)
    rows = np.empty(n, np.int64)
    # Columns in their schema's types: MMSI and IMO, message and ship types, dimensions.
    ids, codes = np.empty((2, n), np.uint32), np.empty((2, n), np.uint8)
    dims, draughts = np.empty((4, n), np.uint16), np.empty(n, np.float64)
    nulls = np.zeros((len(_NULLABLE), n), np.bool_)
    # 8 bytes more per row: texts are written 8 bytes at a time.
    data = np.zeros((len(_TEXTS), n * _TEXT_WIDTH + 8), np.uint8)
    ends = np.zeros(len(_TEXTS), np.int64)
    views = np.zeros((len(_TEXTS), 2 * n), np.uint64)
    keys = np.empty(n, np.uint64)
    k = 0
    for m in range(n):
        length = l1[m] + l2[m]
        bad, key = _read(buf, s1[m], l1[m], s2[m], l2[m], bits, _STATIC_WORDS)
        n_bits = length * 6 - fill[m]
        t = _field(bits, 0, 6) if length > 0 else 0
        part = _field(bits, 38, 2) if t != 5 and n_bits >= 40 else 0
        if bad or part > 1:
            reason[m] = Reject.INVALID_FIELD
            continue
        if n_bits < (_MIN_5 if t == 5 else _MIN_24B if part else _MIN_24A):
            reason[m] = Reject.TRUNCATED
            continue
        mm = _field(bits, 8, 30)
        if mm == 0 or mm > MMSI_MAX:
            reason[m] = Reject.INVALID_MMSI
            continue
        rows[k], keys[k], ids[0, k], codes[0, k] = m, key, mm, t
        if t == 5:
            imo, ship, draught = _field(bits, 40, 30), _field(bits, 232, 8), _field(bits, 294, 8)
            _dims(bits, 240, dims, nulls, k, False)
            call, name, dest = 70, 112, 302
            nulls[_ETA, k] = _eta(bits, views, k)
        else:
            imo, ship, draught, dest = 0, _field(bits, 40, 8) if part else 0, 0, -1
            # A type 24B from an auxiliary craft (MMSI 98xxxxxxx) carries its mother ship's MMSI
            # instead of dimensions.
            _dims(bits, 132, dims, nulls, k, part == 0 or 980_000_000 <= mm <= 989_999_999)
            call, name = (90, -1) if part else (-1, 40)
            nulls[_ETA, k] = True
        ship = _SHIP_TYPE[ship]
        ids[1, k], codes[1, k], draughts[k] = imo, ship, draught / 10.0
        nulls[_IMO, k], nulls[_SHIP, k], nulls[_DRAUGHT, k] = imo == 0, ship == 0, draught == 0
        nulls[_CALL, k] = _text(bits, call, 7 if call >= 0 else 0, data, ends, views, 0, k)
        nulls[_NAME, k] = _text(bits, name, 20 if name >= 0 else 0, data, ends, views, 1, k)
        nulls[_DEST, k] = _text(bits, dest, 20 if dest >= 0 else 0, data, ends, views, 2, k)
        k += 1
    return reason, k, rows, ids, codes, dims, draughts, nulls, data, ends, views, keys


def decode_statics(
    buf: U8, pieces: Pieces, fill: I64, time_us: I64, source: str
) -> tuple[pl.DataFrame, I64]:
    """Return a STATICS_SCHEMA frame of the accepted type 5 / 24 messages and a code per message.

    Rows of the frame are the messages whose code is 0, in order.
    """
    if len(pieces) == 0:
        return _EMPTY_STATICS, np.zeros(0, np.int64)
    buf, words = _room(buf, pieces, _STATIC_WORDS)
    reason, k, rows, ids, codes, dims, draughts, nulls, data, ends, views, keys = _statics_kernel(
        buf, pieces.s1, pieces.l1, pieces.s2, pieces.l2, fill, words
    )
    # The validity bitmaps of all nullable columns at once.
    valid, has_null = np.packbits(~nulls[:, :k], 1, "little"), nulls[:, :k].any(1).tolist()
    validity = {
        name: pa.py_buffer(valid[j]) if has_null[j] else None for j, name in enumerate(_NULLABLE)
    }
    values = {
        "mmsi": ids[0],
        "msg_type": codes[0],
        "imo": ids[1],
        "ship_type": codes[1],
        "to_bow_m": dims[0],
        "to_stern_m": dims[1],
        "to_port_m": dims[2],
        "to_starboard_m": dims[3],
        "draught_m": draughts,
    }
    arrays = {"timestamp_utc": af.timestamps(time_us[rows[:k]]), "msg_key": af.array(keys[:k])}
    for name, column in values.items():
        arrays[name] = af.array(column[:k], validity.get(name))
    for j, name in enumerate(_TEXTS):
        arrays[name] = af.string_views(views[j, : 2 * k], data[j, : ends[j]], validity[name])
    return af.frame(STATICS_SCHEMA, arrays, source, k), reason
