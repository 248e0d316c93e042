"""Detection cycles over a store built by hand: parts of a feed stored one after another, a
detection after each, and the tables a detection leaves, to compare with one batch run."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from tracks_portcalls import T0

from monitor.config import Settings
from monitor.pipeline.detect import DetectSummary, detect_calls
from monitor.store.calls import JUMPS, PENDING, RAW_CALLS, TRACKS, TRANSITS, load_calls
from monitor.store.events import load_events
from monitor.store.table import atomic_write_parquet


def ingest_part(store: Path, part: pl.DataFrame, name: str) -> None:
    """Store ``part`` as one more file in each of its days, as an ingest does."""
    for (day,), rows in part.group_by(pl.col("timestamp_utc").dt.date(), maintain_order=True):
        atomic_write_parquet(rows, store / "positions" / f"date={day}" / f"{name}.parquet")


def by_hours(frame: pl.DataFrame, hours: int) -> list[pl.DataFrame]:
    """Return ``frame`` cut into parts of ``hours`` hours from T0, in the order they come."""
    slot = (pl.col("timestamp_utc") - T0).dt.total_hours() // hours
    return [p for _, p in frame.group_by(slot, maintain_order=True)]


def cycles(settings: Settings, parts: list[pl.DataFrame]) -> list[DetectSummary]:
    """Store each of ``parts`` and detect after each; return the detections' summaries."""
    store = Path(settings.store.path)
    summaries = []
    for i, part in enumerate(parts):
        ingest_part(store, part, f"part{i:03d}")
        summaries.append(detect_calls(settings))
    return summaries


def detected_tables(store: Path) -> dict[str, pl.DataFrame]:
    """Return the calls, events and the detection's own tables of ``store``."""
    found = {"calls": load_calls(store), "events": load_events(store)}
    for table in (RAW_CALLS, TRANSITS, PENDING, TRACKS, JUMPS):
        found[table.title] = table.read(store).sort(pl.all())
    return found
