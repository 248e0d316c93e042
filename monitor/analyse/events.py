"""Events: the rows of the events table, from tracks and identities, placed and near which port.

An event is one thing an analyst should look at: an MMSI in two places at once (shared_mmsi), a
run of displaced positions (position_jump), a changed identity (identity_change), one IMO under
two MMSIs (imo_reuse), an MMSI no ship should have (invalid_mmsi). Every kind is a row of
:data:`monitor.schema.EVENTS_SCHEMA`; kinds to come (dark periods, encounters, loitering) are
more rows of the same table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl

from monitor.analyse.geofences import Zone, nearest_port
from monitor.schema import EVENTS_SCHEMA, PORTS_NEAR_SCHEMA, EventKind, conform

_US_PER_H = 3_600_000_000.0
#: Static reports this long before or after the time two tracks were apart name the ships.
NAMES_MARGIN = timedelta(hours=6)


#: What an event's id is a hash of, with its start.
_ID_KEYS = ("kind", "mmsi", "track_id", "other_mmsi", "other_track_id", "field", "new_value")


def event_ids(events: pl.DataFrame) -> list[str]:
    """Return the id of each event: a hash of what it is about (stable across runs)."""
    start = pl.col("start_utc")
    iso = (
        pl.when(start.dt.microsecond() == 0)
        .then(start.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
        .otherwise(start.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00"))
    )
    parts = [pl.col(k).cast(pl.String).fill_null("") for k in _ID_KEYS]
    texts = events.select(pl.concat_str([*parts, iso.fill_null("")], separator="|"))
    return [
        hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
        for text in texts.to_series().to_list()
    ]


def shared_mmsi_events(concurrent: pl.DataFrame, statics: pl.DataFrame) -> pl.DataFrame:
    """Return a shared_mmsi per pair of concurrent tracks (:data:`CONCURRENT_SCHEMA` rows).

    ``details`` lists the names the MMSI reported around the time (a static report cannot say
    which transmitter sent it, so every name is given).
    """
    names = (
        concurrent.select("mmsi", "start_utc", "end_utc")
        .with_row_index("row")
        .join(statics.select("mmsi", "timestamp_utc", "vessel_name"), on="mmsi")
        .filter(
            pl.col("timestamp_utc").is_between(
                pl.col("start_utc") - NAMES_MARGIN, pl.col("end_utc") + NAMES_MARGIN
            )
        )
        .with_columns(pl.col("vessel_name").str.strip_chars().replace("", None))
        .drop_nulls("vessel_name")
        .sort("timestamp_utc")
        .group_by("row")
        .agg(pl.col("vessel_name").unique(maintain_order=True))
    )
    by_row = dict(names.iter_rows())
    details = [
        json.dumps({"names": list(by_row.get(i, []))}, ensure_ascii=False)
        for i in range(concurrent.height)
    ]
    return concurrent.with_columns(
        kind=pl.lit(EventKind.SHARED_MMSI.value),
        details=pl.Series(details, dtype=pl.String),
    )


def position_jump_events(jumps: pl.DataFrame) -> pl.DataFrame:
    """Return a position_jump per dropped run of displaced positions (:data:`JUMPS_SCHEMA`)."""
    return jumps.rename({"from_lat": "other_lat", "from_lon": "other_lon"}).with_columns(
        kind=pl.lit(EventKind.POSITION_JUMP.value)
    )


def _conform(part: pl.DataFrame) -> pl.DataFrame:
    missing = [
        pl.lit(None, dtype).alias(name)
        for name, dtype in EVENTS_SCHEMA.items()
        if name not in part.columns
    ]
    return conform(part.with_columns(missing), EVENTS_SCHEMA)


def _nearest(events: pl.DataFrame, positions: pl.DataFrame, by: str) -> pl.DataFrame:
    """Return lat and lon of the position of vessel ``by`` nearest in time to each event start."""
    # Positions at one time sorted by place too: which of them is taken must not depend on the
    # order they were read in.
    right = positions.select(
        pl.col("mmsi").alias(by), pl.col("timestamp_utc").alias("__t"), "lat", "lon"
    ).sort("__t", "lat", "lon")
    left = events.select("__row", by, "start_utc").sort("start_utc")
    found = left.join_asof(
        right,
        left_on="start_utc",
        right_on="__t",
        by=by,
        strategy="nearest",
        check_sortedness=False,
    ).sort("__row")
    return found.select("lat", "lon")


def _track_at(events: pl.DataFrame, tracks: pl.DataFrame) -> pl.Series:
    """Return the track of each event's MMSI heard at its start (the largest of those), else
    the one heard nearest to it."""
    candidates = (
        events.select("__row", "mmsi", "start_utc")
        .join(tracks.select("mmsi", "track_id", "first_utc", "last_utc", "n_positions"), on="mmsi")
        .with_columns(
            __off=pl.max_horizontal(
                (pl.col("first_utc") - pl.col("start_utc")).dt.total_microseconds(),
                (pl.col("start_utc") - pl.col("last_utc")).dt.total_microseconds(),
                pl.lit(0),
            )
        )
        .sort("__row", "__off", "n_positions", "track_id", descending=[False, False, True, False])
        .group_by("__row", maintain_order=True)
        .agg(pl.col("track_id").first())
    )
    placed = events.select("__row").join(candidates, on="__row", how="left").sort("__row")
    return placed["track_id"]


def locate(events: pl.DataFrame, positions: pl.DataFrame, tracks: pl.DataFrame) -> pl.DataFrame:
    """Return ``events`` with the vessels' positions and tracks filled in where missing.

    An event without a position takes its vessel's position nearest in time to its start (and
    its other vessel's, with the distance between them); without a track, the track heard then.
    """
    events = events.with_row_index("__row")
    unplaced = events.filter(pl.col("lat").is_null())
    if unplaced.height and positions.height:
        here = _nearest(unplaced, positions, "mmsi")
        unplaced = unplaced.with_columns(lat=here["lat"], lon=here["lon"])
        two = unplaced.filter(pl.col("other_mmsi").is_not_null())
        if two.height:
            there = _nearest(two, positions, "other_mmsi")
            two = two.with_columns(other_lat=there["lat"], other_lon=there["lon"])
            unplaced = pl.concat([unplaced.filter(pl.col("other_mmsi").is_null()), two])
        events = pl.concat([events.filter(pl.col("lat").is_not_null()), unplaced]).sort("__row")
    if tracks.height:
        events = events.with_columns(track_id=pl.coalesce("track_id", _track_at(events, tracks)))
    dlon = (pl.col("other_lon") - pl.col("lon") + 180.0) % 360.0 - 180.0
    coslat = ((pl.col("lat") + pl.col("other_lat")) * (np.pi / 360.0)).cos()
    apart_km = (dlon * coslat).pow(2).add((pl.col("other_lat") - pl.col("lat")).pow(2)).sqrt()
    return events.with_columns(distance_km=pl.coalesce("distance_km", apart_km * 111.19508)).drop(
        "__row"
    )


@dataclass
class PortsNear:
    """The nearest ports of the points of events found by an earlier run (``known``, None:
    none), and after :func:`events_table` those of this run's (``found``)."""

    known: pl.DataFrame | None = None
    found: pl.DataFrame | None = None


