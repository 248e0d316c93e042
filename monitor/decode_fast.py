"""Vectorised AIS payload decoding with numpy: position reports, static reports and message keys.

Each message is one or two payload pieces inside a chunk's byte buffer (two for a 2-part type 5
whose parts are both in the chunk). Values follow the rules in :mod:`monitor.decode` and are
bit-identical to pyais 3.3 (same integer rounding of lat/lon, ``raw / 10.0`` for speed, course and
draught).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.decode import _K1, _K2, MIN_BITS, MMSI_MAX, REASONS, ship_type_code
from monitor.nmea_lines import keep_low_bytes
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

#: pyais's ShipType normalisation of every 8-bit ship type code.
_SHIP_TYPE = np.array([ship_type_code(v) for v in range(256)], np.int64)

_EMPTY_STATICS = pl.DataFrame(schema=STATICS_SCHEMA)

OK, INVALID_FIELD, TRUNCATED, INVALID_MMSI, INVALID_POSITION = range(5)
assert REASONS[INVALID_POSITION] == "invalid_position"


class Pieces:
    """Where each message's payload is: ``buf[s1:s1+l1] + buf[s2:s2+l2]`` (``l2`` 0 if one)."""

    def __init__(self, s1: I64, l1: I64, s2: I64 | None = None, l2: I64 | None = None) -> None:
        self.s1, self.l1 = s1, l1
        self.s2 = s1 if s2 is None else s2
        self.l2 = np.zeros_like(l1) if l2 is None else l2
        self.length = self.l1 + self.l2

    def __len__(self) -> int:
        return len(self.s1)

    def gather(self, buf: U8, width: int, zero_tail: bool) -> U8:
        """Return the first ``width`` payload characters of each message.

        Past a payload's end come zero bytes if ``zero_tail``, else whatever follows in ``buf``.
        """
        if len(self) and int(max(self.s1.max(), self.s2.max())) + width > len(buf):
            buf = np.concatenate([buf, np.zeros(width, np.uint8)])
        # Copying whole windows row by row is much faster than gathering byte by byte.
        windows = np.lib.stride_tricks.as_strided(
            buf, shape=(len(buf) - width + 1, width), strides=(1, 1), writeable=False
        )
        chars = windows[self.s1]
        two = np.flatnonzero(self.l2 > 0)
        cols = np.arange(width, dtype=np.int64)
        if len(two):
            second = windows[self.s2[two] - self.l1[two]]
            # Arithmetic select: a broadcast np.where on bytes is many times slower.
            in_first = (cols < self.l1[two, None]).view(np.uint8)
            chars[two] = chars[two] * in_first + second * (1 - in_first)
        if zero_tail:
            chars *= cols < self.length[:, None]
        return chars

    def subset(self, keep: Bool) -> Pieces:
        """Return the messages where ``keep`` is True."""
        return Pieces(self.s1[keep], self.l1[keep], self.s2[keep], self.l2[keep])


