"""Display strings for report cells and popups (plain text: escaping is the renderer's job)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

DASH = "\u2013"


def when(value: datetime | None) -> str:
    """Return ``2024-05-03 14:05 UTC``, or a dash for None."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else DASH


def hours(value: float | None) -> str:
    """Return a duration in hours as ``12.5 h`` (days added past 48 h), or a dash."""
    if value is None:
        return DASH
    if value >= 48:
        return f"{value:.1f} h ({value / 24:.1f} d)"
    return f"{value:.1f} h"


def draught_change(arrival_m: float | None, departure_m: float | None) -> str:
    """Return ``+1.2 m (8.0 -> 9.2 m)``: a rise usually means the vessel loaded cargo."""
    if arrival_m is None or departure_m is None:
        if arrival_m is None and departure_m is None:
            return DASH
        known = arrival_m if arrival_m is not None else departure_m
        side = "arrival" if arrival_m is not None else "departure"
        return f"{known:.1f} m at {side} only"
    delta = departure_m - arrival_m
    return f"{delta:+.1f} m ({arrival_m:.1f} \u2192 {departure_m:.1f} m)"


def vessel_title(row: Mapping[str, Any]) -> str:
    """Return the vessel's name, or ``MMSI 123456789`` when AIS gave none."""
    name = (row.get("vessel_name") or "").strip()
    return name or f"MMSI {row['mmsi']}"


def text(value: object) -> str:
    """Return ``value`` as text, a dash for None or an empty string."""
    if value is None or value == "":
        return DASH
    return str(value)


def call_fields(row: Mapping[str, Any], names: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return the (label, value) lines of a port call's popup."""
    arrival = when(row["arrival_utc"])
    if row.get("arrival_observed") is False:
        arrival += " (already inside when first seen)"
    unknown = row.get("status") == "unknown"
    still_in = not unknown and (row.get("status") == "in_port" or row.get("departure_utc") is None)
    if unknown:
        departure = f"unknown: last seen in port {when(row.get('last_seen_utc'))}, not heard since"
    elif still_in:
        departure = "still in port"
    else:
        departure = when(row["departure_utc"])
        if row.get("departure_observed") is False:
            departure += " (last seen; exit not observed)"
    prev = row.get("prev_port_id")
    previous = DASH
    if prev:
        previous = names.get(prev, prev)
        if row.get("prev_departure_utc") is not None:
            previous += f", left {when(row['prev_departure_utc'])}"
    confidence = row.get("confidence")
    return [
        ("MMSI", str(row["mmsi"])),
        ("IMO", text(row.get("imo"))),
        ("Flag", text(row.get("flag"))),
        ("Type", text(row.get("ship_type"))),
        ("Port", names.get(row["port_id"], text(row.get("port_name")))),
        ("Arrival", arrival),
        ("Departure", departure),
        ("Duration", hours(row.get("duration_h")) + (" so far" if still_in else "")),
        ("Confidence", f"{confidence} / 4" if confidence is not None else DASH),
        (
            "Draught change",
            draught_change(row.get("arrival_draught_m"), row.get("departure_draught_m")),
        ),
        ("Previous port", previous),
    ]
