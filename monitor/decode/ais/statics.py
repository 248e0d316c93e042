"""Bulk decoding of AIS static reports (type 5, type 24 parts A and B) with a compiled kernel.

The kernel walks the messages once: it reads each payload (:mod:`monitor.decode.ais.payload`),
judges the message, extracts its fields by bit offset and writes its texts straight into the
Arrow string views polars takes without a copy. Values follow the rules in
:mod:`monitor.decode.ais.rules` and are bit-identical to pyais 3.3 (``raw / 10.0`` for the
draught).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from monitor.core.jit import F64, I64, U8, U16, U32, U64, Bool, inline, kernel
from monitor.decode.ais import frames as af
from monitor.decode.ais.payload import Pieces, field, read_message, room, valid_mmsi
from monitor.decode.ais.rules import MIN_BITS, MIN_BITS_24, ship_type_code
from monitor.decode.bytes import (
    ALL_BITS,
    COLON,
    DASH,
    HIGH_BITS,
    LOW_BITS,
    SPACE,
    highest_byte,
    load_u64,
    low_bytes,
    lowest_byte,
    repeated,
    store_u64,
    two_digits,
)
from monitor.decode.codes import Reject
from monitor.schema import STATICS_SCHEMA

#: pyais's ShipType normalisation of every 8-bit ship type code.
_SHIP_TYPE = np.array([ship_type_code(v) for v in range(256)], np.int64)
_EMPTY_STATICS = pl.DataFrame(schema=STATICS_SCHEMA)
_MIN_5, _MIN_24A, _MIN_24B = MIN_BITS[5], MIN_BITS_24[0], MIN_BITS_24[1]

#: Bit 5 of each byte: 6-bit text codes 32-63 are their own ASCII characters, 0-31 are 64-95.
_CODE_32 = repeated(0x20)
_LOW5_BITS = repeated(0x1F)
_LANES6, _LANES12 = np.uint64(0x003F003F003F003F), np.uint64(0x00000FFF00000FFF)
_LOW24 = low_bytes(3)


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

    "@" is a space and outer spaces are removed, as on the pyais path
    (:mod:`monitor.decode.ais.rules`).
    The text is written to the column's row of ``data`` from ``ends[col]``, and up to 8 bytes
    past it (the rows have room for that), then described by its Arrow string view
    (:func:`_view`); ``ends[col]`` moves past it only if the view refers to it there.
    """
    at = ends[col]
    base = col * data.shape[1] + at
    lo, hi = n_chars, 0
    for first in range(0, n_chars, 8):
        # Eight characters (48 bits) at a time, spread to one per byte, first lowest; missing
        # ones are 0 ("@").
        size = min(8, n_chars - first)
        y = np.uint64(field(bits, start + 6 * first, 6 * size)) << np.uint64(6 * (8 - size))
        y = (y >> np.uint64(24)) | ((y & _LOW24) << np.uint64(32))
        y = ((y >> np.uint64(12)) & _LANES12) | ((y & _LANES12) << np.uint64(16))
        y = ((y >> np.uint64(6)) & _LANES6) | ((y & _LANES6) << np.uint64(8))
        # Codes 0-31 are "@".."_" (64-95), 32-63 are themselves; "@" becomes a space.
        zero = ~((y + LOW_BITS) & HIGH_BITS) & HIGH_BITS
        store_u64(
            data, base + first, (y | ((~y & _CODE_32) << np.uint64(1))) - (zero >> np.uint64(2))
        )
        # Spaces are the codes 0 and 32.
        kept = ((y & _LOW5_BITS) + LOW_BITS) & HIGH_BITS
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
_IMO, _SHIP, _BOW, _DRAUGHT, _CALL, _NAME, _DEST, _ETA = (
    _NULLABLE.index(c)
    for c in (
        "imo",
        "ship_type",
        "to_bow_m",
        "draught_m",
        "callsign",
        "vessel_name",
        "destination",
        "eta",
    )
)
#: Text columns, in the order of the kernel's text rows and views.
_TEXTS = _NULLABLE[_CALL:]
_CALL_TEXT, _NAME_TEXT, _DEST_TEXT, _ETA_TEXT = (
    _TEXTS.index(c) for c in ("callsign", "vessel_name", "destination", "eta")
)
_N_NULLABLE, _N_TEXTS = len(_NULLABLE), len(_TEXTS)
_TEXT_WIDTH = 20
#: 48-bit words that hold every field the kernel reads (up to bit 422).
_STATIC_WORDS = 9


