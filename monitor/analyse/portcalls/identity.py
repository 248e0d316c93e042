"""Identity of port calls: name, IMO, call sign, type, flag, destination, draughts, previous call.

Joined from the static reports on every detection run, since a static report can arrive after
the positions of a call.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from monitor.analyse.vessels import flag_expr, ship_type_expr
from monitor.schema import CALLS_WITH_POSITION_SCHEMA, STATICS_SCHEMA, conform


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


#: The columns of a call that its vessel's static reports give.
IDENTITY_COLUMNS = (
    "imo",
    "callsign",
    "vessel_name",
    "ship_type",
    "destination",
    "arrival_draught_m",
    "departure_draught_m",
)
#: Static report fields the call identities are taken from.
FIELDS = ("imo", "callsign", "vessel_name", "ship_type", "draught_m", "destination")
#: Fields a call takes from the first report after it when none came before.
FORWARD_FIELDS = ("imo", "callsign", "vessel_name", "ship_type", "destination")


def known_fields(statics: pl.DataFrame) -> pl.DataFrame:
    """Return mmsi, timestamp_utc and :data:`FIELDS` of ``statics``, blank texts as nulls."""
    return statics.select("mmsi", "timestamp_utc", *FIELDS).with_columns(
        pl.col("vessel_name", "callsign", "destination").str.strip_chars().replace("", None)
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
    found = call_identities(raw_calls, statics, several_tracks=several_tracks)
    return with_identities(raw_calls, found, shared=shared)


def call_identities(
    raw_calls: pl.DataFrame, statics: pl.DataFrame, *, several_tracks: Collection[int] = ()
) -> pl.DataFrame:
    """Return call_id and the :data:`IDENTITY_COLUMNS` of each call (see :func:`enrich`)."""
    identity = ["imo", "callsign", "vessel_name", "ship_type"]
    # Each static message carries only some fields (a 24A only the name): carry every field
    # forward so that a row holds the latest known value of each.
    known = (
        known_fields(statics)
        .sort("mmsi", "timestamp_utc")
        .with_columns(pl.col(*identity, "draught_m", "destination").forward_fill().over("mmsi"))
        .sort("timestamp_utc")
    )
    calls = raw_calls.select(
        "call_id", "mmsi", "arrival_utc", __end=pl.coalesce("departure_utc", "last_seen_utc")
    )
    calls = _latest(calls, known, "__end", identity, "")
    calls = _latest(calls, known, "arrival_utc", ["destination"], "")
    calls = _latest(calls, known, "arrival_utc", ["draught_m"], "_arrival")
    calls = _latest(calls, known, "__end", ["draught_m"], "_departure")
    calls = calls.with_columns(
        ship_type=ship_type_expr(pl.col("ship_type")),
        arrival_draught_m=pl.col("draught_m_arrival"),
        departure_draught_m=pl.col("draught_m_departure"),
    )
    ambiguous = calls.filter(pl.col("mmsi").is_in(list(several_tracks)))
    if ambiguous.height:
        calls = calls.join(_names_during(ambiguous, statics), on="call_id", how="left")
        calls = calls.with_columns(vessel_name=pl.coalesce("__names", "vessel_name"))
    return calls.select("call_id", *IDENTITY_COLUMNS)


def with_identities(
    raw_calls: pl.DataFrame, identities: pl.DataFrame, *, shared: Collection[int] = ()
) -> pl.DataFrame:
    """Return ``raw_calls`` with ``identities`` (from :func:`call_identities`), flag, previous
    call and shared_mmsi (load_calls columns)."""
    calls = (
        raw_calls.join(identities, on="call_id", how="left")
        .sort("mmsi", "arrival_utc")
        .with_columns(
            flag=flag_expr(pl.col("mmsi")),
            prev_port_id=pl.col("port_id").shift(1).over("track_id"),
            prev_departure_utc=pl.col("departure_utc").shift(1).over("track_id"),
            shared_mmsi=pl.col("mmsi").is_in(list(shared)),
        )
        .sort("arrival_utc", "mmsi", "port_id")
    )
    return conform(calls, CALLS_WITH_POSITION_SCHEMA)


def _field_days_schema() -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"mmsi": pl.UInt32(), "day": pl.Date()}
    for name in FIELDS:
        schema[f"{name}__first_utc"] = pl.Datetime("us", "UTC")
        schema[f"{name}__first"] = STATICS_SCHEMA[name]
        schema[f"{name}__last_utc"] = pl.Datetime("us", "UTC")
        schema[f"{name}__last"] = STATICS_SCHEMA[name]
    return schema


#: Per MMSI and day with static reports, each of :data:`FIELDS`: its first and last reported
#: value that day, and when. :func:`field_rows` stands for the reports of such days: what a
#: call takes from days before or after it is the last or first value of a day.
FIELD_DAYS_SCHEMA = _field_days_schema()


def field_days(statics: pl.DataFrame) -> pl.DataFrame:
    """Return the :data:`FIELD_DAYS_SCHEMA` summary of ``statics``."""
    aggs = []
    for name in FIELDS:
        reported = pl.col(name).is_not_null()
        time = pl.col("timestamp_utc").filter(reported)
        aggs += [
            time.first().alias(f"{name}__first_utc"),
            pl.col(name).filter(reported).first().alias(f"{name}__first"),
            time.last().alias(f"{name}__last_utc"),
            pl.col(name).filter(reported).last().alias(f"{name}__last"),
        ]
    return (
        known_fields(statics)
        .sort("mmsi", "timestamp_utc")
        .group_by("mmsi", day=pl.col("timestamp_utc").dt.date(), maintain_order=True)
        .agg(aggs)
        .select([pl.col(c).cast(t) for c, t in FIELD_DAYS_SCHEMA.items()])
    )


def field_rows(days: pl.DataFrame) -> pl.DataFrame:
    """Return static reports (mmsi, timestamp_utc, :data:`FIELDS`) that give every call outside
    the ``days`` (a :data:`FIELD_DAYS_SCHEMA` summary) what their reports give it."""
    parts = [
        days.select(
            "mmsi",
            timestamp_utc=pl.col(f"{name}__{end}_utc"),
            **{name: pl.col(f"{name}__{end}")},
        ).drop_nulls("timestamp_utc")
        for name in FIELDS
        for end in ("first", "last")
    ]
    # One row per time: rows of one time in several pieces would tie where a call looks back.
    return (
        pl.concat(parts, how="diagonal")
        .group_by("mmsi", "timestamp_utc")
        .agg(pl.col(name).drop_nulls().last() for name in FIELDS)
        .select(
            "mmsi",
            "timestamp_utc",
            *(pl.col(name).cast(STATICS_SCHEMA[name]) for name in FIELDS),
        )
    )
