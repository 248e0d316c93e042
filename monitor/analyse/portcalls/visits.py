"""Port visits: per-visit aggregates of classified positions, and visits of one port merged.

A visit is one stay of a vessel in one port's zones (with exit hysteresis), as numbered by
:func:`monitor.analyse.portcalls.detect.classify`; :func:`merge_visits` joins consecutive visits of
a vessel to
the same port into one, so that a detached outer anchorage and the berth after it make one call.
"""

from __future__ import annotations

import polars as pl

US_PER_H = 3_600_000_000.0


def hours(us: pl.Expr) -> pl.Expr:
    """Return microseconds as hours, divided exactly row by row.

    polars divides a column of several rows by a literal through its reciprocal, so the last bit
    of a call's hours would depend on how many other calls are in the same frame.
    """
    return us.map_batches(
        lambda s: pl.Series(s.cast(pl.Float64).to_numpy() / US_PER_H), return_dtype=pl.Float64
    )


#: Positions are summed in billionths of a degree: integers, so that a visit's sum is the same
#: whichever part of it was summed first (a visit continued from a restart point).
E9 = 1e9


def degrees_e9(column: str) -> pl.Expr:
    """Return ``column`` (degrees) in billionths of a degree, as integers."""
    return (pl.col(column) * E9).round().cast(pl.Int64)