def payload_keys(buf: U8, pieces: Pieces) -> U64:
    """Return :func:`monitor.decode.payload_key` of each message's payload, vectorised."""
    if len(pieces) == 0:
        return np.zeros(0, np.uint64)
    size = 8 * -(-int(pieces.length.max()) // 8)
    return _keys_of_chars(pieces.gather(buf, size, False), pieces.length)


def _keys_of_chars(chars: U8, length: I64) -> U64:
    """Return the payload keys of rows of characters (bytes past each ``length`` ignored)."""
    words = np.ascontiguousarray(chars).view("<u8")
    shortest = int(length.min()) if len(length) else 0
    h = np.uint64(_K1) ^ length.astype(np.uint64)
    k1, k2, s29, s32 = np.uint64(_K1), np.uint64(_K2), np.uint64(29), np.uint64(32)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            word = words[:, j]
            if 8 * (j + 1) > shortest:
                # Keep only the bytes inside the payload (zero padding, as payload_key does).
                word = keep_low_bytes(word, length - 8 * j)
            x = (h ^ word) * k2
            x ^= x >> s29
            # A word past a payload's end leaves its hash as it was.
            h = x if 8 * j < shortest else np.where(8 * j < length, x, h)
        h *= k1
        h ^= h >> s32
    return np.asarray(h, np.uint64)


class _Bits:
    """Field extraction from payloads packed as 48-bit words (8 characters per word)."""

    def __init__(self, buf: U8, pieces: Pieces, width: int, at_least: int = 0) -> None:
        """Read the first ``width`` characters; keep at least ``at_least`` in :attr:`chars`."""
        n_words = -(-max(width, at_least) // 8)
        size = 8 * n_words
        chars = pieces.gather(buf, size, False)
        #: The gathered characters (what follows in the buffer past each payload's end).
        self.chars = chars
        n = len(chars)
        # Armouring: "0".."W" are 0-39, "`".."w" are 40-63; anything else is not AIS.
        # Byte arithmetic wraps, so one comparison per range catches bytes below "0" too.
        sextets = chars - np.uint8(48)
        outside = (sextets > 71) | ((sextets - np.uint8(40)) < 8)
        outside[:, width:] = False
        short = np.flatnonzero(pieces.length < width)
        if len(short):
            # Feeds have few distinct payload lengths: clearing by length beats a full mask.
            lengths = pieces.length[short]
            distinct = np.unique(lengths)
            if len(distinct) <= 8:
                for length in distinct.tolist():
                    outside[short[lengths == length], length:] = False
            else:
                outside[short] &= np.arange(size) < lengths[:, None]
        # OR of the 8-byte columns: a reduce along such a short axis is several times slower.
        flags = outside.view(np.uint64)
        any_flag = flags[:, 0].copy()
        for k in range(1, n_words):
            any_flag |= flags[:, k]
        self.bad: Bool = any_flag != 0
        # numpy shifts uint8 without SIMD: multiply instead.
        sextets -= (sextets >= 48).view(np.uint8) * np.uint8(8)
        sextets &= np.uint8(63)
        self.sextets = sextets
        # Pairs of neighbours joined by reinterpreting the bytes as wider little-endian ints:
        # 6+6 bits in uint16, 12+12 in uint32, 24+24 in uint64.
        pair16 = sextets.view(np.uint16)
        joined16 = ((pair16 & np.uint16(0xFF)) << np.uint16(6)) | (pair16 >> np.uint16(8))
        pair32 = joined16.view(np.uint32)
        joined32 = ((pair32 & np.uint32(0xFFFF)) << np.uint32(12)) | (pair32 >> np.uint32(16))
        pair64 = joined32.view(np.uint64)
        joined64 = ((pair64 & np.uint64(0xFFFFFFFF)) << np.uint64(24)) | (pair64 >> np.uint64(32))
        words = np.ascontiguousarray(joined64.reshape(n, n_words).T).view(np.int64)
        self.words: list[I64] = list(words)
        self.msg_type = sextets[:, 0].astype(np.int64)

    def take(self, keep: Bool) -> None:
        """Keep only the messages where ``keep`` is True."""
        self.sextets = self.sextets[keep]
        self.words = [w[keep] for w in self.words]
        self.msg_type = self.msg_type[keep]

    def get(self, start: int, width: int, signed: bool = False, rows: I64 | None = None) -> I64:
        """Return the field at bit ``start`` of every message (or of ``rows`` only)."""
        word, off = divmod(start, 48)

        def part(k: int) -> I64:
            return self.words[k] if rows is None else self.words[k][rows]

        if off + width <= 48:
            v = (part(word) >> (48 - off - width)) & ((1 << width) - 1)
        else:
            low = off + width - 48
            v = ((part(word) & ((1 << (48 - off)) - 1)) << low) | (part(word + 1) >> (48 - low))
        if signed:
            sign = 1 << (width - 1)
            v = (v ^ sign) - sign
        return np.asarray(v, dtype=np.int64)

    def text(self, start: int, n_chars: int, rows: I64) -> tuple[npt.NDArray[np.bytes_], Bool]:
        """Return the text of ``rows`` ("@" as space, outer spaces removed) and empty flags."""
        k0, shift = divmod(start, 6)
        a = self.sextets[rows, k0 : k0 + n_chars].astype(np.uint16)
        b = self.sextets[rows, k0 + 1 : k0 + n_chars + 1].astype(np.uint16)
        codes = ((a << shift) | (b >> (6 - shift))) & 63
        chars = (codes + 64 * (codes < 32)).astype(np.uint8)
        chars -= (chars == 64).view(np.uint8) * np.uint8(32)  # "@" (64) to space (32)
        space = chars == 32
        lead = np.argmin(space, axis=1)
        shifted = np.flatnonzero(lead > 0)
        if len(shifted):
            cols = np.arange(n_chars) + lead[shifted, None]
            moved = np.take_along_axis(chars[shifted], np.minimum(cols, n_chars - 1), axis=1)
            inside = (cols < n_chars).view(np.uint8)
            chars[shifted] = moved * inside + 32 * (1 - inside)
            space = chars == 32
        # Cut trailing spaces: keep up to the last other character.
        from_end = np.where(space.all(axis=1), n_chars, np.argmin(space[:, ::-1], axis=1))
        chars *= np.arange(n_chars) < (n_chars - from_end)[:, None]
        return np.ascontiguousarray(chars).view(f"S{n_chars}").ravel(), chars[:, 0] == 0


def _reason(bad: Bool, truncated: Bool, mmsi: I64, off_range: Bool | None = None) -> I64:
    conds = [bad, truncated, (mmsi == 0) | (mmsi > MMSI_MAX)]
    if off_range is not None:
        conds.append(off_range)
    return np.select(
        conds, [INVALID_FIELD, TRUNCATED, INVALID_MMSI, INVALID_POSITION][: len(conds)], OK
    )


def decode_positions(buf: U8, pieces: Pieces, fill: I64) -> tuple[dict[str, npt.NDArray[Any]], I64]:
    """Return the position columns of type 1/2/3/18/27 payloads and a reject code per row.

    Columns (``msg_key`` included) are numpy arrays with null masks named ``<column>_null``; the
    code indexes :data:`monitor.decode.REASONS` (0 = accepted).
    """
    # All characters gathered at once: the message key needs the whole payload.
    bits = _Bits(buf, pieces, 28, int(pieces.length.max(initial=0)))
    msg_type = bits.msg_type
    t27, t18 = msg_type == 27, msg_type == 18
    # Class A (1-3) layout for all rows, then the few class B (18) and long-range (27) rows.
    b18, b27 = np.flatnonzero(t18), np.flatnonzero(t27)
    mmsi = bits.get(8, 30)
    lon_raw, lat_raw = bits.get(61, 28, True), bits.get(89, 27, True)
    sog_raw, cog_raw, heading = bits.get(50, 10), bits.get(116, 12), bits.get(128, 9)
    status = bits.get(38, 4)
    if len(b18):
        lon_raw[b18], lat_raw[b18] = bits.get(57, 28, True, b18), bits.get(85, 27, True, b18)
        sog_raw[b18], cog_raw[b18] = bits.get(46, 10, rows=b18), bits.get(112, 12, rows=b18)
        heading[b18] = bits.get(124, 9, rows=b18)

    # pyais: round(raw / 600000, 6) computed exactly as ((10 * raw + 3) // 6) / 1e6.
    lat = (10 * lat_raw + 3) // 6 / 1e6
    lon = (10 * lon_raw + 3) // 6 / 1e6
    lat_na, lon_na = lat_raw == 91 * 600_000, lon_raw == 181 * 600_000
    sog, sog_na = sog_raw / 10.0, sog_raw == 1023
    cog, cog_na = cog_raw / 10.0, cog_raw >= 3600
    if len(b27):
        lon27, lat27 = bits.get(44, 18, True, b27), bits.get(62, 17, True, b27)
        # pyais: round(raw / 600, 6) as ((10000 * raw + 3) // 6) / 1e6.
        lat[b27], lon[b27] = (10_000 * lat27 + 3) // 6 / 1e6, (10_000 * lon27 + 3) // 6 / 1e6
        lat_na[b27], lon_na[b27] = lat27 == 91 * 600, lon27 == 181 * 600
        sog27, cog27 = bits.get(79, 6, rows=b27), bits.get(85, 9, rows=b27)
        sog[b27], sog_na[b27] = sog27, sog27 == 63
        cog[b27], cog_na[b27] = cog27, cog27 >= 360
        heading[b27], status[b27] = 511, bits.get(40, 4, rows=b27)
    pos_na = lat_na | lon_na

    min_bits = np.select([t27, t18], [MIN_BITS[27], MIN_BITS[18]], MIN_BITS[1])
    off_range = ((np.abs(lat) > 90.0) & ~lat_na) | ((np.abs(lon) > 180.0) & ~lon_na)
    n_bits = pieces.length * 6 - fill
    reason = _reason(bits.bad, n_bits < min_bits, mmsi, off_range)
    cols: dict[str, npt.NDArray[Any]] = {
        "mmsi": mmsi,
        "lat": lat,
        "lat_null": pos_na,
        "lon": lon,
        "lon_null": pos_na,
        "sog_kn": sog,
        "sog_kn_null": sog_na,
        "cog_deg": cog,
        "cog_deg_null": cog_na,
        "heading_deg": heading,
        "heading_deg_null": heading >= 360,
        "nav_status": status,
        "nav_status_null": t18,
        "msg_type": msg_type,
        "msg_key": _keys_of_chars(bits.chars, pieces.length),
    }
    return cols, reason


#: numpy dtype of each numeric polars dtype: casting in numpy is much cheaper per chunk.
_NUMPY_DTYPES: Final[dict[pl.DataType, type[np.generic]]] = {
    pl.UInt8(): np.uint8,
    pl.UInt16(): np.uint16,
    pl.UInt32(): np.uint32,
    pl.UInt64(): np.uint64,
    pl.Int64(): np.int64,
    pl.Float64(): np.float64,
}


def positions_frame(
    cols: Mapping[str, npt.NDArray[Any]], time_us: I64, msg_key: U64, source: str
) -> pl.DataFrame:
    """Return a POSITIONS_SCHEMA frame from :func:`decode_positions` columns (already filtered)."""
    data: list[pl.Series] = []
    for name, dtype in POSITIONS_SCHEMA.items():
        if name == "timestamp_utc":
            s = _timestamps(time_us)
        elif name == "msg_key":
            s = pl.Series(name, msg_key, pl.UInt64)
        elif name == "source":
            s = _constant(name, source, len(time_us))
        else:
            s = _series(name, cols[name], dtype, cols.get(f"{name}_null"))
        data.append(s.alias(name))
    return pl.DataFrame(data)


def _timestamps(time_us: I64) -> pl.Series:
    return pl.Series(time_us, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


_CONSTANTS: dict[tuple[str, str], pl.Series] = {}


def _constant(name: str, value: str, n: int) -> pl.Series:
    """Return ``value`` repeated ``n`` times, sliced from a cached longer series when possible."""
    # Building a string column costs about as much as decoding the chunk; a slice is free.
    cached = _CONSTANTS.get((name, value))
    if cached is None or len(cached) < n:
        size = max(n, 1 << 16)
        cached = pl.Series(name, [value], pl.String).extend_constant(value, size - 1)
        if len(_CONSTANTS) > 64:
            _CONSTANTS.clear()
        _CONSTANTS[(name, value)] = cached
    return cached.head(n)


def _series(
    name: str, values: npt.NDArray[Any], dtype: pl.DataType, null: Bool | None = None
) -> pl.Series:
    numpy_type = _NUMPY_DTYPES.get(dtype)
    if numpy_type is not None:
        series = pl.Series(name, values.astype(numpy_type, copy=False))
    else:
        series = pl.Series(name, values).cast(dtype)
    if null is not None and null.any():
        series = series.scatter(np.flatnonzero(null), None)
    return series


def _eta(month: I64, day: I64, hour: I64, minute: I64) -> npt.NDArray[np.bytes_]:
    """Return "MM-DD HH:MM" byte strings."""
    chars = np.full((len(month), 11), ord("-"), np.uint8)
    for col, value in ((0, month), (3, day), (6, hour), (9, minute)):
        chars[:, col] = 48 + value // 10
        chars[:, col + 1] = 48 + value % 10
    chars[:, 5], chars[:, 8] = ord(" "), ord(":")
    return np.ascontiguousarray(chars).view("S11").ravel()


def _texts(
    n: int, width: int, *parts: tuple[tuple[npt.NDArray[np.bytes_], Bool], I64]
) -> tuple[npt.NDArray[np.bytes_], Bool]:
    """Return ``n`` texts assembled from (texts, empty flags) of some rows; others are null."""
    texts = np.zeros(n, f"S{width}")
    null = np.ones(n, bool)
    for (values, empty), rows in parts:
        texts[rows] = values
        null[rows] = empty
    return texts, null


def decode_statics(
    buf: U8, pieces: Pieces, fill: I64, time_us: I64, source: str
) -> tuple[pl.DataFrame, I64]:
    """Return a STATICS_SCHEMA frame of the accepted type 5 / 24 messages and a code per message.

    Rows of the frame are the messages whose code is 0, in order.
    """
    if len(pieces) == 0:
        return _EMPTY_STATICS, np.zeros(0, np.int64)
    bits = _Bits(buf, pieces, 72, int(pieces.length.max()))
    t5, part = bits.msg_type == 5, bits.get(38, 2)
    n_bits = pieces.length * 6 - fill
    min_bits = np.where(t5, MIN_BITS[5], np.where(part == 0, 160, 162))
    reason = _reason(bits.bad | (~t5 & (part > 1)), n_bits < min_bits, bits.get(8, 30))
    keep = reason == OK
    keys = _keys_of_chars(bits.chars, pieces.length)[keep]
    bits.take(keep)
    t5, part = t5[keep], part[keep]
    mmsi = bits.get(8, 30)
    part_a, part_b = ~t5 & (part == 0), ~t5 & (part == 1)
    # A type 24B from an auxiliary craft (MMSI 98xxxxxxx) carries its mother ship's MMSI instead
    # of dimensions.
    no_dims = part_a | (part_b & (mmsi >= 980_000_000) & (mmsi <= 989_999_999))

    def pick(a5: I64, a24b: I64) -> I64:
        return np.where(t5, a5, np.where(part_b, a24b, 0))

    n = len(mmsi)
    rows5, rows_a, rows_b = np.flatnonzero(t5), np.flatnonzero(part_a), np.flatnonzero(part_b)
    vessel_name, no_name = _texts(
        n, 20, (bits.text(112, 20, rows5), rows5), (bits.text(40, 20, rows_a), rows_a)
    )
    callsign, no_call = _texts(
        n, 7, (bits.text(70, 7, rows5), rows5), (bits.text(90, 7, rows_b), rows_b)
    )
    destination, no_dest = _texts(n, 20, (bits.text(302, 20, rows5), rows5))
    month, day = bits.get(274, 4), bits.get(278, 5)
    eta_ok = t5 & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    imo = np.where(t5, bits.get(40, 30), 0)
    ship_type = _SHIP_TYPE[pick(bits.get(232, 8), bits.get(40, 8))]
    draught = np.where(t5, bits.get(294, 8), 0)
    columns = [
        pl.Series("mmsi", mmsi, pl.UInt32),
        _timestamps(time_us[keep]).alias("timestamp_utc"),
        pl.Series("msg_type", bits.msg_type, pl.UInt8),
        _series("imo", imo, pl.UInt32(), imo == 0),
        _series("callsign", callsign, pl.String(), no_call),
        _series("vessel_name", vessel_name, pl.String(), no_name),
        _series("ship_type", ship_type, pl.UInt8(), part_a | (ship_type == 0)),
    ]
    for name, a5, a24b in (
        ("to_bow_m", bits.get(240, 9), bits.get(132, 9)),
        ("to_stern_m", bits.get(249, 9), bits.get(141, 9)),
        ("to_port_m", bits.get(258, 6), bits.get(150, 6)),
        ("to_starboard_m", bits.get(264, 6), bits.get(156, 6)),
    ):
        values = pick(a5, a24b)
        columns.append(_series(name, values, pl.UInt16(), no_dims | (values == 0)))
    columns += [
        _series("draught_m", draught / 10.0, pl.Float64(), draught == 0),
        _series("destination", destination, pl.String(), no_dest),
        _series(
            "eta",
            _eta(month, day, bits.get(283, 5), bits.get(288, 6)),
            pl.String(),
            ~eta_ok,
        ),
        pl.Series("msg_key", keys, pl.UInt64),
        _constant("source", source, len(mmsi)),
    ]
    return pl.DataFrame(columns), reason