class _Decoded(NamedTuple):
    """The kernel's verdict on each message, and the columns and texts of the static reports
    it accepted (their first ``n_accepted`` entries)."""

    reason: I64
    n_accepted: int
    #: The message each row comes from.
    rows: I64
    #: MMSI and IMO.
    ids: U32
    #: Message and ship types.
    codes: U8
    #: Bow, stern, port and starboard.
    dims: U16
    draughts: F64
    #: Rows _NULLABLE.
    nulls: Bool
    #: Rows _TEXTS: the texts' bytes, where each row's bytes end, and the texts' Arrow views.
    data: U8
    ends: I64
    views: U64
    keys: U64


@inline
def _dims(bits: I64, start: int, dims: U16, nulls: Bool, k: int, none: bool) -> None:
    """Write bow, stern, port and starboard (9, 9, 6, 6 bits from ``start``) to row ``k``."""
    for j in range(4):
        off, width = (0, 9) if j == 0 else (9, 9) if j == 1 else (6 * j + 6, 6)
        v = 0 if none else field(bits, start + off, width)
        dims[j, k], nulls[_BOW + j, k] = v, v == 0


@inline
def _eta(bits: I64, views: U64, k: int) -> bool:
    """Write a type 5's ETA as "MM-DD HH:MM" to row ``k`` of the ETA column; return True if not
    valid."""
    month, day = field(bits, 274, 4), field(bits, 278, 5)
    hour, minute = field(bits, 283, 5), field(bits, 288, 6)
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    # The 11 bytes fit in the view itself: "MM-DD HH" and ":MM".
    head = two_digits(month) | np.uint64(DASH << 16) | (two_digits(day) << np.uint64(24))
    head |= np.uint64(SPACE << 40) | (two_digits(hour) << np.uint64(48))
    tail = np.uint64(COLON) | (two_digits(minute) << np.uint64(8))
    view = _view(11 if valid else 0, head, (head >> np.uint64(32)) | (tail << np.uint64(32)), 0)
    views[_ETA_TEXT, 2 * k], views[_ETA_TEXT, 2 * k + 1] = view
    return not valid


