"""Report tables: the calls of a period, where to put them on the map, per-port summaries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl
import shapely

from monitor.analyse.geofences import Zone
from monitor.schema import CALLS_SCHEMA

#: AIS ship type code ranges (ITU-R M.1371 table 53) grouped the way analysts read them.
SHIP_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("Cargo", "#1f77b4"),
    ("Tanker", "#d62728"),
    ("Passenger", "#9467bd"),
    ("Fishing", "#2ca02c"),
    ("Tug / service", "#ff7f0e"),
    ("High-speed", "#17becf"),
    ("Pleasure / sailing", "#e377c2"),
    ("Other", "#7f7f7f"),
    ("Unknown", "#bcbd22"),
)
CATEGORY_COLOURS = dict(SHIP_CATEGORIES)

ZONE_COLOURS: dict[str, str] = {
    "port": "#1565c0",
    "berth": "#2e7d32",
    "anchorage": "#ef6c00",
    "area": "#6a1b9a",
}


def ship_category(code: pl.Expr) -> pl.Expr:
    """Return an expression mapping an AIS ship type code to one of SHIP_CATEGORIES."""
    return (
        pl.when(code.is_null() | (code == 0))
        .then(pl.lit("Unknown"))
        .when(code.is_between(70, 79))
        .then(pl.lit("Cargo"))
        .when(code.is_between(80, 89))
        .then(pl.lit("Tanker"))
        .when(code.is_between(60, 69))
        .then(pl.lit("Passenger"))
        .when(code == 30)
        .then(pl.lit("Fishing"))
        .when(code.is_between(31, 32) | code.is_between(50, 59))
        .then(pl.lit("Tug / service"))
        .when(code.is_between(40, 49))
        .then(pl.lit("High-speed"))
        .when(code.is_between(36, 37))
        .then(pl.lit("Pleasure / sailing"))
        .otherwise(pl.lit("Other"))
    )


def category_of_label(label: pl.Expr) -> pl.Expr:
    """Return the SHIP_CATEGORIES name for a call's ``ship_type`` text (a code or a word)."""
    text = label.str.to_lowercase().str.strip_chars()
    code = text.cast(pl.Int64, strict=False)
    by_word = (
        pl.when(text.is_null() | (text == ""))
        .then(pl.lit("Unknown"))
        .when(text.str.contains("cargo|container|bulk|carrier"))
        .then(pl.lit("Cargo"))
        .when(text.str.contains("tanker"))
        .then(pl.lit("Tanker"))
        .when(text.str.contains("passenger|ferry"))
        .then(pl.lit("Passenger"))
        .when(text.str.contains("fish"))
        .then(pl.lit("Fishing"))
        .when(text.str.contains("tug|tow|pilot|service|dredg|search"))
        .then(pl.lit("Tug / service"))
        .when(text.str.contains("high"))
        .then(pl.lit("High-speed"))
        .when(text.str.contains("pleasure|sail|yacht"))
        .then(pl.lit("Pleasure / sailing"))
        .otherwise(pl.lit("Other"))
    )
    return pl.when(code.is_not_null()).then(ship_category(code)).otherwise(by_word)


def calls_in_window(
    calls: pl.DataFrame,
    since: datetime,
    until: datetime,
    data_end: datetime | None = None,
    max_unheard_h: float | None = None,
) -> pl.DataFrame:
    """Return the calls that overlap [since, until], with ``in_port_at_end`` and ``category``.

    A call lasts from arrival to departure. An open call (no departure) lasts while its vessel
    is heard: until ``data_end``, the newest message time (nothing is known after it, so a
    period entirely after the data has no calls), and no longer than ``max_unheard_h`` after
    the vessel's last position (a vessel unheard for longer is not known to be in port). A
    call is in port at the end of the period when it lasts up to ``until`` or beyond.
    """
    missing = [name for name in CALLS_SCHEMA if name not in calls.columns]
    if missing:
        raise ValueError(f"calls frame lacks columns {missing}")
    utc = pl.Datetime("us", "UTC")
    open_ends: list[pl.Expr] = []
    if data_end is not None:
        open_ends.append(pl.lit(data_end, dtype=utc))
    if max_unheard_h is not None:
        heard = pl.duration(microseconds=round(max_unheard_h * 3_600_000_000))
        open_ends.append(pl.col("last_seen_utc") + heard)
    open_end = pl.min_horizontal(open_ends) if open_ends else pl.lit(None, dtype=utc)
    end = pl.col("departure_utc").fill_null(open_end)
    frame = calls.filter((pl.col("arrival_utc") <= until) & (end.is_null() | (end >= since)))
    return frame.with_columns(
        in_port_at_end=pl.when(pl.col("departure_utc").is_null())
        .then(end.is_null() | (end >= until))
        .otherwise(pl.col("departure_utc") > until),
        category=category_of_label(pl.col("ship_type")),
    ).sort("arrival_utc", "call_id")


#: Marker colours of the events on the map, by kind.
EVENT_COLOURS: dict[str, str] = {
    "shared_mmsi": "#d81b60",
    "position_jump": "#8e24aa",
    "identity_change": "#f9a825",
    "imo_reuse": "#6d4c41",
    "invalid_mmsi": "#546e7a",
    "gap": "#212121",
    "encounter": "#ef6c00",
    "loitering": "#00897b",
}


def events_in_window(
    events: pl.DataFrame, identity: pl.DataFrame, since: datetime, until: datetime
) -> pl.DataFrame:
    """Return the events that overlap [since, until], sorted by start, with ``vessel_name``."""
    end = pl.coalesce("end_utc", "start_utc")
    inside = events.filter((pl.col("start_utc") <= until) & (end >= since))
    names = identity.select("mmsi", "vessel_name") if identity.height else None
    if names is None:
        return inside.with_columns(vessel_name=pl.lit(None, pl.String)).sort("start_utc")
    return inside.join(names, on="mmsi", how="left").sort("start_utc", "kind", "event_id")


