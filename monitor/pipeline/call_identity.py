"""Identities of the calls of a detection run, and the static reports events need, read from the
days that matter only.

A call keeps the identity the last detection gave it unless it changed (new, or its arrival or
end moved), its vessel's number of transmitters changed (names of all of them, or one), or its
vessel's static reports changed on a day the call depends on: on or before the day it ended, or
for a field its vessel never reported before that day (taken from the first report after). The
others are enriched again from their vessel's reports of the days of the calls, and the first
and last value of each field on every other day (``field_rows``), which give them what all the
reports would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from datetime import date, timedelta

import polars as pl

from monitor.analyse.events import NAMES_MARGIN, shared_mmsi_events
from monitor.analyse.portcalls.identity import (
    FIELDS,
    FORWARD_FIELDS,
    IDENTITY_COLUMNS,
    call_identities,
    enrich,
    field_rows,
    with_identities,
)
from monitor.pipeline import identity_cycle
from monitor.schema import STATICS_SCHEMA, EventKind
from monitor.store.fs import StorePath
from monitor.store.parquet import Store

log = logging.getLogger(__name__)


_PAIR = ["mmsi", "track_id", "other_track_id", "start_utc", "end_utc"]


def shared_events(
    store: Store,
    files: list[StorePath],
    state: identity_cycle.StaticsState,
    concurrent: pl.DataFrame,
    stored_events: pl.DataFrame | None,
) -> pl.DataFrame:
    """Return the shared_mmsi events of ``concurrent`` tracks as :func:`shared_mmsi_events` does
    with every static report: those of ``stored_events`` (the last detection's) stay when their
    vessel's reports did not change on the days around them, and when only their end moved
    later, the names reported since are added; the others read the days around them."""
    if state.before is None or stored_events is None:
        return _shared_found(store, files, concurrent)
    pair = _PAIR[:-1]
    before = stored_events.filter(pl.col("kind") == EventKind.SHARED_MMSI.value)
    before = before.select(*pair, end_before="end_utc", details_before="details")
    before = before.unique(subset=pair, keep="first")
    seen = pl.concat([state.summaries[2], state.before[2]]).select("mmsi", "day")
    touched = seen.filter(pl.col("day").is_in(state.days_read or [])).unique()
    rows = concurrent.join(before, on=pair, how="left").with_row_index("__row")
    stale = (
        rows.join(touched, on="mmsi")
        .filter(
            pl.col("day").is_between(
                (pl.col("start_utc") - NAMES_MARGIN).dt.date(),
                (pl.col("end_utc") + NAMES_MARGIN).dt.date(),
            )
        )["__row"]
        .unique()
    )
    usable = pl.col("end_before").is_not_null() & (pl.col("end_before") <= pl.col("end_utc"))
    kept = rows.filter(usable & ~pl.col("__row").is_in(stale.implode()))
    again = rows.join(kept.select("__row"), on="__row", how="anti").drop(
        "__row", "end_before", "details_before"
    )
    # The names reported after the window the stored names are of: a window that begins just
    # after it (shared_mmsi_events widens each pair by the margin both ways).
    later = kept.filter(pl.col("end_before") < pl.col("end_utc")).with_columns(
        start_utc=pl.col("end_before") + 2 * NAMES_MARGIN + timedelta(microseconds=1)
    )
    added = dict(
        zip(
            later["__row"].to_list(),
            _shared_found(store, files, later.drop("__row", "end_before", "details_before"))[
                "details"
            ].to_list(),
            strict=True,
        )
    )
    details = [
        _joined(old, added.get(row))
        for row, old in kept.select("__row", "details_before").iter_rows()
    ]
    kept = kept.drop("__row", "end_before", "details_before").with_columns(
        kind=pl.lit(EventKind.SHARED_MMSI.value), details=pl.Series(details, dtype=pl.String)
    )
    log.info("detect: %d shared_mmsi event(s) kept, %d found again", kept.height, again.height)
    return pl.concat([kept, _shared_found(store, files, again)], how="diagonal")


def _joined(details: str, more: str | None) -> str:
    """Return the shared_mmsi ``details`` with the names of ``more`` it lacks, after its own."""
    if more is None:
        return details
    names: list[str] = json.loads(details)["names"]
    names += [name for name in json.loads(more)["names"] if name not in names]
    return json.dumps({"names": names}, ensure_ascii=False)


def _shared_found(store: Store, files: list[StorePath], concurrent: pl.DataFrame) -> pl.DataFrame:
    """Return the shared_mmsi events of ``concurrent``, reading the days around them."""
    windows = concurrent.select(
        "mmsi",
        from_utc=pl.col("start_utc") - NAMES_MARGIN,
        to_utc=pl.col("end_utc") + NAMES_MARGIN,
    )
    return shared_mmsi_events(concurrent, statics_within(store, files, windows))


def statics_within(store: Store, files: list[StorePath], windows: pl.DataFrame) -> pl.DataFrame:
    """Return the static reports (STATICS_SCHEMA) of ``files`` of each vessel within its
    ``windows`` (mmsi, from_utc, to_utc), reading only the days those windows cover."""
    if windows.height == 0:
        return pl.DataFrame(schema=STATICS_SCHEMA)
    spans = windows.select(
        "mmsi", first=pl.col("from_utc").dt.date(), last=pl.col("to_utc").dt.date()
    )
    days: set[date] = set()
    for first, last in spans.select("first", "last").unique().iter_rows():
        day = first
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    folders = {f"date={day.isoformat()}" for day in days}
    read = [f for f in files if f.parent.name in folders or f.parent.name == "statics"]
    rows = (
        identity_cycle.scan(read)
        .join(windows.lazy(), on="mmsi")
        .filter(pl.col("timestamp_utc").is_between(pl.col("from_utc"), pl.col("to_utc")))
        .drop("from_utc", "to_utc")
        .unique(maintain_order=True)
        .collect()
    )
    log.debug("detect: %d static reports read of %d day(s)", rows.height, len(days))
    return rows


def enrich_calls(
    store: Store,
    files: list[StorePath],
    state: identity_cycle.StaticsState,
    raw_calls: pl.DataFrame,
    stored_calls: pl.DataFrame | None,
    *,
    several_tracks: Collection[int],
    several_before: Collection[int],
    shared: Collection[int],
) -> pl.DataFrame:
    """Return ``raw_calls`` enriched as :func:`enrich` does with every static report of
    ``files``, keeping the identities of ``stored_calls`` (the last detection's calls, whose
    vessels had ``several_before`` tracks) that cannot have changed."""
    if state.before is None or stored_calls is None:
        statics = identity_cycle.scan(files).collect()
        return enrich(raw_calls, statics, several_tracks=several_tracks, shared=shared)
    days = state.days_read or []
    seen = pl.concat([state.summaries[2], state.before[2]])
    touched = (
        seen.filter(pl.col("day").is_in(days)).group_by("mmsi").agg(from_day=pl.col("day").min())
    )
    fields = pl.concat([state.summaries[3], state.before[3]])
    earliest = fields.group_by("mmsi").agg(
        pl.col("day")
        .filter(pl.col(f"{name}__first_utc").is_not_null())
        .min()
        .alias(f"{name}__since")
        for name in FORWARD_FIELDS
    )
    end = pl.coalesce("departure_utc", "last_seen_utc")
    calls = raw_calls.select("call_id", "mmsi", "arrival_utc", __end=end)
    stored = stored_calls.select(
        "call_id", "mmsi", "arrival_utc", *IDENTITY_COLUMNS, __end_before=end
    )
    several = pl.col("mmsi").is_in(list(several_tracks))
    several_then = pl.col("mmsi").is_in(list(several_before))
    from_day = pl.col("from_day")
    untouched = pl.all_horizontal(
        pl.col(f"{name}__since").is_null() | (pl.col(f"{name}__since") < from_day)
        for name in FORWARD_FIELDS
    )
    statics_same = from_day.is_null() | ((pl.col("__end").dt.date() < from_day) & untouched)
    joined = (
        calls.join(stored, on=["call_id", "mmsi", "arrival_utc"], how="left")
        .join(touched, on="mmsi", how="left")
        .join(earliest, on="mmsi", how="left")
        .with_columns(
            __keep=pl.col("__end").eq(pl.col("__end_before")).fill_null(False)
            & statics_same
            & (several == several_then)
        )
    )
    kept = joined.filter("__keep").select("call_id", *IDENTITY_COLUMNS)
    again = raw_calls.join(joined.filter(~pl.col("__keep")).select("call_id"), on="call_id")
    found = call_identities(
        again, _reports_for(store, files, state, again), several_tracks=several_tracks
    )
    log.info("detect: %d call(s) enriched again, %d kept", again.height, kept.height)
    return with_identities(raw_calls, pl.concat([kept, found]), shared=shared)


def _reports_for(
    store: Store, files: list[StorePath], state: identity_cycle.StaticsState, calls: pl.DataFrame
) -> pl.DataFrame:
    """Return static reports that give ``calls`` what all the stored ones would: those of the
    days of the calls (whole days: the summaries stand for the other days only), and the first
    and last value of each field of every other day."""
    spans = calls.select(
        "mmsi",
        first=pl.col("arrival_utc").dt.date(),
        last=pl.coalesce("departure_utc", "last_seen_utc").dt.date(),
    )
    days = spans.with_columns(day=pl.date_ranges("first", "last")).explode("day")
    read_days = days.select("mmsi", "day").unique()
    call_windows = read_days.select(
        "mmsi",
        from_utc=pl.col("day").cast(pl.Datetime("us", "UTC")),
        to_utc=pl.col("day").cast(pl.Datetime("us", "UTC"))
        + pl.duration(days=1)
        - pl.duration(microseconds=1),
    )
    read = statics_within(store, files, call_windows)
    others = (
        state.summaries[3]
        .join(calls.select("mmsi").unique(), on="mmsi")
        .join(read_days, on=["mmsi", "day"], how="anti")
    )
    return pl.concat([read.select("mmsi", "timestamp_utc", *FIELDS), field_rows(others)]).sort(
        "mmsi", "timestamp_utc"
    )
