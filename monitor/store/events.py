"""The events table of a store (``<store>/events/events.parquet``): what ``monitor detect`` found
worth an analyst's look, one row per event (:data:`monitor.schema.EVENTS_SCHEMA`).

Each detection run replaces the table whole. ``monitor events``, ``monitor export events``,
reports and :func:`load_events` read it.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from monitor.errors import ConfigError
from monitor.schema import EVENT_KINDS, EVENTS_SCHEMA, PORTS_NEAR_SCHEMA
from monitor.store.fs import StorePath
from monitor.store.table import Table

EVENTS = Table(
    "events/events.parquet", EVENTS_SCHEMA, "events", "delete it and run `monitor detect` again"
)
#: The nearest port of each point of the events that do not name one, so that a run measures
#: only the points new to it (:class:`monitor.analyse.events.PortsNear`).
PORTS_NEAR = Table(
    "events/ports-near.parquet",
    PORTS_NEAR_SCHEMA,
    "nearest ports of the events",
    "delete it and run `monitor detect` again",
)


def save_events(store_path: StorePath | str, events: pl.DataFrame) -> None:
    """Replace the store's events with ``events`` (atomically)."""
    EVENTS.write(store_path, events)


def load_events(store_path: StorePath | str) -> pl.DataFrame:
    """Return the stored events (EVENTS_SCHEMA), sorted by start, kind and MMSI."""
    return EVENTS.read(store_path).sort("start_utc", "kind", "mmsi", "event_id")


def filter_events(
    events: pl.DataFrame,
    *,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    port_id: str | None = None,
    mmsi: int | None = None,
) -> pl.DataFrame:
    """Return the events of ``kind``, lasting until ``since`` or later, begun before ``until``,
    near ``port_id``, of ``mmsi`` (as the vessel or the other vessel)."""
    if kind is not None:
        if kind not in EVENT_KINDS:
            raise ConfigError(f"unknown event kind {kind!r}; use one of {', '.join(EVENT_KINDS)}")
        events = events.filter(pl.col("kind") == kind)
    if since is not None:
        events = events.filter(pl.coalesce("end_utc", "start_utc") >= since)
    if until is not None:
        events = events.filter(pl.col("start_utc") < until)
    if port_id is not None:
        events = events.filter(pl.col("port_id") == port_id)
    if mmsi is not None:
        events = events.filter((pl.col("mmsi") == mmsi) | (pl.col("other_mmsi") == mmsi))
    return events