def latest_identity(statics: pl.DataFrame) -> pl.DataFrame:
    """Return one row per MMSI: newest non-null vessel_name, ship category and IMO."""
    if statics.is_empty():
        return pl.DataFrame(
            schema={"mmsi": pl.UInt32(), "vessel_name": pl.String(), "category": pl.String()}
        )
    return (
        statics.sort("timestamp_utc")
        .group_by("mmsi")
        .agg(
            vessel_name=pl.col("vessel_name").drop_nulls().last(),
            ship_type=pl.col("ship_type").drop_nulls().last(),
        )
        .select("mmsi", "vessel_name", category=ship_category(pl.col("ship_type")))
    )


def zone_centres(zones: Sequence[Zone]) -> pl.DataFrame:
    """Return port_id, lat, lon: the centre of each port's zones (port zones first)."""
    rows: dict[str, tuple[float, float]] = {}
    for zone in sorted(zones, key=lambda z: z.kind != "port"):
        if zone.port_id not in rows:
            point = shapely.point_on_surface(zone.geometry)
            rows[zone.port_id] = (point.y, point.x)
    return pl.DataFrame(
        {
            "port_id": list(rows),
            "zone_lat": [v[0] for v in rows.values()],
            "zone_lon": [v[1] for v in rows.values()],
        },
        schema={"port_id": pl.String(), "zone_lat": pl.Float64(), "zone_lon": pl.Float64()},
    )


def place_calls(
    calls: pl.DataFrame, positions: pl.DataFrame, zones: Sequence[Zone], until: datetime
) -> pl.DataFrame:
    """Return ``calls`` with ``lat``/``lon`` for the map marker (null when nothing places it).

    A call without its own coordinates goes at the mean of the vessel's positions inside the
    call, else at the centre of its port's zones.
    """
    if {"lat", "lon"} <= set(calls.columns):
        placed = calls
    else:
        inside = (
            calls.select("call_id", "mmsi", "arrival_utc", "departure_utc")
            .join(positions.select("mmsi", "timestamp_utc", "lat", "lon"), on="mmsi")
            .filter(
                (pl.col("timestamp_utc") >= pl.col("arrival_utc"))
                & (pl.col("timestamp_utc") <= pl.col("departure_utc").fill_null(until))
            )
            .group_by("call_id")
            .agg(pl.col("lat").mean(), pl.col("lon").mean())
        )
        placed = calls.join(inside, on="call_id", how="left")
    return (
        placed.join(zone_centres(zones), on="port_id", how="left")
        .with_columns(
            lat=pl.col("lat").fill_null(pl.col("zone_lat")),
            lon=pl.col("lon").fill_null(pl.col("zone_lon")),
        )
        .drop("zone_lat", "zone_lon")
    )


def port_names(zones: Sequence[Zone], calls: pl.DataFrame) -> dict[str, str]:
    """Return port_id -> display name, from the port zones and then from the calls."""
    names = {z.port_id: z.name for z in zones if z.kind == "port"}
    for zone in zones:
        names.setdefault(zone.port_id, zone.port_id)
    for port_id, name in calls.select("port_id", "port_name").unique().iter_rows():
        if port_id is not None and port_id not in names:
            names[port_id] = name or port_id
    return names


def port_summary(calls: pl.DataFrame, names: dict[str, str]) -> pl.DataFrame:
    """Return per port: calls, distinct vessels, median stay of completed calls, in port at the
    end, arrivals not observed (the vessel was already inside when data began or after a gap)."""
    ports = pl.DataFrame(
        {"port_id": list(names), "port_name": list(names.values())},
        schema={"port_id": pl.String(), "port_name": pl.String()},
    )
    stats = calls.group_by("port_id").agg(
        calls=pl.len().cast(pl.UInt32),
        vessels=pl.col("mmsi").n_unique().cast(pl.UInt32),
        median_stay_h=pl.col("duration_h").filter(pl.col("status") == "departed").median(),
        in_port_now=pl.col("in_port_at_end").sum().cast(pl.UInt32),
        arrivals_not_observed=(~pl.col("arrival_observed").fill_null(False)).sum().cast(pl.UInt32),
    )
    counts = ["calls", "vessels", "in_port_now", "arrivals_not_observed"]
    return (
        ports.join(stats, on="port_id", how="left")
        .with_columns(pl.col(counts).fill_null(0))
        .sort(["calls", "port_name"], descending=[True, False])
    )


def arrivals_per_day(
    calls: pl.DataFrame, names: dict[str, str], since: datetime, until: datetime
) -> pl.DataFrame:
    """Return day (UTC date), port_name, arrivals: arrivals inside the period by day and port."""
    last_day = (until - timedelta(microseconds=1)).date()
    days = pl.date_range(since.date(), max(last_day, since.date()), "1d", eager=True).alias("day")
    arrived = (
        calls.filter(pl.col("arrival_utc").is_between(since, until))
        .with_columns(
            day=pl.col("arrival_utc").dt.date(),
            port_name=pl.col("port_id").replace_strict(names, default=pl.col("port_name")),
        )
        .group_by("day", "port_name")
        .agg(arrivals=pl.len().cast(pl.UInt32))
    )
    return (
        days.to_frame()
        .join(arrived, on="day", how="left")
        .with_columns(pl.col("arrivals").fill_null(0))
        .sort("day", "port_name")
    )
