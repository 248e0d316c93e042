"""AIS payload decoding rules, message keys and the pyais path for messages decoded one by one.

Most messages are decoded in bulk by compiled kernels (:mod:`monitor.decode.ais.positions`:
single-sentence types 1, 2, 3, 18 and 27; :mod:`monitor.decode.ais.statics`: type 24, and type 5
whose parts arrive together); the rest (type 19, multi-part messages
split across chunks or with more than two parts) goes through pyais here. Both paths follow the
same rules and give the same values.

Value rules:

- "Not available" becomes null: lat 91 or lon 181 (both coordinates become null), SOG 102.3,
  COG 360, heading 511 (type 27: SOG 63, COG 511). Out-of-range COG (> 360) and heading
  (360-510) are also null: a bad course does not make the position wrong.
- A report with a coordinate outside +-90 / +-180 (other than "not available") is rejected as
  ``invalid_position``; MMSI 0 or above 999999999 is rejected as ``invalid_mmsi``.
- Ship types are normalised as pyais's ``ShipType`` does for type 5 (reserved codes fold into
  their category's reserved code; 1-19 and 100+ are not available, hence null), for every type.
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
import polars as pl
from pyais.bit_vector import bit_vector
from pyais.constants import ShipType
from pyais.messages import MSG_CLASS

from monitor.decode.bytes import HASH_K1, HASH_K2
from monitor.decode.codes import Reject

MMSI_MAX: Final = 999_999_999
POSITION_TYPES: Final = frozenset({1, 2, 3, 18, 19, 27})
STATIC_TYPES: Final = frozenset({5, 19, 24})
#: Types the bulk path decodes.
FAST_POSITION_TYPES: Final = frozenset({1, 2, 3, 18, 27})
FAST_STATIC_TYPES: Final = frozenset({5, 24})

#: Bits a payload needs to carry every field the monitor stores, by type.
MIN_BITS: Final[Mapping[int, int]] = {
    1: 137,
    2: 137,
    3: 137,
    18: 133,
    19: 301,
    27: 94,
    5: 422,
    24: 40,
}
#: Bits a type 24 payload needs, by part number (A: 0, B: 1).
MIN_BITS_24: Final[Mapping[int, int]] = {0: 160, 1: 162}

#: The AIS 6-bit armour: the character of each 6-bit value, 0-63.
ARMOUR: Final = b"0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"
#: The 6-bit value of each byte, -1 for bytes that are not armour.
SIXBIT: Final = np.full(256, -1, np.int64)
SIXBIT[np.frombuffer(ARMOUR, np.uint8)] = np.arange(64)

_M64 = (1 << 64) - 1


def payload_key(payload: bytes) -> int:
    """Return the 64-bit message key of an armoured payload (see the module docstring)."""
    h = HASH_K1 ^ len(payload)
    padded = payload + b"\0" * (-len(payload) % 8)
    for i in range(0, len(padded), 8):
        h = ((h ^ int.from_bytes(padded[i : i + 8], "little")) * HASH_K2) & _M64
        h ^= h >> 29
    h = (h * HASH_K1) & _M64
    return h ^ (h >> 32)


def ship_type_code(raw: int) -> int:
    """Return pyais's normalised ship type code for a raw 8-bit value (0 = not available)."""
    normalised = ShipType.from_value(int(raw))
    return int(normalised) if normalised is not None else 0


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


def decode_payload(payload: bytes, fill: int) -> tuple[Reject, Any]:
    """Return (Reject.NONE, pyais message) or (reason, None) for one complete armoured payload.

    Only the types the monitor stores are decoded; for others (Reject.OTHER_TYPE, type number)
    is returned.
    """
    if not payload:
        return Reject.TRUNCATED, None
    values = SIXBIT[np.frombuffer(payload, np.uint8)]
    if (values < 0).any():
        return Reject.INVALID_FIELD, None
    msg_type = int(values[0])
    if msg_type not in POSITION_TYPES and msg_type not in STATIC_TYPES:
        return Reject.OTHER_TYPE, msg_type
    n_bits = len(payload) * 6 - fill
    need = MIN_BITS[msg_type]
    if msg_type == 24 and n_bits >= 40:
        # The part number: bits 38-39, in the payload's seventh character.
        part = (int(values[6]) >> 2) & 3
        need = MIN_BITS_24.get(part, 40)
        if part not in MIN_BITS_24:
            return Reject.INVALID_FIELD, None
    if n_bits < need:
        return Reject.TRUNCATED, None
    try:
        return Reject.NONE, MSG_CLASS[msg_type].from_vector(bit_vector(payload, fill))
    except Exception:  # pyais raises many exception types on corrupt bits
        return Reject.INVALID_FIELD, None


def position_row(msg: Any) -> tuple[Reject, dict[str, Any] | None]:
    """Return (Reject.NONE, row) with the POSITIONS_SCHEMA values of a pyais position message,
    or (reason, None)."""
    mmsi = int(msg.mmsi)
    if mmsi == 0 or mmsi > MMSI_MAX:
        return Reject.INVALID_MMSI, None
    t = int(msg.msg_type)
    lat, lon = float(msg.lat), float(msg.lon)
    pos_na = lat == 91.0 or lon == 181.0
    if not pos_na and (abs(lat) > 90.0 or abs(lon) > 180.0):
        return Reject.INVALID_POSITION, None
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
    return Reject.NONE, row


def static_row(msg: Any) -> tuple[Reject, dict[str, Any] | None]:
    """Return (Reject.NONE, row) with the STATICS_SCHEMA values of a pyais type 5, 19 or 24
    message, or (reason, None)."""
    mmsi = int(msg.mmsi)
    if mmsi == 0 or mmsi > MMSI_MAX:
        return Reject.INVALID_MMSI, None
    fields = {name: getattr(msg, name, None) for name in _STATIC_FIELDS}
    draught = fields["draught"]
    row = {
        "mmsi": mmsi,
        "msg_type": int(msg.msg_type),
        "imo": _nonzero(fields["imo"]),
        "callsign": _text(fields["callsign"]),
        "vessel_name": _text(fields["shipname"]),
        "ship_type": _nonzero(
            ship_type_code(fields["ship_type"]) if fields["ship_type"] is not None else None
        ),
        "to_bow_m": _nonzero(fields["to_bow"]),
        "to_stern_m": _nonzero(fields["to_stern"]),
        "to_port_m": _nonzero(fields["to_port"]),
        "to_starboard_m": _nonzero(fields["to_starboard"]),
        "draught_m": float(draught) if isinstance(draught, float) and draught > 0 else None,
        "destination": _text(fields["destination"]),
        "eta": _eta(fields["month"], fields["day"], fields["hour"], fields["minute"]),
    }
    return Reject.NONE, row


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
