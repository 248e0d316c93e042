"""What changed in the store since the last detection: read from the day partitions that changed.

The detection keeps a ledger of the positions it saw: per day partition, the names of its live
files, and per vessel and hour, the number of positions and a digest of their times, places and
speeds. A run lists the live files, reads only the days whose files differ (new parts, a
compaction, rows replaced by an earlier reception), and compares their hours with the ledger: a
vessel changed from the start of its first hour that differs. Days that are gone (retention)
change nothing: what was found in them stays.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date

import polars as pl

from monitor.store.fs import StorePath, scan_parquet, write_text
from monitor.store.fs import store_path as store_root
from monitor.store.table import Table

log = logging.getLogger(__name__)

LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "hour_utc": pl.Datetime("us", "UTC"),
    "n_positions": pl.UInt32(),
    "first_utc": pl.Datetime("us", "UTC"),
    "last_utc": pl.Datetime("us", "UTC"),
    "digest": pl.UInt64(),
}
LEDGER = Table(
    "calls/ledger.parquet",
    LEDGER_SCHEMA,
    "detection ledger",
    "delete it and run `monitor detect` again",
)
_FILES = "calls/ledger-files.json"
_KEY = ["mmsi", "hour_utc"]


@dataclass
class Changes:
    """The store's positions now, compared with the ledger."""

    #: The new ledger (LEDGER_SCHEMA).
    ledger: pl.DataFrame
    #: Live files per day folder name, as now.
    files: dict[str, list[str]]
    #: Vessels whose positions changed, and from when: mmsi, changed_utc.
    changed: pl.DataFrame
    #: Positions read to find out.
    n_read: int


def _hours(files: list[StorePath]) -> pl.DataFrame:
    """Return the ledger rows of the positions in ``files``."""
    if not files:
        return pl.DataFrame(schema=LEDGER_SCHEMA)
    row = pl.struct("timestamp_utc", "lat", "lon", "sog_kn").hash() & 0xFFFF_FFFF
    frame = (
        scan_parquet(files, hive_partitioning=False)
        .select("mmsi", "timestamp_utc", "lat", "lon", "sog_kn")
        .filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
        .group_by("mmsi", hour_utc=pl.col("timestamp_utc").dt.truncate("1h"))
        .agg(
            n_positions=pl.len(),
            first_utc=pl.col("timestamp_utc").min(),
            last_utc=pl.col("timestamp_utc").max(),
            digest=row.cast(pl.UInt64).sum(),
        )
        .collect()
    )
    return frame.select([pl.col(c).cast(t) for c, t in LEDGER_SCHEMA.items()])


def read_files(store_path: StorePath | str, name: str = _FILES) -> dict[str, list[str]] | None:
    """Return the live files per day folder kept in ``name`` (the ledger's by default), None
    when there is none or it cannot be read."""
    path = store_root(store_path) / name
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return files if isinstance(files, dict) else None


def changes(store_path: StorePath | str, files: list[StorePath], *, full: bool) -> Changes:
    """Return what changed in the store's ``files`` (its live position files) since the ledger
    was written; ``full``: everything (the ledger is read again from every file)."""
    by_day: dict[str, list[StorePath]] = {}
    for f in files:
        by_day.setdefault(f.parent.name, []).append(f)
    now = {day: sorted(f.name for f in day_files) for day, day_files in by_day.items()}
    before = None if full else read_files(store_path)
    old = pl.DataFrame(schema=LEDGER_SCHEMA) if before is None else LEDGER.read(store_path)
    before = before or {}
    touched = sorted(day for day, names in now.items() if before.get(day) != names)
    fresh = _hours([f for day in touched for f in by_day[day]])
    n_read = int(fresh["n_positions"].sum()) if fresh.height else 0
    days = pl.col("hour_utc").dt.date()
    touched_days = [date.fromisoformat(d.removeprefix("date=")) for d in touched]
    kept = old.filter(~days.is_in(touched_days))
    ledger = pl.concat([kept, fresh]).sort(_KEY)
    previous = old.filter(days.is_in(touched_days))
    differ = fresh.join(previous, on=_KEY, how="full", coalesce=True, suffix="_old").filter(
        pl.col("n_positions").is_null()
        | pl.col("n_positions_old").is_null()
        | (pl.col("n_positions") != pl.col("n_positions_old"))
        | (pl.col("digest") != pl.col("digest_old"))
        | (pl.col("first_utc") != pl.col("first_utc_old"))
        | (pl.col("last_utc") != pl.col("last_utc_old"))
    )
    changed = differ.group_by("mmsi").agg(changed_utc=pl.col("hour_utc").min()).sort("mmsi")
    # Vessels whose hours all went (retention) are not in ``now``: nothing to detect for them.
    log.info("detect: %d day(s) read again, %d vessel(s) changed", len(touched), changed.height)
    return Changes(ledger=ledger, files=now, changed=changed, n_read=n_read)


def days_of(hours: pl.DataFrame, vessels: pl.Series, since: date | None = None) -> set[str]:
    """Return the day folders (``date=YYYY-MM-DD``) in which the ledger's ``hours`` say the
    ``vessels`` have positions (from the day ``since`` on, if given): all that a detection of
    them over their whole history (from then on) reads."""
    days = hours.filter(pl.col("mmsi").is_in(vessels.implode()))["hour_utc"].dt.date().unique()
    return {f"date={day.isoformat()}" for day in days.to_list() if since is None or day >= since}


def save(store_path: StorePath | str, found: Changes) -> None:
    """Write the ledger (each file atomically)."""
    LEDGER.write(store_path, found.ledger)
    write_text(store_root(store_path) / _FILES, json.dumps(found.files, sort_keys=True))


def checkpoint(ledger: pl.DataFrame) -> pl.DataFrame:
    """Return per vessel its positions and their first and last time, from the ledger."""
    return (
        ledger.group_by("mmsi")
        .agg(
            n_positions=pl.col("n_positions").sum(),
            first_utc=pl.col("first_utc").min(),
            last_utc=pl.col("last_utc").max(),
        )
        .sort("mmsi")
    )
