"""Identity of port calls: name, IMO, call sign, type, flag, destination, draughts, previous call.

Joined from the static reports on every detection run, since a static report can arrive after
the positions of a call.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from monitor.analyse.vessels import flag_expr, ship_type_expr
from monitor.schema import CALLS_WITH_POSITION_SCHEMA, conform


def _latest(
    left: pl.DataFrame, statics: pl.DataFrame, at: str, fields: list[str], suffix: str
) -> pl.DataFrame:
    """Return ``left`` with each field's latest non-null value at or before ``left[at]``.

    Fields never reported before that time take the first value reported after it when
    ``suffix`` is empty (identity); draughts (non-empty suffix) stay null.
    """
    right = statics.select("mmsi", "timestamp_utc", *fields).rename(
        {"timestamp_utc": "__t", **{name: f"{name}{suffix}__b" for name in fields}}
    )
    keyed = left.with_row_index("__row").sort(at)
    joined = keyed.join_asof(
        right, left_on=at, right_on="__t", by="mmsi", strategy="backward", check_sortedness=False
    )
    if not suffix:
        ahead = statics.select("mmsi", "timestamp_utc", *fields).rename(
            {"timestamp_utc": "__t", **{name: f"{name}__f" for name in fields}}
        )
        # "Latest non-null" looking forward is the first non-null after: fill backwards.
        ahead = ahead.with_columns(
            pl.col(f"{name}__f").backward_fill().over("mmsi") for name in fields
        )
        joined = joined.join_asof(
            ahead.sort("__t"),
            left_on=at,
            right_on="__t",
            by="mmsi",
            strategy="forward",
            check_sortedness=False,
        )
        joined = joined.with_columns(
            pl.coalesce(f"{name}__b", f"{name}__f").alias(name) for name in fields
        )
    else:
        joined = joined.rename({f"{name}{suffix}__b": f"{name}{suffix}" for name in fields})
    return joined.sort("__row").drop(
        "__row", *(c for c in joined.columns if c.endswith(("__b", "__f", "__t", "_right")))
    )


def _names_during(calls: pl.DataFrame, statics: pl.DataFrame) -> pl.DataFrame:
    """Return call_id and every name reported from its arrival to its end, " / "-joined."""
    return (
        calls.select("call_id", "mmsi", "arrival_utc", "__end")
        .join(statics.select("mmsi", "timestamp_utc", "vessel_name"), on="mmsi")
        .filter(pl.col("timestamp_utc").is_between("arrival_utc", "__end"))
        .with_columns(pl.col("vessel_name").str.strip_chars().replace("", None))
        .drop_nulls("vessel_name")
        .sort("timestamp_utc")
        .group_by("call_id")
        .agg(__names=pl.col("vessel_name").unique(maintain_order=True).str.join(" / "))
    )


def enrich(
    raw_calls: pl.DataFrame,
    statics: pl.DataFrame,
    *,
    several_tracks: Collection[int] = (),
    shared: Collection[int] = (),
) -> pl.DataFrame:
    """Return calls with identity, draughts, destination and previous call (load_calls columns).

    Identity fields are the latest reported at or before the end of the call (departure, or last
    position for a call under way), else the first reported after; draughts are the latest at or
    before arrival and departure; the destination is the latest declared at or before arrival,
    else the first declared after. A static report cannot say which of several transmitters on
    one MMSI sent it: the calls of the MMSIs in ``several_tracks`` name every vessel reported
    during the call (``A / B``) rather than guess one. The previous call is the previous call of
    the same track. ``shared_mmsi`` marks the calls of the MMSIs in ``shared``.
    """
    identity = ["imo", "callsign", "vessel_name", "ship_type"]
    # Each static message carries only some fields (a 24A only the name): carry every field
    # forward so that a row holds the latest known value of each.
    known = (
        statics.select("mmsi", "timestamp_utc", *identity, "draught_m", "destination")
        .with_columns(
            pl.col("vessel_name", "callsign", "destination").str.strip_chars().replace("", None)
        )
        .sort("mmsi", "timestamp_utc")
        .with_columns(pl.col(*identity, "draught_m", "destination").forward_fill().over("mmsi"))
        .sort("timestamp_utc")
    )
    calls = raw_calls.with_columns(
        __end=pl.coalesce("departure_utc", "last_seen_utc"),
    )
    calls = _latest(calls, known, "__end", identity, "")
    calls = _latest(calls, known, "arrival_utc", ["destination"], "")
    calls = _latest(calls, known, "arrival_utc", ["draught_m"], "_arrival")
    calls = _latest(calls, known, "__end", ["draught_m"], "_departure")
    calls = (
        calls.sort("mmsi", "arrival_utc")
        .with_columns(
            ship_type=ship_type_expr(pl.col("ship_type")),
            flag=flag_expr(pl.col("mmsi")),
            arrival_draught_m=pl.col("draught_m_arrival"),
            departure_draught_m=pl.col("draught_m_departure"),
            prev_port_id=pl.col("port_id").shift(1).over("track_id"),
            prev_departure_utc=pl.col("departure_utc").shift(1).over("track_id"),
            shared_mmsi=pl.col("mmsi").is_in(list(shared)),
        )
        .sort("arrival_utc", "mmsi", "port_id")
    )
    ambiguous = calls.filter(pl.col("mmsi").is_in(list(several_tracks)))
    if ambiguous.height:
        calls = calls.join(_names_during(ambiguous, statics), on="call_id", how="left")
        calls = calls.with_columns(vessel_name=pl.coalesce("__names", "vessel_name"))
    return conform(calls, CALLS_WITH_POSITION_SCHEMA)
