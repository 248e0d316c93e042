"""Bulk decoding of AIS position reports (types 1, 2, 3, 18 and 27) with a compiled kernel.

The kernel walks the messages once: it reads each payload (:mod:`monitor.decode.ais.payload`),
judges the message and extracts its fields by bit offset. Values follow the rules in
:mod:`monitor.decode.ais.rules` and are bit-identical to pyais 3.3 (same integer rounding of
lat/lon, ``raw / 10.0`` for speed and course).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from monitor.core.jit import F64, I64, U8, U16, U32, U64, Bool, kernel
from monitor.decode.ais import frames as af
from monitor.decode.ais.payload import Pieces, field, read_message, room, signed, valid_mmsi
from monitor.decode.ais.rules import MIN_BITS
from monitor.decode.codes import Reject
from monitor.schema import POSITIONS_SCHEMA

#: Rows of the kernel's float matrix and of its null matrix.
_FLOATS = ("lat", "lon", "sog_kn", "cog_deg")
_NULLS = ("lat", "sog_kn", "cog_deg", "heading_deg", "nav_status")
_LAT, _LON, _SOG, _COG = (_FLOATS.index(c) for c in ("lat", "lon", "sog_kn", "cog_deg"))
_LAT_NULL, _SOG_NULL, _COG_NULL, _HEADING_NULL, _STATUS_NULL = (
    _NULLS.index(c) for c in ("lat", "sog_kn", "cog_deg", "heading_deg", "nav_status")
)
_N_FLOATS, _N_NULLS = len(_FLOATS), len(_NULLS)

_MIN_CLASS_A, _MIN_18, _MIN_27 = MIN_BITS[1], MIN_BITS[18], MIN_BITS[27]
#: 48-bit words that hold every field the kernel reads (up to bit 137).
_POSITION_WORDS = 3


class _Decoded(NamedTuple):
    """The kernel's verdict on each message, and the columns of the position reports it
    accepted (their first ``n_accepted`` entries)."""

    reason: I64
    n_accepted: int
    mmsi: U32
    msg_type: U8
    keys: U64
    heading: U16
    status: U8
    #: Rows _FLOATS.
    floats: F64
    #: Rows _NULLS.
    nulls: Bool


@kernel
def _positions_kernel(
    buf: U8, s1: I64, l1: I64, s2: I64, l2: I64, fill: I64, words: int
) -> _Decoded:
    n = len(s1)
    bits = np.empty(words, np.int64)
    reason = np.zeros(n, np.int64)
    mmsi, msg_type, keys = np.empty(n, np.uint32), np.empty(n, np.uint8), np.empty(n, np.uint64)
    heading, status = np.empty(n, np.uint16), np.zeros(n, np.uint8)
    floats, nulls = np.empty((_N_FLOATS, n), np.float64), np.empty((_N_NULLS, n), np.bool_)
    k = 0
    for m in range(n):
        msg = read_message(buf, s1[m], l1[m], s2[m], l2[m], fill[m], bits, _POSITION_WORDS)
        t, mm = msg.msg_type, msg.mmsi
        if msg.bad:
            reason[m] = Reject.INVALID_FIELD
            continue
        if msg.n_bits < (_MIN_27 if t == 27 else _MIN_18 if t == 18 else _MIN_CLASS_A):
            reason[m] = Reject.TRUNCATED
            continue
        if not valid_mmsi(mm):
            reason[m] = Reject.INVALID_MMSI
            continue
        if t == 27:
            lon_raw, lat_raw = signed(bits, 44, 18), signed(bits, 62, 17)
            lat_na, lon_na = lat_raw == 91 * 600, lon_raw == 181 * 600
            # pyais: round(raw / 600, 6) computed exactly as ((10000 * raw + 3) // 6) / 1e6.
            lat, lon = (10_000 * lat_raw + 3) // 6 / 1e6, (10_000 * lon_raw + 3) // 6 / 1e6
            sog_raw, cog_raw = field(bits, 79, 6), field(bits, 85, 9)
            floats[_SOG, k], nulls[_SOG_NULL, k] = float(sog_raw), sog_raw == 63
            floats[_COG, k], nulls[_COG_NULL, k] = float(cog_raw), cog_raw >= 360
            hd, status[k], nulls[_STATUS_NULL, k] = 511, field(bits, 40, 4), False
        else:
            b = 4 if t == 18 else 0  # class B fields sit 4 bits earlier
            lon_raw, lat_raw = signed(bits, 61 - b, 28), signed(bits, 89 - b, 27)
            lat_na, lon_na = lat_raw == 91 * 600_000, lon_raw == 181 * 600_000
            # pyais: round(raw / 600000, 6) computed exactly as ((10 * raw + 3) // 6) / 1e6.
            lat, lon = (10 * lat_raw + 3) // 6 / 1e6, (10 * lon_raw + 3) // 6 / 1e6
            sog_raw, cog_raw = field(bits, 50 - b, 10), field(bits, 116 - b, 12)
            floats[_SOG, k], nulls[_SOG_NULL, k] = sog_raw / 10.0, sog_raw == 1023
            floats[_COG, k], nulls[_COG_NULL, k] = cog_raw / 10.0, cog_raw >= 3600
            hd = field(bits, 128 - b, 9)
            class_b = t == 18  # no navigational status
            status[k], nulls[_STATUS_NULL, k] = 0 if class_b else field(bits, 38, 4), class_b
        if (abs(lat) > 90.0 and not lat_na) or (abs(lon) > 180.0 and not lon_na):
            reason[m] = Reject.INVALID_POSITION
            continue
        mmsi[k], msg_type[k], keys[k], heading[k] = mm, t, msg.key, hd
        floats[_LAT, k], floats[_LON, k] = lat, lon
        nulls[_LAT_NULL, k], nulls[_HEADING_NULL, k] = lat_na or lon_na, hd >= 360
        k += 1
    return _Decoded(reason, k, mmsi, msg_type, keys, heading, status, floats, nulls)


def decode_positions(buf: U8, pieces: Pieces, fill: I64) -> tuple[dict[str, npt.NDArray[Any]], I64]:
    """Return the position columns of the accepted type 1/2/3/18/27 payloads and a Reject code
    per message.

    Columns (``msg_key`` included) hold the messages whose code is Reject.NONE, in order, as
    numpy arrays with null masks named ``<column>_null``.
    """
    buf, words = room(buf, pieces, _POSITION_WORDS)
    found = _positions_kernel(buf, pieces.s1, pieces.l1, pieces.s2, pieces.l2, fill, words)
    k = found.n_accepted
    cols: dict[str, npt.NDArray[Any]] = {
        "mmsi": found.mmsi[:k],
        "msg_type": found.msg_type[:k],
        "msg_key": found.keys[:k],
        "heading_deg": found.heading[:k],
        "nav_status": found.status[:k],
    }
    cols.update((name, found.floats[j, :k]) for j, name in enumerate(_FLOATS))
    cols.update((f"{name}_null", found.nulls[j, :k]) for j, name in enumerate(_NULLS))
    cols["lon_null"] = cols["lat_null"]
    return cols, found.reason


def positions_frame(
    cols: Mapping[str, npt.NDArray[Any]],
    time_us: I64,
    msg_key: U64,
    source: str,
    station: pa.Array | None = None,
) -> pl.DataFrame:
    """Return a POSITIONS_SCHEMA frame from :func:`decode_positions` columns and the receiver
    ``station`` of each (strings, null where unknown; all null if not given)."""
    arrays = {
        "timestamp_utc": af.timestamps(time_us),
        "msg_key": af.array(np.ascontiguousarray(msg_key, np.uint64)),
        "station": pa.nulls(len(time_us), pa.string()) if station is None else station,
    }
    for name in POSITIONS_SCHEMA.keys() - arrays.keys() - {"source"}:
        arrays[name] = af.array(cols[name], af.validity(cols.get(f"{name}_null")))
    return af.frame(POSITIONS_SCHEMA, arrays, source, len(time_us))
