"""Where vessels were when their identity events began: the positions nearest in time to each
event, read from the days that hold them only, and kept from one detection to the next.

The detection ledger (:mod:`monitor.pipeline.ledger`) knows each vessel's hours with positions,
so the nearest position before an event is in the last hour begun before it, the nearest after
in the first hour ending after it: only their days are read. A place found by the last detection
stays while its vessel's positions changed only later than the place is away from the event.
"""

from __future__ import annotations

import polars as pl

from monitor.schema import POSITIONS_SCHEMA
from monitor.store.fs import StorePath, scan_parquet
from monitor.store.table import Table

_PLACE_COLUMNS = ["mmsi", "timestamp_utc", "lat", "lon"]
PLACED_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "start_utc": pl.Datetime("us", "UTC"),
    **{c: POSITIONS_SCHEMA[c] for c in _PLACE_COLUMNS[1:]},
}
PLACED = Table(
    "events/placed.parquet", PLACED_SCHEMA, "event places", "delete it and run `monitor detect`"
)


def queries_of(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Return the vessels (mmsi) and times (start_utc) the events of ``parts`` are placed at."""
    found = [
        part.select(pl.col(column).alias("mmsi"), "start_utc")
        for part in parts
        for column in ("mmsi", "other_mmsi")
        if column in part.columns
    ]
    if not found:
        return pl.DataFrame(schema={"mmsi": pl.UInt32(), "start_utc": PLACED_SCHEMA["start_utc"]})
    return pl.concat(found).drop_nulls().unique().sort("mmsi", "start_utc")


def nearest_positions(
    files: list[StorePath],
    ledger: pl.DataFrame,
    queries: pl.DataFrame,
    placed: pl.DataFrame,
    changed: pl.DataFrame,
) -> pl.DataFrame:
    """Return, per query (mmsi, start_utc), the positions of ``files`` nearest in time to it (all
    of them at equal distance), as :data:`PLACED_SCHEMA` rows.

    ``ledger`` holds the vessels' hours with positions; ``placed`` the places found before and
    ``changed`` (mmsi, changed_utc) the vessels whose positions changed since, and from when.
    """
    away = pl.col("timestamp_utc") - pl.col("start_utc")
    still = (
        placed.join(queries, on=["mmsi", "start_utc"])
        .join(changed, on="mmsi", how="left")
        .with_columns(__away=away.abs().max().over("mmsi", "start_utc"))
        .filter(
            pl.col("changed_utc").is_null()
            | (pl.col("changed_utc") > pl.col("start_utc") + pl.col("__away"))
        )
        .select(list(PLACED_SCHEMA))
    )
    todo = queries.join(still, on=["mmsi", "start_utc"], how="anti")
    return pl.concat([still, _read_nearest(files, ledger, todo)]).sort(list(PLACED_SCHEMA))


def _read_nearest(
    files: list[StorePath], ledger: pl.DataFrame, queries: pl.DataFrame
) -> pl.DataFrame:
    """Return the positions nearest in time to each query, reading the days that hold them."""
    hours = queries.join(ledger.select("mmsi", "hour_utc", "first_utc", "last_utc"), on="mmsi")
    before = hours.filter(pl.col("first_utc") <= pl.col("start_utc"))
    before = before.group_by("mmsi", "start_utc").agg(pl.col("hour_utc").max())
    after = hours.filter(pl.col("last_utc") >= pl.col("start_utc"))
    after = after.group_by("mmsi", "start_utc").agg(pl.col("hour_utc").min())
    days = pl.concat([before, after])["hour_utc"].dt.date().unique().to_list()
    folders = {f"date={day.isoformat()}" for day in days}
    read = [f for f in files if f.parent.name in folders]
    if not read or queries.height == 0:
        return pl.DataFrame(schema=PLACED_SCHEMA)
    near = (
        scan_parquet(read, schema=POSITIONS_SCHEMA, hive_partitioning=False)
        .filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
        .select(_PLACE_COLUMNS)
        .join(queries.lazy(), on="mmsi")
        .with_columns(
            off_us=(pl.col("timestamp_utc") - pl.col("start_utc")).dt.total_microseconds().abs()
        )
        .collect()
    )
    best = near.filter(pl.col("off_us") == pl.col("off_us").min().over("mmsi", "start_utc"))
    return best.select(list(PLACED_SCHEMA)).unique()
