"""Vectorised AIS payload decoding with numpy: position reports, static reports and message keys.

Each message is one or two payload pieces inside a chunk's byte buffer (two for a 2-part type 5
whose parts are both in the chunk). Values follow the rules in :mod:`monitor.decode` and are
bit-identical to pyais 3.3 (same integer rounding of lat/lon, ``raw / 10.0`` for speed, course and
draught).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.decode import _K1, _K2, MIN_BITS, MMSI_MAX, REASONS, ship_type_code, text_expr
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

#: pyais's ShipType normalisation of every 8-bit ship type code.
_SHIP_TYPE = np.array([ship_type_code(v) for v in range(256)], np.int64)

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

    def gather(self, buf: U8, width: int, pad: int) -> U8:
        """Return the first ``width`` payload characters of each message, ``pad`` past the end."""
        cols = np.arange(width, dtype=np.int64)
        first = cols < self.l1[:, None]
        idx = np.where(first, self.s1[:, None] + cols, self.s2[:, None] + cols - self.l1[:, None])
        chars = buf[np.clip(idx, 0, len(buf) - 1)]
        return np.where(cols < self.length[:, None], chars, np.uint8(pad)).astype(np.uint8)

    def subset(self, keep: Bool) -> Pieces:
        """Return the messages where ``keep`` is True."""
        return Pieces(self.s1[keep], self.l1[keep], self.s2[keep], self.l2[keep])


def payload_keys(buf: U8, pieces: Pieces) -> U64:
    """Return :func:`monitor.decode.payload_key` of each message's payload, vectorised."""
    if len(pieces) == 0:
        return np.zeros(0, np.uint64)
    width = int(-(-int(pieces.length.max()) // 8) * 8)
    words = np.ascontiguousarray(pieces.gather(buf, width, 0)).view("<u8")
    h = np.uint64(_K1) ^ pieces.length.astype(np.uint64)
    k2 = np.uint64(_K2)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            x = h ^ words[:, j]
            x ^= x >> np.uint64(32)
            x *= k2
            x ^= x >> np.uint64(29)
            x *= k2
            x ^= x >> np.uint64(32)
            h = np.where(j * 8 < pieces.length, x, h)
    return h


class _Bits:
    """Field extraction from payloads packed as 60-bit words (10 characters per word)."""

    def __init__(self, buf: U8, pieces: Pieces, width: int) -> None:
        chars = pieces.gather(buf, width, 48).astype(np.int64)
        self.bad: Bool = np.asarray(
            ((chars < 48) | (chars > 119) | ((chars > 87) & (chars < 96))).any(axis=1), bool
        )
        v = chars - 48
        v = np.where(v > 40, v - 8, v)
        n_words = -(-width // 10)
        padded = np.zeros((len(pieces), n_words * 10), np.int64)
        padded[:, :width] = v
        shifts = np.arange(54, -1, -6, dtype=np.int64)
        self.words = [
            (padded[:, 10 * k : 10 * k + 10] << shifts).sum(axis=1) for k in range(n_words)
        ]
        self.msg_type = v[:, 0]

    def get(self, start: int, width: int, signed: bool = False) -> I64:
        word, off = divmod(start, 60)
        if off + width <= 60:
            v = (self.words[word] >> (60 - off - width)) & ((1 << width) - 1)
        else:
            low = off + width - 60
            high = self.words[word] & ((1 << (60 - off)) - 1)
            v = (high << low) | (self.words[word + 1] >> (60 - low))
        if signed:
            sign = 1 << (width - 1)
            v = (v ^ sign) - sign
        return np.asarray(v, dtype=np.int64)

    def text(self, start: int, n_chars: int) -> pl.Series:
        """Return 6-bit AIS text as raw strings (``@`` padding still in)."""
        codes = np.stack([self.get(start + 6 * k, 6) for k in range(n_chars)], axis=1)
        chars = np.where(codes < 32, codes + 64, codes).astype(np.uint8)
        raw = np.ascontiguousarray(chars).view(f"S{n_chars}").ravel()
        return pl.Series(raw).cast(pl.String)


def _reason(bad: Bool, truncated: Bool, mmsi: I64, off_range: Bool | None = None) -> I64:
    conds = [bad, truncated, (mmsi == 0) | (mmsi > MMSI_MAX)]
    if off_range is not None:
        conds.append(off_range)
    return np.select(
        conds, [INVALID_FIELD, TRUNCATED, INVALID_MMSI, INVALID_POSITION][: len(conds)], OK
    )


def decode_positions(buf: U8, pieces: Pieces, fill: I64) -> tuple[dict[str, npt.NDArray[Any]], I64]:
    """Return the position columns of type 1/2/3/18/27 payloads and a reject code per row.

    Columns are numpy arrays with null masks named ``<column>_null``; the code indexes
    :data:`monitor.decode.REASONS` (0 = accepted).
    """
    bits = _Bits(buf, pieces, 28)
    msg_type = bits.msg_type
    t27, t18 = msg_type == 27, msg_type == 18
    # Class A (1-3) layout by default; class B 18 and long-range 27 differ.
    mmsi = bits.get(8, 30)
    lon_raw = np.where(t18, bits.get(57, 28, True), bits.get(61, 28, True))
    lat_raw = np.where(t18, bits.get(85, 27, True), bits.get(89, 27, True))
    sog_raw = np.where(t18, bits.get(46, 10), bits.get(50, 10))
    cog_raw = np.where(t18, bits.get(112, 12), bits.get(116, 12))
    heading = np.where(t18, bits.get(124, 9), bits.get(128, 9))
    lon27, lat27 = bits.get(44, 18, True), bits.get(62, 17, True)
    sog27, cog27 = bits.get(79, 6), bits.get(85, 9)

    # pyais: round(raw / 600000, 6) computed exactly as ((10 * raw + 3) // 6) / 1e6.
    lat = np.where(t27, (10_000 * lat27 + 3) // 6, (10 * lat_raw + 3) // 6) / 1e6
    lon = np.where(t27, (10_000 * lon27 + 3) // 6, (10 * lon_raw + 3) // 6) / 1e6
    lat_na = np.where(t27, lat27 == 91 * 600, lat_raw == 91 * 600_000)
    lon_na = np.where(t27, lon27 == 181 * 600, lon_raw == 181 * 600_000)
    pos_na = lat_na | lon_na
    heading = np.where(t27, 511, heading)

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
        "sog_kn": np.where(t27, sog27.astype(np.float64), sog_raw / 10.0),
        "sog_kn_null": np.where(t27, sog27 == 63, sog_raw == 1023),
        "cog_deg": np.where(t27, cog27.astype(np.float64), cog_raw / 10.0),
        "cog_deg_null": np.where(t27, cog27 >= 360, cog_raw >= 3600),
        "heading_deg": heading,
        "heading_deg_null": heading >= 360,
        "nav_status": np.where(t27, bits.get(40, 4), bits.get(38, 4)),
        "nav_status_null": t18,
        "msg_type": msg_type,
    }
    return cols, reason


def positions_frame(
    cols: Mapping[str, npt.NDArray[Any]], time_us: I64, msg_key: U64, source: str
) -> pl.DataFrame:
    """Return a POSITIONS_SCHEMA frame from :func:`decode_positions` columns (already filtered)."""
    data: dict[str, pl.Series] = {}
    for name, dtype in POSITIONS_SCHEMA.items():
        if name == "timestamp_utc":
            s = _timestamps(time_us)
        elif name == "msg_key":
            s = pl.Series(name, msg_key, pl.UInt64)
        elif name == "source":
            s = pl.repeat(source, len(time_us), dtype=pl.String, eager=True)
        else:
            s = pl.Series(name, cols[name]).cast(dtype)
            mask = cols.get(f"{name}_null")
            if mask is not None and mask.any():
                s = s.scatter(np.flatnonzero(mask), None)
        data[name] = s.alias(name)
    return pl.DataFrame(data)


def _timestamps(time_us: I64) -> pl.Series:
    return pl.Series(time_us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def decode_statics(
    buf: U8, pieces: Pieces, fill: I64, time_us: I64, source: str
) -> tuple[pl.DataFrame, I64]:
    """Return a STATICS_SCHEMA frame of the accepted type 5 / 24 messages and a code per message.

    Rows of the frame are the messages whose code is 0, in order.
    """
    if len(pieces) == 0:
        return pl.DataFrame(schema=STATICS_SCHEMA), np.zeros(0, np.int64)
    bits = _Bits(buf, pieces, 72)
    msg_type = bits.msg_type
    mmsi = bits.get(8, 30)
    t5 = msg_type == 5
    part = bits.get(38, 2)
    n_bits = pieces.length * 6 - fill
    min_bits = np.where(t5, MIN_BITS[5], np.where(part == 0, 160, 162))
    bad = bits.bad | (~t5 & (part > 1))
    reason = _reason(bad, n_bits < min_bits, mmsi)
    keep = reason == OK
    part_b = ~t5 & (part == 1)
    # A type 24B from an auxiliary craft (MMSI 98xxxxxxx) carries its mother ship's MMSI instead
    # of dimensions.
    aux = part_b & (mmsi >= 980_000_000) & (mmsi <= 989_999_999)

    def pick(a5: I64, a24b: I64) -> I64:
        return np.where(t5, a5, np.where(part_b, a24b, 0))

    month, day = bits.get(274, 4), bits.get(278, 5)
    eta_ok = t5 & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    dims = [
        ("to_bow_m", pick(bits.get(240, 9), bits.get(132, 9))),
        ("to_stern_m", pick(bits.get(249, 9), bits.get(141, 9))),
        ("to_port_m", pick(bits.get(258, 6), bits.get(150, 6))),
        ("to_starboard_m", pick(bits.get(264, 6), bits.get(156, 6))),
    ]
    frame = pl.DataFrame(
        {
            "mmsi": mmsi,
            "timestamp_utc": _timestamps(time_us),
            "msg_type": msg_type,
            "imo": np.where(t5, bits.get(40, 30), 0),
            "callsign_5": bits.text(70, 7),
            "callsign_24": bits.text(90, 7),
            "name_5": bits.text(112, 20),
            "name_24": bits.text(40, 20),
            "ship_type": _SHIP_TYPE[pick(bits.get(232, 8), bits.get(40, 8))],
            **{name: np.where(aux, 0, values) for name, values in dims},
            "draught_m": np.where(t5, bits.get(294, 8), 0) / 10.0,
            "destination": bits.text(302, 20),
            "month": month,
            "day": day,
            "hour": bits.get(283, 5),
            "minute": bits.get(288, 6),
            "t5": t5,
            "part_a": ~t5 & (part == 0),
            "eta_ok": eta_ok,
        }
    ).filter(pl.Series(keep))

    def positive(name: str) -> pl.Expr:
        return pl.when(pl.col(name) > 0).then(pl.col(name))

    def two(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.String).str.zfill(2)

    eta = pl.format("{}-{} {}:{}", two("month"), two("day"), two("hour"), two("minute"))
    out = frame.select(
        "mmsi",
        "timestamp_utc",
        "msg_type",
        positive("imo").alias("imo"),
        pl.when(pl.col("t5"))
        .then(text_expr("callsign_5"))
        .when(~pl.col("part_a"))
        .then(text_expr("callsign_24"))
        .alias("callsign"),
        pl.when(pl.col("t5"))
        .then(text_expr("name_5"))
        .when(pl.col("part_a"))
        .then(text_expr("name_24"))
        .alias("vessel_name"),
        pl.when(~pl.col("part_a")).then(positive("ship_type")).alias("ship_type"),
        *(pl.when(~pl.col("part_a")).then(positive(name)).alias(name) for name, _ in dims),
        positive("draught_m").alias("draught_m"),
        pl.when(pl.col("t5")).then(text_expr("destination")).alias("destination"),
        pl.when(pl.col("eta_ok")).then(eta).alias("eta"),
        pl.lit(0, pl.UInt64).alias("msg_key"),
        pl.lit(source, pl.String).alias("source"),
    )
    out = out.with_columns(pl.Series("msg_key", payload_keys(buf, pieces.subset(keep))))
    return out.select([pl.col(k).cast(v) for k, v in STATICS_SCHEMA.items()]), reason
