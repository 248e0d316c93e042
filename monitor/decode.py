"""AIS payload decoding: a vectorised fast path for position reports and a pyais path for the rest.

The fast path decodes single-sentence types 1, 2, 3, 18 and 27 for a whole chunk at once with
numpy; its values are bit-identical to pyais 3.3 (same integer rounding of lat/lon, same
``raw / 10.0`` for speed and course). Every other message (multi-part, 5, 19, 24) goes through
pyais one by one.

Value rules, shared by both paths:

- "Not available" becomes null: lat 91 or lon 181 (both coordinates become null), SOG 102.3,
  COG 360, heading 511 (type 27: SOG 63, COG 511). Out-of-range COG (> 360) and heading
  (360-510) are also null: a bad course does not make the position wrong.
- A report with a coordinate outside +-90 / +-180 (other than "not available") is rejected as
  ``invalid_position``; MMSI 0 or above 999999999 is rejected as ``invalid_mmsi``.
- A payload too short to hold every stored field of its type is rejected as ``truncated``; a
  payload character outside the AIS 6-bit alphabet is rejected as ``invalid_field``.

``msg_key`` is :func:`payload_key` of the armoured payload (the concatenated payloads for a
multi-part message). It is identical for every reception of the same transmission, whatever the
receiver, talker, channel, tag block or time; two different transmissions can share it when their
bits are equal (a moored ship's type 18/27 can repeat exactly), so deduplication must combine it
with the MMSI and a short time window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl
from pyais.bit_vector import bit_vector
from pyais.messages import MSG_CLASS

from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA, UTC_US

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

MMSI_MAX: Final = 999_999_999
POSITION_TYPES: Final = frozenset({1, 2, 3, 18, 19, 27})
STATIC_TYPES: Final = frozenset({5, 19, 24})
#: Types the fast path decodes (first payload character "1", "2", "3", "B", "K").
FAST_TYPES: Final = frozenset({1, 2, 3, 18, 27})

#: Bits a payload needs to carry every field the monitor stores, by type.
MIN_BITS: Final[Mapping[int, int]] = {
    1: 137,
    2: 137,
    3: 137,
    18: 133,
    19: 301,
    27: 94,
    5: 420,
    24: 40,
}
_MIN_BITS_24 = {0: 160, 1: 162}

# Rejection codes of the fast path (index into REASONS).
OK, INVALID_FIELD, TRUNCATED, INVALID_MMSI, INVALID_POSITION = 0, 1, 2, 3, 4
REASONS: Final = ("", "invalid_field", "truncated", "invalid_mmsi", "invalid_position")

_M64 = (1 << 64) - 1
_K1 = 0x9E3779B97F4A7C15
_K2 = 0xD6E8FEB86659FD93


def _mix(x: int) -> int:
    x ^= x >> 32
    x = (x * _K2) & _M64
    x ^= x >> 29
    x = (x * _K2) & _M64
    return x ^ (x >> 32)


def payload_key(payload: bytes) -> int:
    """Return the 64-bit message key of an armoured payload (see the module docstring)."""
    h = (_K1 ^ len(payload)) & _M64
    padded = payload + b"\0" * (-len(payload) % 8)
    for i in range(0, len(padded), 8):
        h = _mix(h ^ int.from_bytes(padded[i : i + 8], "little"))
    return h


def payload_keys(buf: U8, start: I64, length: I64) -> U64:
    """Return :func:`payload_key` of each payload ``buf[start:start+length]``, vectorised."""
    n = len(start)
    if n == 0:
        return np.zeros(0, np.uint64)
    width = int(-(-int(length.max()) // 8) * 8)
    cols = np.arange(width, dtype=np.int64)
    idx = np.minimum(start[:, None] + cols, len(buf) - 1)
    mat = np.where(cols < length[:, None], buf[idx], np.uint8(0)).astype(np.uint8)
    words = np.ascontiguousarray(mat).view("<u8")
    h = np.uint64(_K1) ^ length.astype(np.uint64)
    k2 = np.uint64(_K2)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            active = j * 8 < length
            x = h ^ words[:, j]
            x ^= x >> np.uint64(32)
            x *= k2
            x ^= x >> np.uint64(29)
            x *= k2
            x ^= x >> np.uint64(32)
            h = np.where(active, x, h)
    return h


def _sextets(buf: U8, start: I64, length: I64, width: int) -> tuple[npt.NDArray[np.int64], Bool]:
    """Return the 6-bit values of the first ``width`` payload characters and a bad-char flag."""
    cols = np.arange(width, dtype=np.int64)
    inside = cols < length[:, None]
    ch = buf[np.minimum(start[:, None] + cols, len(buf) - 1)].astype(np.int64)
    ch = np.where(inside, ch, 48)
    bad = ((ch < 48) | (ch > 119) | ((ch > 87) & (ch < 96))).any(axis=1)
    v = ch - 48
    v = np.where(v > 40, v - 8, v)
    return v.astype(np.int64), np.asarray(bad, dtype=bool)


class _Bits:
    """Field extraction from payloads packed as 60-bit words (10 characters per word)."""

    def __init__(self, sextets: npt.NDArray[np.int64]) -> None:
        n, width = sextets.shape
        n_words = -(-width // 10)
        padded = np.zeros((n, n_words * 10), np.int64)
        padded[:, :width] = sextets
        shifts = np.arange(54, -1, -6, dtype=np.int64)
        self.words = [
            (padded[:, 10 * k : 10 * k + 10] << shifts).sum(axis=1) for k in range(n_words)
        ]

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


def decode_fast(
    buf: U8, start: I64, length: I64, fill: I64
) -> tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.int8]]:
    """Return the position columns of single-sentence type 1/2/3/18/27 payloads and reject codes.

    Columns are raw numpy arrays with null masks named ``<column>_null``; ``reason`` (a code
    into :data:`REASONS`) is non-zero for rows that must be rejected.
    """
    sext, bad = _sextets(buf, start, length, 28)
    bits = _Bits(sext)
    msg_type = sext[:, 0]
    n_bits = length * 6 - fill
    t27 = msg_type == 27
    t18 = msg_type == 18
    # Class A (1-3) layout by default, class B 18 and long-range 27 override.
    mmsi = bits.get(8, 30)
    lon_raw = np.where(t18, bits.get(57, 28, True), bits.get(61, 28, True))
    lat_raw = np.where(t18, bits.get(85, 27, True), bits.get(89, 27, True))
    sog_raw = np.where(t18, bits.get(46, 10), bits.get(50, 10))
    cog_raw = np.where(t18, bits.get(112, 12), bits.get(116, 12))
    heading = np.where(t18, bits.get(124, 9), bits.get(128, 9))
    status = bits.get(38, 4)
    lon27, lat27 = bits.get(44, 18, True), bits.get(62, 17, True)
    sog27, cog27, status27 = bits.get(79, 6), bits.get(85, 9), bits.get(40, 4)

    # pyais: round(raw / 600000, 6) computed exactly as ((10 * raw + 3) // 6) / 1e6.
    lat = np.where(t27, (10_000 * lat27 + 3) // 6, (10 * lat_raw + 3) // 6) / 1e6
    lon = np.where(t27, (10_000 * lon27 + 3) // 6, (10 * lon_raw + 3) // 6) / 1e6
    lat_na = np.where(t27, lat27 == 91 * 600, lat_raw == 91 * 600_000)
    lon_na = np.where(t27, lon27 == 181 * 600, lon_raw == 181 * 600_000)
    pos_na = lat_na | lon_na
    sog = np.where(t27, sog27.astype(np.float64), sog_raw / 10.0)
    sog_na = np.where(t27, sog27 == 63, sog_raw == 1023)
    cog = np.where(t27, cog27.astype(np.float64), cog_raw / 10.0)
    cog_na = np.where(t27, cog27 >= 360, cog_raw >= 3600)
    heading = np.where(t27, 511, heading)

    min_bits = np.select([t27, t18], [MIN_BITS[27], MIN_BITS[18]], MIN_BITS[1])
    off_range = ((np.abs(lat) > 90.0) & ~lat_na) | ((np.abs(lon) > 180.0) & ~lon_na)
    reason = np.select(
        [bad, n_bits < min_bits, (mmsi == 0) | (mmsi > MMSI_MAX), off_range],
        [INVALID_FIELD, TRUNCATED, INVALID_MMSI, INVALID_POSITION],
        OK,
    ).astype(np.int8)
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
        "nav_status": np.where(t27, status27, status),
        "nav_status_null": t18,
        "msg_type": msg_type,
    }
    return cols, reason


def positions_frame(
    cols: Mapping[str, npt.NDArray[Any]], time_us: I64, msg_key: U64, source: str
) -> pl.DataFrame:
    """Return a POSITIONS_SCHEMA frame from :func:`decode_fast` columns (already filtered)."""
    data: dict[str, pl.Series] = {}
    for name, dtype in POSITIONS_SCHEMA.items():
        if name == "timestamp_utc":
            s = (
                pl.Series(name, time_us, pl.Int64)
                .cast(pl.Datetime("us"))
                .dt.replace_time_zone("UTC")
            )
        elif name == "msg_key":
            s = pl.Series(name, msg_key, pl.UInt64)
        elif name == "source":
            s = pl.repeat(source, len(time_us), dtype=pl.String, eager=True).alias(name)
        else:
            s = pl.Series(name, cols[name]).cast(dtype)
            mask = cols.get(f"{name}_null")
            if mask is not None and mask.any():
                s = s.scatter(np.flatnonzero(mask), None)
        data[name] = s
    return pl.DataFrame(data)


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.replace("@", " ").strip()
    return text or None


def _nonzero(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _eta(month: object, day: object, hour: object, minute: object) -> str | None:
    if not all(isinstance(v, int) for v in (month, day, hour, minute)):
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31):  # type: ignore[operator]
        return None
    return f"{month:02d}-{day:02d} {hour:02d}:{minute:02d}"


def decode_payload(payload: bytes, fill: int) -> tuple[str, Any]:
    """Return ("ok", pyais message) or (reject reason, None) for one complete armoured payload.

    Only the types the monitor stores are decoded; for others ("other", type number) is returned.
    """
    if not payload:
        return "truncated", None
    if any(c < 48 or c > 119 or 87 < c < 96 for c in payload):
        return "invalid_field", None
    msg_type = payload[0] - 48
    if msg_type > 40:
        msg_type -= 8
    if msg_type not in POSITION_TYPES and msg_type not in STATIC_TYPES:
        return "other", msg_type
    n_bits = len(payload) * 6 - fill
    need = MIN_BITS[msg_type]
    if msg_type == 24 and n_bits >= 40:
        part = _part_number(payload)
        need = _MIN_BITS_24.get(part, 40)
        if part not in _MIN_BITS_24:
            return "invalid_field", None
    if n_bits < need:
        return "truncated", None
    try:
        return "ok", MSG_CLASS[msg_type].from_vector(bit_vector(payload, fill))
    except Exception:  # pyais raises many exception types on corrupt bits
        return "invalid_field", None


def _part_number(payload: bytes) -> int:
    c = payload[6] - 48
    if c > 40:
        c -= 8
    return (c >> 2) & 3


def position_row(msg: Any) -> tuple[str, dict[str, Any] | None]:
    """Return ("ok", row) with the POSITIONS_SCHEMA values of a pyais position message."""
    mmsi = int(msg.mmsi)
    if mmsi == 0 or mmsi > MMSI_MAX:
        return "invalid_mmsi", None
    t = int(msg.msg_type)
    lat, lon = float(msg.lat), float(msg.lon)
    pos_na = lat == 91.0 or lon == 181.0
    if not pos_na and (abs(lat) > 90.0 or abs(lon) > 180.0):
        return "invalid_position", None
    speed, course = float(msg.speed), float(msg.course)
    heading = getattr(msg, "heading", None)
    status = getattr(msg, "status", None)
    sog_na = speed == (63.0 if t == 27 else 102.3)
    row = {
        "mmsi": mmsi,
        "lat": None if pos_na else lat,
        "lon": None if pos_na else lon,
        "sog_kn": None if sog_na else speed,
        "cog_deg": None if course >= 360.0 else course,
        "heading_deg": int(heading) if heading is not None and int(heading) < 360 else None,
        "nav_status": int(status) if status is not None else None,
        "msg_type": t,
    }
    return "ok", row


def static_row(msg: Any) -> tuple[str, dict[str, Any] | None]:
    """Return ("ok", row) with the STATICS_SCHEMA values of a pyais type 5, 19 or 24 message."""
    mmsi = int(msg.mmsi)
    if mmsi == 0 or mmsi > MMSI_MAX:
        return "invalid_mmsi", None
    fields = {name: getattr(msg, name, None) for name in _STATIC_FIELDS}
    draught = fields["draught"]
    row = {
        "mmsi": mmsi,
        "msg_type": int(msg.msg_type),
        "imo": _nonzero(fields["imo"]),
        "callsign": _text(fields["callsign"]),
        "vessel_name": _text(fields["shipname"]),
        "ship_type": _nonzero(
            int(fields["ship_type"]) if fields["ship_type"] is not None else None
        ),
        "to_bow_m": _nonzero(fields["to_bow"]),
        "to_stern_m": _nonzero(fields["to_stern"]),
        "to_port_m": _nonzero(fields["to_port"]),
        "to_starboard_m": _nonzero(fields["to_starboard"]),
        "draught_m": float(draught) if isinstance(draught, float) and draught > 0 else None,
        "destination": _text(fields["destination"]),
        "eta": _eta(fields["month"], fields["day"], fields["hour"], fields["minute"]),
    }
    return "ok", row


_STATIC_FIELDS = (
    "imo",
    "callsign",
    "shipname",
    "ship_type",
    "to_bow",
    "to_stern",
    "to_port",
    "to_starboard",
    "draught",
    "destination",
    "month",
    "day",
    "hour",
    "minute",
)


def rows_frame(
    rows: list[dict[str, Any]], schema: Mapping[str, pl.DataType], source: str
) -> pl.DataFrame:
    """Return a frame with exactly ``schema`` from slow-path rows (``timestamp_us`` in µs)."""
    if not rows:
        return pl.DataFrame(schema=dict(schema))
    frame = pl.DataFrame(
        rows,
        schema={
            **{k: v for k, v in schema.items() if k not in ("timestamp_utc", "source")},
            "timestamp_us": pl.Int64,
        },
    )
    return frame.with_columns(
        pl.col("timestamp_us")
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .alias("timestamp_utc"),
        pl.lit(source, pl.String).alias("source"),
    ).select([pl.col(k).cast(v) for k, v in schema.items()])


__all__ = [
    "FAST_TYPES",
    "POSITION_TYPES",
    "REASONS",
    "STATICS_SCHEMA",
    "STATIC_TYPES",
    "UTC_US",
    "decode_fast",
    "decode_payload",
    "payload_key",
    "payload_keys",
    "position_row",
    "positions_frame",
    "rows_frame",
    "static_row",
]
