"""Detection cycles over a store built by hand: parts of a feed stored one after another, a
detection after each, and the tables a detection leaves, to compare with one batch run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
from tracks_portcalls import IN_P, IN_Q, SEA_EAST, SEA_WEST, T0, Track

from monitor.config import Settings
from monitor.pipeline.detect import DetectSummary, detect_calls
from monitor.store.calls import JUMPS, PENDING, RAW_CALLS, TRACKS, TRANSITS, load_calls
from monitor.store.events import load_events
from monitor.store.table import atomic_write_parquet


def trader(mmsi: int, days: int) -> Track:
    """Return a ship sailing between the two ports for ``days`` days, hours in each."""
    track = Track(mmsi).fix(*SEA_WEST, 10)
    while track.t < T0 + timedelta(days=days):
        track.sail(IN_P, 2).stay(IN_P, 6, sog=0.1).sail(SEA_EAST, 2).sail(IN_Q, 2)
        track.stay(IN_Q, 5, sog=0.1).sail(SEA_EAST, 2).sail(SEA_WEST, 4)
    return track


def shuttle(mmsi: int, days: int) -> Track:
    """Return a ship going to and fro at sea for ``days`` days, five hours each way."""
    track = Track(mmsi).fix(-0.5, 0.3, 9)
    while track.t < T0 + timedelta(days=days):
        track.sail((0.5, 0.3), 5, sog=9).sail((-0.5, 0.3), 5, sog=9)
    return track


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
