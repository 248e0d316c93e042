"""Display strings for report cells and popups (plain text: escaping is the renderer's job)."""

from __future__ import annotations

import json
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
    mmsi = str(row["mmsi"])
    if row.get("shared_mmsi"):
        mmsi += " (shared: in two places at once, the call may be either ship's)"
    return [
        ("MMSI", mmsi),
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


#: How each kind of event is called on screen.
EVENT_TITLES: dict[str, str] = {
    "shared_mmsi": "Shared MMSI",
    "position_jump": "Position jump",
    "identity_change": "Identity change",
    "imo_reuse": "IMO reuse",
    "invalid_mmsi": "Invalid MMSI",
    "gap": "Dark period",
    "encounter": "Encounter",
    "loitering": "Loitering",
}


def _names(details: object) -> list[str]:
    try:
        parsed = json.loads(details) if isinstance(details, str) else {}
    except ValueError:
        return []
    names = parsed.get("names") if isinstance(parsed, dict) else None
    if isinstance(names, dict):
        return [str(n) for values in names.values() for n in values]
    return [str(n) for n in names] if isinstance(names, list) else []


def event_summary(row: Mapping[str, Any]) -> str:
    """Return one line saying what an event is about (plain text)."""
    kind = row.get("kind")
    distance = row.get("distance_km")
    far = f"{distance:.0f} km" if isinstance(distance, float) else DASH
    if kind == "shared_mmsi":
        names = _names(row.get("details"))
        line = f"two transmitters {far} apart"
        return line + (f"; names reported: {' / '.join(names)}" if names else "")
    if kind == "position_jump":
        n = row.get("n_positions") or 0
        if n == 1:
            return f"1 report {far} away"
        return f"{n} reports {far} away for {hours(row.get('duration_h'))}"
    if kind == "identity_change":
        return (
            f"{row.get('field')}: {text(row.get('old_value'))} \u2192 {text(row.get('new_value'))}"
        )
    if kind == "imo_reuse":
        return f"IMO {row.get('new_value')} also broadcast by MMSI {row.get('other_mmsi')}"
    if kind == "invalid_mmsi":
        return text(row.get("new_value"))
    if kind in ("gap", "encounter", "loitering"):
        return _behaviour_summary(row, _parsed(row.get("details")))
    return text(row.get("details"))


def _parsed(details: object) -> dict[str, Any]:
    try:
        parsed = json.loads(details) if isinstance(details, str) else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _behaviour_summary(row: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """Return the summary of a dark period, an encounter or a loitering."""
    kind = row.get("kind")
    span = hours(row.get("duration_h"))
    if kind == "gap":
        where = str(details.get("where") or "").replace("_", " ")
        cause = text(details.get("cause"))
        if details.get("open"):
            return f"{cause}: silent {span} to the end of the data, {where}"
        distance = row.get("distance_km")
        moved = f", back {distance:.0f} km away" if isinstance(distance, float) else ""
        return f"{cause}: silent {span}, {where}{moved}"
    if kind == "encounter":
        apart = details.get("median_distance_m")
        metres = f", {apart:.0f} m apart" if isinstance(apart, float | int) else ""
        dark = " (one of them dark meanwhile)" if details.get("partly_dark") else ""
        return f"with MMSI {row.get('other_mmsi')} for {span}{metres}{dark}"
    speed = details.get("median_speed_kn")
    knots = f" at {speed:.1f} kn" if isinstance(speed, float | int) else ""
    return f"slow{knots} for {span} outside ports"


def event_fields(row: Mapping[str, Any], names: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return the (label, value) lines of an event's popup."""
    port = row.get("port_id")
    near = DASH
    if port:
        near = f"{names.get(port, port)}, {row.get('port_distance_km') or 0.0:.1f} km"
    return [
        ("Event", EVENT_TITLES.get(str(row.get("kind")), text(row.get("kind")))),
        ("MMSI", str(row["mmsi"])),
        ("Track", text(row.get("track_id"))),
        ("Other MMSI", text(row.get("other_mmsi"))),
        ("Other track", text(row.get("other_track_id"))),
        ("Start", when(row.get("start_utc"))),
        ("End", when(row.get("end_utc"))),
        ("Near port", near),
        ("What", event_summary(row)),
    ]