def near_ports(
    events: pl.DataFrame,
    zones: Sequence[Zone],
    radius_km: float,
    known: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return ``events`` with the nearest port within ``radius_km`` of each (0 km inside it),
    unless it names one already (a dark period: the port nearest to either of its ends), and
    where it found them (:data:`PORTS_NEAR_SCHEMA`). The points of ``known`` (found so with
    the same zones and radius) are taken from it, not measured again.

    A port is the union of its port, berth and anchorage zones; area zones are no port.
    """
    for column, dtype in (("port_id", pl.String), ("port_distance_km", pl.Float64)):
        if column not in events.columns:
            events = events.with_columns(pl.lit(None, dtype).alias(column))
    points = (
        events.filter(pl.col("port_id").is_null(), pl.col("lat").is_not_nan())
        .select("lat", "lon")
        .drop_nulls()
        .unique()
    )
    found = pl.DataFrame(schema=PORTS_NEAR_SCHEMA)
    if known is not None:
        found = known.join(points, on=["lat", "lon"])
        points = points.join(found, on=["lat", "lon"], how="anti")
    ports, km = nearest_port(
        zones, points["lat"].to_numpy(), points["lon"].to_numpy(), within_km=radius_km
    )
    within = km <= radius_km
    measured = points.with_columns(
        port_id=pl.Series([p if ok else None for p, ok in zip(ports, within, strict=True)]),
        port_distance_km=pl.Series(np.where(within, km, np.nan)).fill_nan(None),
    )
    found = pl.concat([found, measured.select(list(PORTS_NEAR_SCHEMA))])
    near = found.rename({"port_id": "__port", "port_distance_km": "__km"})
    events = events.join(near, on=["lat", "lon"], how="left", maintain_order="left")
    unnamed = pl.col("port_id").is_null()
    events = events.with_columns(
        port_id=pl.coalesce("port_id", pl.when(unnamed).then("__port")),
        port_distance_km=pl.coalesce("port_distance_km", pl.when(unnamed).then("__km")),
    )
    return events.drop("__port", "__km"), found


def events_table(
    parts: Sequence[pl.DataFrame],
    *,
    positions: pl.DataFrame,
    tracks: pl.DataFrame,
    zones: Sequence[Zone],
    port_radius_km: float,
    ports: PortsNear | None = None,
) -> pl.DataFrame:
    """Return the events of ``parts`` (each some columns of EVENTS_SCHEMA) as one table.

    Events are placed (:func:`locate`, from ``positions``: mmsi, timestamp_utc, lat, lon, and
    ``tracks``), given their nearest port (taken from ``ports`` where known, which keeps
    where it found them), duration and id, and sorted by start, kind and MMSI.
    """
    events = pl.concat([_conform(part) for part in parts]) if parts else _conform(pl.DataFrame())
    events = locate(events, positions, tracks)
    events, found = near_ports(
        events, zones, port_radius_km, None if ports is None else ports.known
    )
    if ports is not None:
        ports.found = found
    span_us = (pl.col("end_utc") - pl.col("start_utc")).dt.total_microseconds()
    events = events.with_columns(
        duration_h=pl.coalesce("duration_h", span_us.cast(pl.Float64) / _US_PER_H)
    )
    events = events.with_columns(event_id=pl.Series(event_ids(events), dtype=pl.String))
    return conform(events, EVENTS_SCHEMA).sort("start_utc", "kind", "mmsi", "event_id")
