"""Incremental detection's bookkeeping: which data files are new, and where a vessel's detection
may start again.

**New files.** The store's data files are written once and never changed; a compaction merges
files into a new one and leaves a journal naming them. Comparing the live files with those a
run had seen therefore gives exactly the rows stored since, without reading anything else.

**Restart points.** The detector's verdict on a fix depends on its neighbours: the outlier test
on the raw fix before and after it, an implied speed on up to three kept fixes each way, the port
state (exit hysteresis) and the stop state on earlier fixes until a fix that settles them, and
visit merging on the last fix inside a port. A fix ``b`` resets all of that when it is outside
every zone grown by ``exit_buffer_m`` (the port state settles to "at sea"), its speed is outside
the band between ``stop_speed_kn`` and ``move_speed_kn`` (the stop state settles), and the last
fix in or near a port is at least ``merge_gap_h`` before it (no later visit merges with an
earlier one). Then every visit before ``b`` is final, and detection over the fixes from four kept
fixes before ``b`` on gives every later visit exactly as one run over all the data would, as
long as the fixes up to four kept fixes after ``b`` (which its speed and the outlier tests around
it read) are unchanged, that is, no new fix is at or before ``valid_after_utc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from monitor.analyse.geofences import Zone, zones_for_points
from monitor.analyse.positions import prepare_positions
from monitor.config import DetectSettings
from monitor.schema import CALLS_RESTARTS_SCHEMA, empty_frame
from monitor.store.parquet import compactions, live_files

#: Kept fixes a restart point needs before it (the first fix a re-run reads may be judged
#: differently from one run over everything; the three after it must not be) and after it.
FIXES_BEFORE = 5
FIXES_AFTER = 4
#: Restart points kept per vessel, one per hour: positions up to a day late still restart from
#: a point instead of the vessel's whole history.
POINTS_KEPT = 24


def new_files(
    root: Path, folders: Sequence[Path], seen: set[str]
) -> tuple[list[Path], set[str]] | None:
    """Return the files holding the rows written since the listing ``seen`` (names relative to
    ``root``), and the live files now; None when files went away otherwise than by a compaction
    in sight (then nothing can be told, and everything is counted again)."""
    live: set[str] = set()
    reached: set[str] = set()
    found: list[Path] = []
    for folder in folders:
        plans = compactions(folder)

        def resolve(path: Path, plans: dict[str, list[str]] = plans, folder: Path = folder) -> bool:
            name = path.relative_to(root).as_posix()
            reached.add(name)
            if name in seen:
                return True
            inputs = plans.get(path.name)
            if inputs is None:
                if not path.is_file():
                    return False
                found.append(path)
                return True
            # A compaction's output holds its inputs' rows: read only the inputs not seen yet
            # (they stay on disk for a grace period after the compaction).
            return all(resolve(folder / input_name) for input_name in inputs)

        for path in live_files(folder):
            live.add(path.relative_to(root).as_posix())
            if not resolve(path):
                return None
    if seen - reached:
        return None
    return found, live


_CHANGES_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "n_new": pl.UInt32(),
    "first_new_utc": pl.Datetime("us", "UTC"),
    "last_new_utc": pl.Datetime("us", "UTC"),
}


def position_changes(files: Sequence[Path]) -> pl.DataFrame:
    """Return, per vessel, the count and the first and last time of the positions in ``files``."""
    if not files:
        return empty_frame(_CHANGES_SCHEMA)
    changes = (
        pl.scan_parquet(list(files))
        .filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
        .group_by("mmsi")
        .agg(
            n_new=pl.len(),
            first_new_utc=pl.col("timestamp_utc").min(),
            last_new_utc=pl.col("timestamp_utc").max(),
        )
        .collect()
    )
    return changes.select([pl.col(c).cast(t) for c, t in _CHANGES_SCHEMA.items()])


def restart_points(
    positions: pl.DataFrame,
    zones: Sequence[Zone],
    settings: DetectSettings,
    not_before: pl.DataFrame,
) -> pl.DataFrame:
    """Return the restart points of the vessels of ``positions`` (CALLS_RESTARTS_SCHEMA): the
    last of each hour, the latest ``POINTS_KEPT`` of each vessel.

    ``positions`` holds each vessel's fixes from some time on (its whole history, or a window
    that began four kept fixes before an earlier restart point); ``not_before`` (``mmsi``,
    ``restart_utc``) gives those earlier points, before which fixes near a port may be unseen,
    so no point is taken before them. Vessels without a point are left out.
    """
    prepared, _ = prepare_positions(positions, settings)
    if prepared.height == 0:
        return empty_frame(CALLS_RESTARTS_SCHEMA)
    near = zones_for_points(
        zones, prepared["lon"].to_numpy(), prepared["lat"].to_numpy(), settings.exit_buffer_m
    )
    merge_us = int(settings.merge_gap_h * 3_600_000_000)
    time = pl.col("timestamp_utc")
    speed = pl.col("speed_kn")
    candidates = (
        prepared.select("mmsi", "timestamp_utc", "speed_kn")
        .with_columns(near=pl.Series(near >= 0))
        .with_columns(
            index=pl.int_range(pl.len()).over("mmsi"),
            count=pl.len().over("mmsi"),
            window_utc=time.shift(FIXES_BEFORE - 1).over("mmsi"),
            valid_after_utc=time.shift(-FIXES_AFTER).over("mmsi"),
            last_near_utc=pl.when("near").then(time).forward_fill().shift(1).over("mmsi"),
        )
        .filter(
            ~pl.col("near")
            & (pl.col("index") >= FIXES_BEFORE)
            & (pl.col("index") < pl.col("count") - FIXES_AFTER)
            & speed.is_not_null()
            & ~speed.is_nan()
            & ((speed < settings.stop_speed_kn) | (speed > settings.move_speed_kn))
            & (
                pl.col("last_near_utc").is_null()
                | ((time - pl.col("last_near_utc")).dt.total_microseconds() >= merge_us)
            )
        )
        .join(not_before.select("mmsi", old=pl.col("restart_utc")), on="mmsi", how="left")
        .filter(pl.col("old").is_null() | (time >= pl.col("old")))
    )
    # The last point of each hour, the latest POINTS_KEPT hours: positions that arrive late
    # restart from the latest point before them instead of the vessel's whole history.
    points = (
        candidates.sort("mmsi", "timestamp_utc")
        .group_by(
            "mmsi", pl.col("timestamp_utc").dt.truncate("1h").alias("hour"), maintain_order=True
        )
        .last()
        .rename({"timestamp_utc": "restart_utc"})
    )
    return latest_points(points.select(list(CALLS_RESTARTS_SCHEMA)))


def latest_points(points: pl.DataFrame) -> pl.DataFrame:
    """Return the latest ``POINTS_KEPT`` restart points of each vessel, sorted."""
    return (
        points.sort("mmsi", "restart_utc")
        .group_by("mmsi", maintain_order=True)
        .tail(POINTS_KEPT)
        .select([pl.col(c).cast(t) for c, t in CALLS_RESTARTS_SCHEMA.items()])
    )
