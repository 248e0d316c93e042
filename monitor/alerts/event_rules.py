"""Alert rules on events (pure): dark periods near a port, encounters and shared MMSIs.

An event alert has the call alert's keys (the call's own ones null) and ``event_id``,
``event_kind``, ``start_utc``, ``end_utc`` (null while it lasts), ``lat``, ``lon``,
``port_distance_km`` and, for encounters, ``other_mmsi`` and ``other_vessel_name``. Its
``alert_id`` hashes rule, kind and event id, which depends only on what the event is about and
when it began: a silence still going on and the same silence once it ended, or an encounter
that grows, give one alert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from monitor.analyse.vessels import flag_expr, ship_type_expr
from monitor.analyse.watchlist import Watchlist, mark_by_vessel
from monitor.config import AlertRule
from monitor.core import times
from monitor.schema import EventKind

#: The event kind each event rule alerts on.
_KIND = {
    "dark_near_port": EventKind.GAP.value,
    "encounter": EventKind.ENCOUNTER.value,
    "shared_mmsi": EventKind.SHARED_MMSI.value,
}
_IDENTITY = ("imo", "callsign", "vessel_name", "ship_type")
#: The keys of an alert that name its vessel, after its rule and time.
VESSEL_KEYS = ("mmsi", "imo", "vessel_name", "callsign", "flag", "ship_type")


def alert_id(rule: str, kind: str, subject: str) -> str:
    """Return the id of the alert of ``rule`` (of ``kind``) about ``subject``: a call id, or
    ``event:<event_id>`` for an event."""
    text = f"{rule}|{kind}|{subject}"
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def identities(statics: pl.DataFrame) -> pl.DataFrame:
    """Return one row per MMSI: the newest IMO, call sign, name and type it reported, and its
    flag (``mmsi, imo, callsign, vessel_name, ship_type, flag``)."""
    return (
        statics.select("mmsi", "timestamp_utc", *_IDENTITY)
        .with_columns(pl.col("vessel_name", "callsign").str.strip_chars().replace("", None))
        .sort("timestamp_utc")
        .group_by("mmsi")
        .agg(pl.col(*_IDENTITY).drop_nulls().last())
        .with_columns(ship_type=ship_type_expr(pl.col("ship_type")), flag=flag_expr(pl.col("mmsi")))
    )


def _chosen(
    events: pl.DataFrame,
    rule: AlertRule,
    statics: pl.DataFrame,
    watchlists: Mapping[Path, Watchlist],
) -> pl.DataFrame:
    """Return the events ``rule`` alerts on."""
    events = events.filter(pl.col("kind") == _KIND[rule.when])
    if rule.when == "dark_near_port":
        events = events.filter(
            (pl.col("details").str.json_path_match("$.cause") == "dark")
            & (pl.col("details").str.json_path_match("$.where") != "at_sea")
        )
    if rule.ports:
        events = events.filter(pl.col("port_id").is_in(rule.ports))
    if rule.watchlist is not None and events.height:
        marked = mark_by_vessel(events, statics, watchlists[rule.watchlist], ["mmsi", "other_mmsi"])
        events = marked.filter(pl.col("watch_match").is_not_null())
    return events


def iso_utc(value: dt.datetime | None) -> str | None:
    """Return ``value`` as an alert writes times (the one ISO 8601 UTC format), None for none."""
    return times.iso_utc(value) if value else None


def alert_head(
    rule: AlertRule, alert_id: str, event_utc: dt.datetime | None, row: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the keys every alert begins with: id, rule, kind, time and the vessel."""
    return {
        "alert_id": alert_id,
        "rule": rule.name,
        "when": rule.when,
        "event_utc": iso_utc(event_utc),
        **{key: row[key] for key in VESSEL_KEYS},
    }


def vessel_text(row: Mapping[str, Any], prefix: str = "") -> str:
    """Return how an alert names the vessel of ``row``: name (MMSI, IMO, flag)."""
    who = row[f"{prefix}vessel_name"] or "unnamed vessel"
    ids = [f"MMSI {row[f'{prefix}mmsi']}"]
    if row.get(f"{prefix}imo"):
        ids.append(f"IMO {row[f'{prefix}imo']}")
    if row.get(f"{prefix}flag"):
        ids.append(str(row[f"{prefix}flag"]))
    return f"{who} ({', '.join(ids)})"


def _text(rule: AlertRule, row: Mapping[str, Any], port: str | None) -> str:
    at = f"{row['start_utc']:%Y-%m-%d %H:%M} UTC"
    place = f"{row['lat']:.4f}, {row['lon']:.4f}"
    near = f" near {port}" if port else ""
    hours = f"{row['duration_h'] or 0.0:.1f} h"
    if rule.when == "dark_near_port":
        still = "still silent" if row["end_utc"] is None else "back"
        what = f"went dark{near} at {at} ({place}), {still} after {hours}"
    elif rule.when == "encounter":
        what = f"met {vessel_text(row, 'other_')} at {place}{near} from {at}, for {hours}"
    else:
        what = (
            f"is sent by two transmitters {row['distance_km'] or 0.0:.0f} km apart from {at} "
            f"({place}{near})"
        )
    return f"[{rule.name}] {vessel_text(row)} {what}"


def event_alerts(
    events: pl.DataFrame,
    rule: AlertRule,
    *,
    statics: pl.DataFrame,
    watchlists: Mapping[Path, Watchlist],
    port_names: Mapping[str, str],
    oldest: dt.datetime,
    report: str,
) -> list[dict[str, Any]]:
    """Return the alerts of event ``rule`` on ``events`` (load_events columns) begun at or after
    ``oldest``; ``statics`` are the stored static reports (for identity and the watchlist)."""
    chosen = _chosen(events, rule, statics, watchlists).filter(pl.col("start_utc") >= oldest)
    if chosen.height == 0:
        return []
    who = identities(statics)
    chosen = chosen.join(who, on="mmsi", how="left").join(
        who.rename(lambda c: f"other_{c}"), on="other_mmsi", how="left"
    )
    alerts: list[dict[str, Any]] = []
    for row in chosen.sort("start_utc", "event_id").iter_rows(named=True):
        port = port_names.get(row["port_id"], row["port_id"]) if row["port_id"] else None
        alerts.append(
            alert_head(
                rule,
                alert_id(rule.name, rule.when, f"event:{row['event_id']}"),
                row["start_utc"],
                row,
            )
            | {
                "port_id": row["port_id"],
                "port_name": port,
                "call_id": None,
                "arrival_utc": None,
                "departure_utc": None,
                "duration_h": None if row["duration_h"] is None else round(row["duration_h"], 2),
                "arrival_observed": None,
                "event_id": row["event_id"],
                "event_kind": row["kind"],
                "start_utc": iso_utc(row["start_utc"]),
                "end_utc": iso_utc(row["end_utc"]),
                "lat": row["lat"],
                "lon": row["lon"],
                "port_distance_km": row["port_distance_km"],
                "other_mmsi": row["other_mmsi"],
                "other_vessel_name": row["other_vessel_name"],
                "report": report,
                "text": _text(rule, row, port),
            }
        )
    return alerts
