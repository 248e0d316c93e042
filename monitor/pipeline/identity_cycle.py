"""The identity state of the detection: per-day summaries of the static reports, brought up to
date by reading only the days whose static reports changed since the last detection.

Static reports are stored by day. The state keeps the live files of each day folder as the last
detection saw them and, per day, summaries from which the identity events follow exactly
(:mod:`monitor.analyse.identities`): a day whose files differ (new parts, a compaction, rows
replaced by an earlier reception) is summarised again, the others are kept. Static files of a
store written before statics were split by day hold rows of any day: when they change,
everything is summarised again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl

from monitor.analyse.identities import (
    IDENTITY_DAYS_SCHEMA,
    IMO_DAYS_SCHEMA,
    SEEN_DAYS_SCHEMA,
    changes_of,
    identity_days,
    imo_days,
    imo_reuse_of,
    invalid_mmsis,
    seen_days,
)
from monitor.analyse.portcalls.identity import FIELD_DAYS_SCHEMA, field_days
from monitor.errors import StoreError
from monitor.pipeline.ledger import read_files
from monitor.schema import STATICS_SCHEMA
from monitor.store.fs import StorePath, scan_parquet, write_text
from monitor.store.fs import store_path as store_root
from monitor.store.parquet import Store
from monitor.store.table import Table

log = logging.getLogger(__name__)

_REMEDY = "delete it and run `monitor detect` again"
IDENTITY_DAYS = Table("calls/identity-days.parquet", IDENTITY_DAYS_SCHEMA, "identity days", _REMEDY)
IMO_DAYS = Table("calls/imo-days.parquet", IMO_DAYS_SCHEMA, "IMO days", _REMEDY)
SEEN_DAYS = Table("calls/statics-days.parquet", SEEN_DAYS_SCHEMA, "static report days", _REMEDY)
FIELD_DAYS = Table("calls/field-days.parquet", FIELD_DAYS_SCHEMA, "identity field days", _REMEDY)
_SUMMARIES: tuple[tuple[Table, Callable[[pl.DataFrame], pl.DataFrame]], ...] = (
    (IDENTITY_DAYS, identity_days),
    (IMO_DAYS, imo_days),
    (SEEN_DAYS, seen_days),
    (FIELD_DAYS, field_days),
)
_FILES = "calls/statics-files.json"
#: The key of the files of the statics folder itself (stores from before the split by day).
_UNSPLIT = "statics"


@dataclass
class StaticsState:
    """The per-day summaries of the static reports as they are now."""

    #: Live files per statics folder name, as now.
    files: dict[str, list[str]]
    #: The summaries, in the order of ``_SUMMARIES``.
    summaries: list[pl.DataFrame]
    #: Days summarised again (None: all of them).
    days_read: list[date] | None
    #: The summaries as the last detection left them (None: all summarised again).
    before: list[pl.DataFrame] | None
    #: Static reports read to bring the summaries up to date.
    n_read: int

    def identity_events(self, checkpoint: pl.DataFrame) -> list[pl.DataFrame]:
        """Return the identity_change, imo_reuse and invalid_mmsi events, the MMSIs seen in
        positions from ``checkpoint`` (mmsi, first_utc, last_utc)."""
        identity, imos, seen, _ = self.summaries
        statics_seen = seen.group_by("mmsi").agg(
            pl.col("first_utc").min(), pl.col("last_utc").max()
        )
        both = (
            pl.concat([checkpoint.select("mmsi", "first_utc", "last_utc"), statics_seen])
            .group_by("mmsi")
            .agg(pl.col("first_utc").min(), pl.col("last_utc").max())
        )
        return [changes_of(identity), imo_reuse_of(imos), invalid_mmsis(both)]


def _stored(store_path: StorePath) -> list[pl.DataFrame] | None:
    try:
        return [table.read(store_path) for table, _ in _SUMMARIES]
    except StoreError:
        return None


def update(store: Store, files: list[StorePath], *, full: bool) -> StaticsState:
    """Return the summaries of the static reports in ``files`` (the store's live statics files),
    reading only the days whose files changed since :func:`save`; ``full``: every day."""
    by_folder: dict[str, list[StorePath]] = {}
    for f in files:
        by_folder.setdefault(f.parent.name, []).append(f)
    now = {folder: sorted(f.name for f in found) for folder, found in by_folder.items()}
    before = None if full else read_files(store.root, _FILES)
    stored = None if before is None else _stored(store.root)
    if before is None or stored is None or before.get(_UNSPLIT) != now.get(_UNSPLIT):
        rows = scan(files).collect()
        summaries = [summarise(rows) for _, summarise in _SUMMARIES]
        log.info("detect: static reports summarised again, %d read", rows.height)
        return StaticsState(
            files=now, summaries=summaries, days_read=None, before=None, n_read=rows.height
        )
    touched = sorted(
        folder
        for folder in {*now, *before}
        if folder != _UNSPLIT and now.get(folder) != before.get(folder)
    )
    days = [date.fromisoformat(folder.removeprefix("date=")) for folder in touched]
    read = [f for folder in touched for f in by_folder.get(folder, [])]
    read += by_folder.get(_UNSPLIT, [])
    rows = scan(read).filter(pl.col("timestamp_utc").dt.date().is_in(days)).collect()
    summaries = [
        pl.concat([old.filter(~pl.col("day").is_in(days)), summarise(rows)]).sort("day")
        for old, (_, summarise) in zip(stored, _SUMMARIES, strict=True)
    ]
    log.info("detect: %d day(s) of static reports read again, %d read", len(days), rows.height)
    return StaticsState(
        files=now, summaries=summaries, days_read=days, before=stored, n_read=rows.height
    )


def scan(files: list[StorePath]) -> pl.LazyFrame:
    if not files:
        return pl.DataFrame(schema=STATICS_SCHEMA).lazy()
    return scan_parquet(files, schema=STATICS_SCHEMA, hive_partitioning=False)


def save(store_path: StorePath | str, state: StaticsState) -> None:
    """Write the summaries and the files they are of (each file atomically)."""
    for (table, _), frame in zip(_SUMMARIES, state.summaries, strict=True):
        table.write(store_path, frame)
    write_text(store_root(store_path) / _FILES, json.dumps(state.files, sort_keys=True))
