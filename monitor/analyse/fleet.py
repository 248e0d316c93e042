"""The vessels in the data: who they said they were, when and where they were seen, their calls.

Pure functions on frames: stored positions and static reports (LazyFrames, as the store gives
them) and port calls. A vessel is an MMSI; its names are every name its static reports carried,
in the order it first used them (a ship renamed, or an MMSI reused by another ship, shows here).
"""

from __future__ import annotations

import polars as pl

from monitor.analyse.vessels import flag_expr, ship_type_expr
from monitor.schema import UTC_US

#: One row per vessel, as :func:`vessel_table` returns it.
VESSELS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "vessel_name": pl.String(),
    "names": pl.List(pl.String()),
    "imo": pl.UInt32(),
    "callsign": pl.String(),
    "flag": pl.String(),
    "ship_type": pl.String(),
    "first_seen_utc": UTC_US,
    "last_seen_utc": UTC_US,
    "last_lat": pl.Float64(),
    "last_lon": pl.Float64(),
    "n_positions": pl.UInt32(),
    "n_calls": pl.UInt32(),
    "ports": pl.List(pl.String()),
}

#: Static-report fields whose changes make a vessel's identity history, with their labels.
IDENTITY_FIELDS: dict[str, str] = {
    "vessel_name": "name",
    "callsign": "call sign",
    "imo": "IMO",
    "ship_type": "ship type",
}

#: One row per change of an identity field, as :func:`identity_changes` returns it.
IDENTITY_CHANGES_SCHEMA: dict[str, pl.DataType] = {
    "timestamp_utc": UTC_US,
    "field": pl.String(),
    "previous": pl.String(),
    "value": pl.String(),
}


def _clean_text(name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars().replace("", None)


def vessel_table(
    positions: pl.LazyFrame, statics: pl.LazyFrame, calls: pl.DataFrame
) -> pl.DataFrame:
    """Return every vessel with positions or static reports (VESSELS_SCHEMA), sorted by name.

    ``vessel_name``, ``imo``, ``callsign`` and ``ship_type`` are the latest reported; ``names``
    every name used, oldest first; first and last seen cover positions and static reports;
    ``last_lat``/``last_lon`` is the newest position; ``ports`` the port ids of its calls, in
    the order of its first call at each.
    """
    seen = positions.group_by("mmsi").agg(
        first_pos=pl.col("timestamp_utc").min(),
        last_pos=pl.col("timestamp_utc").max(),
        n_positions=pl.len().cast(pl.UInt32),
        last_lat=pl.col("lat").sort_by("timestamp_utc").last(),
        last_lon=pl.col("lon").sort_by("timestamp_utc").last(),
    )
    identity = (
        statics.select(
            "mmsi",
            "timestamp_utc",
            "imo",
            "ship_type",
            vessel_name=_clean_text("vessel_name"),
            callsign=_clean_text("callsign"),
        )
        .sort("timestamp_utc")
        .group_by("mmsi")
        .agg(
            first_static=pl.col("timestamp_utc").min(),
            last_static=pl.col("timestamp_utc").max(),
            vessel_name=pl.col("vessel_name").drop_nulls().last(),
            names=pl.col("vessel_name").drop_nulls().unique(maintain_order=True),
            imo=pl.col("imo").drop_nulls().last(),
            callsign=pl.col("callsign").drop_nulls().last(),
            ship_code=pl.col("ship_type").drop_nulls().last(),
        )
    )
    visits = (
        calls.lazy()
        .sort("arrival_utc")
        .group_by("mmsi")
        .agg(
            n_calls=pl.len().cast(pl.UInt32),
            ports=pl.col("port_id").unique(maintain_order=True),
        )
    )
    table = (
        seen.join(identity, on="mmsi", how="full", coalesce=True)
        .join(visits, on="mmsi", how="left")
        .with_columns(
            first_seen_utc=pl.min_horizontal("first_pos", "first_static"),
            last_seen_utc=pl.max_horizontal("last_pos", "last_static"),
            flag=flag_expr(pl.col("mmsi")),
            ship_type=ship_type_expr(pl.col("ship_code")),
            n_positions=pl.col("n_positions").fill_null(0),
            n_calls=pl.col("n_calls").fill_null(0),
            names=pl.col("names").fill_null([]),
            ports=pl.col("ports").fill_null([]),
        )
        .collect()
    )
    return table.select([pl.col(name).cast(dtype) for name, dtype in VESSELS_SCHEMA.items()]).sort(
        pl.col("vessel_name").str.to_lowercase(), "mmsi", nulls_last=True
    )


def search_vessels(
    vessels: pl.DataFrame,
    *,
    name: str | None = None,
    mmsi: int | None = None,
    imo: int | None = None,
    port_id: str | None = None,
) -> pl.DataFrame:
    """Return the vessels that match every criterion given.

    ``name`` matches any name the vessel used, in any case, anywhere in it ("koryo" finds
    "KORYO WAVE" and "NEW KORYO"); ``port_id`` keeps vessels with a call at that port.
    """
    if name is not None:
        needle = name.strip().lower()
        vessels = vessels.filter(
            pl.col("names")
            .list.eval(pl.element().str.to_lowercase().str.contains(needle, literal=True))
            .list.any()
        )
    if mmsi is not None:
        vessels = vessels.filter(pl.col("mmsi") == mmsi)
    if imo is not None:
        vessels = vessels.filter(pl.col("imo") == imo)
    if port_id is not None:
        vessels = vessels.filter(pl.col("ports").list.contains(port_id))
    return vessels


def identity_changes(statics: pl.DataFrame) -> pl.DataFrame:
    """Return when each identity field of one vessel's static reports took a new value.

    The first value of a field is a change from nothing (``previous`` null). Reports that leave
    a field out (a 24A has only the name) change nothing.
    """
    frames = []
    ordered = statics.sort("timestamp_utc").with_columns(
        _clean_text("vessel_name"),
        _clean_text("callsign"),
        pl.col("imo").cast(pl.String),
        ship_type_expr(pl.col("ship_type")),
    )
    for column, label in IDENTITY_FIELDS.items():
        values = ordered.select("timestamp_utc", value=pl.col(column)).drop_nulls("value")
        values = values.with_columns(previous=pl.col("value").shift(1))
        changed = values.filter(
            pl.col("previous").is_null() | (pl.col("value") != pl.col("previous"))
        )
        frames.append(changed.with_columns(field=pl.lit(label)))
    if not frames:
        return pl.DataFrame(schema=IDENTITY_CHANGES_SCHEMA)
    return (
        pl.concat(frames)
        .select([pl.col(name).cast(dtype) for name, dtype in IDENTITY_CHANGES_SCHEMA.items()])
        .sort("timestamp_utc", "field")
    )
