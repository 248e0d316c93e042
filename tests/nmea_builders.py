"""Small builders of NMEA lines for the tests: checksums, tag blocks, position sentences."""

from __future__ import annotations

from functools import reduce
from typing import Any

from pyais import encode_dict

#: 2024-05-01 00:00:00 UTC.
EPOCH0 = 1_714_521_600


def xor(text: str) -> int:
    """Return the NMEA checksum of ``text`` (the XOR of its characters)."""
    return reduce(lambda a, c: a ^ ord(c), text, 0)


def checksummed(body: str, lead: str = "$") -> str:
    """Return the sentence ``body`` with its lead character and ``*hh`` checksum."""
    return f"{lead}{body}*{xor(body):02X}"


def tagged(sentence: str, epoch: int, receiver: str | None = None) -> str:
    """Return ``sentence`` behind an NMEA 4.0 tag block with ``c:epoch`` (and ``s:receiver``)."""
    body = f"c:{epoch}" if receiver is None else f"s:{receiver},c:{epoch}"
    return f"\\{body}*{xor(body):02X}\\{sentence}"


def position(mmsi: int, lat: float, lon: float, **fields: Any) -> str:
    """Return one !AIVDM type 1 sentence."""
    msg: dict[str, Any] = {"type": 1, "mmsi": mmsi, "lat": lat, "lon": lon, **fields}
    (sentence,) = encode_dict(msg, talker_id="AI", sentence_type="VDM")
    return str(sentence)