@kernel
def _statics_kernel(buf: U8, s1: I64, l1: I64, s2: I64, l2: I64, fill: I64, words: int) -> _Decoded:
    n = len(s1)
    bits = np.empty(words, np.int64)
    reason = np.zeros(n, np.int64)
    rows = np.empty(n, np.int64)
    # Columns in their schema's types: MMSI and IMO, message and ship types, dimensions.
    ids, codes = np.empty((2, n), np.uint32), np.empty((2, n), np.uint8)
    dims, draughts = np.empty((4, n), np.uint16), np.empty(n, np.float64)
    nulls = np.zeros((_N_NULLABLE, n), np.bool_)
    # 8 bytes more per row: texts are written 8 bytes at a time.
    data = np.zeros((_N_TEXTS, n * _TEXT_WIDTH + 8), np.uint8)
    ends = np.zeros(_N_TEXTS, np.int64)
    views = np.zeros((_N_TEXTS, 2 * n), np.uint64)
    keys = np.empty(n, np.uint64)
    k = 0
    for m in range(n):
        msg = read_message(buf, s1[m], l1[m], s2[m], l2[m], fill[m], bits, _STATIC_WORDS)
        t, mm = msg.msg_type, msg.mmsi
        # Type 24: part A (0) or B (1).
        part = field(bits, 38, 2) if t != 5 and msg.n_bits >= 40 else 0
        if msg.bad or part > 1:
            reason[m] = Reject.INVALID_FIELD
            continue
        if msg.n_bits < (_MIN_5 if t == 5 else _MIN_24B if part else _MIN_24A):
            reason[m] = Reject.TRUNCATED
            continue
        if not valid_mmsi(mm):
            reason[m] = Reject.INVALID_MMSI
            continue
        rows[k], keys[k], ids[0, k], codes[0, k] = m, msg.key, mm, t
        if t == 5:
            imo, ship, draught = field(bits, 40, 30), field(bits, 232, 8), field(bits, 294, 8)
            _dims(bits, 240, dims, nulls, k, False)
            call, name, dest = 70, 112, 302
            nulls[_ETA, k] = _eta(bits, views, k)
        else:
            imo, ship, draught, dest = 0, field(bits, 40, 8) if part else 0, 0, -1
            # A type 24B from an auxiliary craft (MMSI 98xxxxxxx) carries its mother ship's MMSI
            # instead of dimensions.
            _dims(bits, 132, dims, nulls, k, part == 0 or 980_000_000 <= mm <= 989_999_999)
            call, name = (90, -1) if part else (-1, 40)
            nulls[_ETA, k] = True
        ship = _SHIP_TYPE[ship]
        ids[1, k], codes[1, k], draughts[k] = imo, ship, draught / 10.0
        nulls[_IMO, k], nulls[_SHIP, k], nulls[_DRAUGHT, k] = imo == 0, ship == 0, draught == 0
        call_chars, name_chars, dest_chars = 7 * (call >= 0), 20 * (name >= 0), 20 * (dest >= 0)
        nulls[_CALL, k] = _text(bits, call, call_chars, data, ends, views, _CALL_TEXT, k)
        nulls[_NAME, k] = _text(bits, name, name_chars, data, ends, views, _NAME_TEXT, k)
        nulls[_DEST, k] = _text(bits, dest, dest_chars, data, ends, views, _DEST_TEXT, k)
        k += 1
    return _Decoded(reason, k, rows, ids, codes, dims, draughts, nulls, data, ends, views, keys)


def decode_statics(
    buf: U8, pieces: Pieces, fill: I64, time_us: I64, source: str
) -> tuple[pl.DataFrame, I64]:
    """Return a STATICS_SCHEMA frame of the accepted type 5 / 24 messages and a Reject code per
    message.

    Rows of the frame are the messages whose code is Reject.NONE, in order.
    """
    if len(pieces) == 0:
        return _EMPTY_STATICS, np.zeros(0, np.int64)
    buf, words = room(buf, pieces, _STATIC_WORDS)
    found = _statics_kernel(buf, pieces.s1, pieces.l1, pieces.s2, pieces.l2, fill, words)
    k, nulls, ids, codes, dims = found.n_accepted, found.nulls, found.ids, found.codes, found.dims
    # The validity bitmaps of all nullable columns at once.
    valid, has_null = np.packbits(~nulls[:, :k], 1, "little"), (nulls[:, :k].sum(1) > 0).tolist()
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
        "draught_m": found.draughts,
    }
    arrays = {
        "timestamp_utc": af.timestamps(time_us[found.rows[:k]]),
        "msg_key": af.array(found.keys[:k]),
    }
    for name, column in values.items():
        arrays[name] = af.array(column[:k], validity.get(name))
    views, data, ends = found.views, found.data, found.ends
    for j, name in enumerate(_TEXTS):
        arrays[name] = af.string_views(views[j, : 2 * k], data[j, : ends[j]], validity[name])
    return af.frame(STATICS_SCHEMA, arrays, source, k), found.reason