def visit_table(
    frame: pl.DataFrame,
    flags: pl.DataFrame,
    max_gap_h: float,
    before: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return one row per visit of ``frame`` (classified rows), sorted by track and arrival.

    ``flags`` holds, per visit, whether its entry, exit, a stop and a bridged silence were
    observed, and whether it follows a trip away from the port (``apart``). Times at anchor and
    at berth count the intervals to the next position, those over ``max_gap_h`` not.
    ``harbour`` is whether the vessel was seen inside the port polygon or a berth (not only in
    anchorages), ``at_rest`` whether it reported being at anchor or moored inside a zone while
    not making way. ``before`` holds, per visit that goes on from a restart point, its sums and
    flags over the positions before (:data:`monitor.schema.CALL_STATE_SCHEMA`, ``visit``).
    """
    max_gap_us = max_gap_h * US_PER_H
    # Visits are numbered by a running count over rows sorted by vessel and time, so the column is
    # sorted: polars then groups by slicing runs instead of hashing.
    in_port = (
        frame.select(
            "visit",
            "mmsi",
            "track",
            "port",
            "timestamp_utc",
            "inside",
            "lat",
            "lon",
            "kind",
            "last",
            "at_rest",
        )
        .filter(pl.col("visit").is_not_null())
        .with_columns(pl.col("visit").set_sorted())
    )
    interval = pl.when(pl.col("visit").shift(-1) == pl.col("visit")).then(
        (pl.col("timestamp_utc").shift(-1) - pl.col("timestamp_utc")).dt.total_microseconds()
    )
    counted = pl.when(pl.col("interval") <= max_gap_us).then(pl.col("interval")).otherwise(0)
    return (
        in_port.with_columns(interval=interval)
        .group_by("visit", maintain_order=True)
        .agg(
            mmsi=pl.col("mmsi").first(),
            track=pl.col("track").first(),
            port=pl.col("port").first(),
            arrival_utc=pl.col("timestamp_utc").first(),
            # The buffer only decides that the vessel has left; it left at its last fix inside.
            last_in_utc=pl.col("timestamp_utc").filter(pl.col("inside")).last(),
            last_seen_utc=pl.col("timestamp_utc").last(),
            n_positions=pl.len().cast(pl.UInt32),
            lat_e9=degrees_e9("lat").sum(),
            lon_e9=degrees_e9("lon").sum(),
            max_gap_us=pl.col("interval").max().fill_null(0),
            anchorage_us=counted.filter(pl.col("kind") == 2).sum(),
            berth_us=counted.filter(pl.col("kind") == 1).sum(),
            open=pl.col("last").last(),
            harbour=(pl.col("inside") & (pl.col("kind") != 2)).any(),
            at_rest=(pl.col("at_rest") & pl.col("inside")).any(),
        )
        .join(flags, on="visit", how="left")
        .with_columns(inside_us=(_part_end() - pl.col("arrival_utc")).dt.total_microseconds())
        .pipe(_continued, before)
        .sort("track", "arrival_utc")
    )


def _part_end() -> pl.Expr:
    """Return when a visit's part ends: its last position while open, else its last inside."""
    return pl.when(pl.col("open")).then(pl.col("last_seen_utc")).otherwise(pl.col("last_in_utc"))


def _continued(visits: pl.DataFrame, before: pl.DataFrame | None) -> pl.DataFrame:
    """Return ``visits`` with those that go on from a restart point summed with ``before``."""
    if before is None or before.is_empty():
        return visits
    joined = visits.join(before, on="visit", how="left", suffix="_b")
    has = pl.col("arrival_us").is_not_null()

    def add(name: str) -> pl.Expr:
        return pl.when(has).then(pl.col(name) + pl.col(f"{name}_b")).otherwise(pl.col(name))

    def either(name: str) -> pl.Expr:
        both = pl.col(name).fill_null(False) | pl.col(f"{name}_b")
        return pl.when(has).then(both).otherwise(pl.col(name))

    return joined.with_columns(
        arrival_utc=pl.when(has)
        .then(pl.col("arrival_us").cast(pl.Datetime("us", "UTC")))
        .otherwise(pl.col("arrival_utc")),
        inside_us=pl.when(has)
        .then(
            pl.col("inside_us")
            + (pl.col("arrival_utc").dt.epoch("us") - pl.col("part_arrival_us"))
            + pl.col("inside_us_b")
        )
        .otherwise(pl.col("inside_us")),
        n_positions=add("n_positions"),
        lat_e9=add("lat_e9"),
        lon_e9=add("lon_e9"),
        max_gap_us=pl.when(has)
        .then(pl.max_horizontal("max_gap_us", "max_gap_us_b"))
        .otherwise(pl.col("max_gap_us")),
        anchorage_us=add("anchorage_us"),
        berth_us=add("berth_us"),
        harbour=either("harbour"),
        at_rest=either("at_rest"),
        entry=pl.when(has).then(pl.col("entry_b")).otherwise(pl.col("entry")),
        stop=either("stop"),
        bridged=either("bridged"),
        apart=pl.when(has).then(pl.col("apart_b")).otherwise(pl.col("apart")),
    ).select(visits.columns)


def merge_visits(visits: pl.DataFrame, merge_gap_h: float) -> pl.DataFrame:
    """Return ``visits`` (sorted by track, arrival) with runs of visits to one port merged.

    Consecutive visits of a vessel (one track) to the same port (so no other port in between),
    each starting at most ``merge_gap_h`` after the previous one's last position inside and not
    after a trip away (``apart``, :mod:`monitor.analyse.portcalls.trips`), are one visit: an
    outer anchorage away from the port polygon and the berth after it are one call. ``visit``
    becomes the list of the merged visits; ``inside_us`` is the time spent inside the zones.
    """
    new = (
        (pl.col("track") != pl.col("track").shift(1))
        | (pl.col("port") != pl.col("port").shift(1))
        | (
            (pl.col("arrival_utc") - pl.col("last_in_utc").shift(1)).dt.total_microseconds()
            > merge_gap_h * US_PER_H
        )
        | pl.col("apart").fill_null(False)
    ).fill_null(True)
    return (
        visits.with_columns(__run=new.cum_sum())
        .group_by("__run", maintain_order=True)
        .agg(
            pl.col("visit"),
            pl.col("mmsi", "track", "port", "arrival_utc").first(),
            pl.col("last_in_utc", "last_seen_utc", "open").last(),
            n_positions=pl.col("n_positions").sum(),
            lat_e9=pl.col("lat_e9").sum(),
            lon_e9=pl.col("lon_e9").sum(),
            max_gap_us=pl.col("max_gap_us").max(),
            anchorage_us=pl.col("anchorage_us").sum(),
            berth_us=pl.col("berth_us").sum(),
            inside_us=pl.col("inside_us").sum(),
            entry=pl.col("entry").first().fill_null(False),
            exit=pl.col("exit").last().fill_null(False),
            stop=pl.col("stop").fill_null(False).any(),
            bridged=pl.col("bridged").fill_null(False).any(),
            harbour=pl.col("harbour").any(),
            at_rest=pl.col("at_rest").any(),
        )
        .drop("__run")
        # Divided column by column (exact), not by a literal (polars multiplies by its
        # reciprocal there: the last bit would depend on the other rows); n * E9 is exact.
        .with_columns(
            lat=pl.col("lat_e9").cast(pl.Float64) / (pl.col("n_positions").cast(pl.Float64) * E9),
            lon=pl.col("lon_e9").cast(pl.Float64) / (pl.col("n_positions").cast(pl.Float64) * E9),
        )
    )
