"""The port-call tables of a store, under ``<store>/calls/``: calls, transits, the detection state.

``calls.parquet`` holds the calls with identity (what ``monitor calls``, exports and reports
read); ``raw_calls.parquet``, ``transits.parquet``, ``pending.parquet``, ``tracks.parquet``,
``jumps.parquet`` and ``concurrent.parquet`` hold what the detector found per vessel,
``checkpoint.parquet`` the positions it saw per vessel and ``state.json`` the fingerprint of the
geofences and thresholds it used, so that the next run re-detects only what changed. Nothing
else reads or writes this folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from monitor.schema import (
    CALLS_CHECKPOINT_SCHEMA,
    CALLS_WITH_POSITION_SCHEMA,
    CONCURRENT_SCHEMA,
    JUMPS_SCHEMA,
    RAW_CALLS_SCHEMA,
    RESTARTS_SCHEMA,
    TRACKS_SCHEMA,
    TRANSITS_SCHEMA,
    empty_frame,
)
from monitor.store.fs import StorePath, write_text
from monitor.store.fs import store_path as store_root
from monitor.store.table import Table

log = logging.getLogger(__name__)

_REDETECT = "delete it and run `monitor detect` again"
CALLS = Table("calls/calls.parquet", CALLS_WITH_POSITION_SCHEMA, "port calls", _REDETECT)
RAW_CALLS = Table("calls/raw_calls.parquet", RAW_CALLS_SCHEMA, "detected calls", _REDETECT)
TRANSITS = Table("calls/transits.parquet", TRANSITS_SCHEMA, "transits", _REDETECT)
PENDING = Table("calls/pending.parquet", TRANSITS_SCHEMA, "visits under way", _REDETECT)
TRACKS = Table("calls/tracks.parquet", TRACKS_SCHEMA, "tracks", _REDETECT)
JUMPS = Table("calls/jumps.parquet", JUMPS_SCHEMA, "displaced runs", _REDETECT)
CONCURRENT = Table("calls/concurrent.parquet", CONCURRENT_SCHEMA, "concurrent tracks", _REDETECT)
CHECKPOINT = Table(
    "calls/checkpoint.parquet", CALLS_CHECKPOINT_SCHEMA, "detection checkpoint", _REDETECT
)
RESTARTS = Table("calls/restarts.parquet", RESTARTS_SCHEMA, "restart points", _REDETECT)
_STATE = "calls/state.json"


@dataclass
class Detected:
    """The detector's tables of a store, replaced together by each detection run."""

    #: RAW_CALLS_SCHEMA, sorted by vessel and arrival.
    raw_calls: pl.DataFrame
    #: TRANSITS_SCHEMA, sorted by vessel and arrival.
    transits: pl.DataFrame
    #: Visits under way that are not calls yet, TRANSITS_SCHEMA.
    pending: pl.DataFrame
    #: Each vessel's tracks (one per transmitter), TRACKS_SCHEMA.
    tracks: pl.DataFrame
    #: Runs of displaced positions dropped from the tracks, JUMPS_SCHEMA.
    jumps: pl.DataFrame
    #: Pairs of tracks of one MMSI active far apart at once, CONCURRENT_SCHEMA.
    concurrent: pl.DataFrame

    @classmethod
    def empty(cls) -> Detected:
        """Return tables without rows (a detection from scratch)."""
        return cls(
            raw_calls=empty_frame(RAW_CALLS_SCHEMA),
            transits=empty_frame(TRANSITS_SCHEMA),
            pending=empty_frame(TRANSITS_SCHEMA),
            tracks=empty_frame(TRACKS_SCHEMA),
            jumps=empty_frame(JUMPS_SCHEMA),
            concurrent=empty_frame(CONCURRENT_SCHEMA),
        )

    @classmethod
    def read(cls, store_path: StorePath | str, keep: pl.Expr) -> Detected:
        """Return the stored tables' rows that ``keep`` selects."""
        return cls(
            raw_calls=RAW_CALLS.read(store_path).filter(keep),
            transits=TRANSITS.read(store_path).filter(keep),
            pending=PENDING.read(store_path).filter(keep),
            tracks=TRACKS.read(store_path).filter(keep),
            jumps=JUMPS.read(store_path).filter(keep),
            concurrent=CONCURRENT.read(store_path).filter(keep),
        )


def detected_with(store_path: StorePath | str) -> str | None:
    """Return the fingerprint of the geofences and thresholds of the stored detection, if any.

    None when the store has no detection yet or its state is unreadable: everything is then
    detected again.
    """
    state = store_root(store_path) / _STATE
    if not state.is_file() or not RAW_CALLS.exists(store_path):
        return None
    try:
        saved = json.loads(state.read_text(encoding="utf-8"))
        fingerprint, complete = saved.get("fingerprint"), saved.get("complete", True)
    except (OSError, ValueError, AttributeError):
        log.warning("%s unreadable; re-detecting every vessel", state)
        return None
    if complete is not True:
        log.warning("the last detection stopped while writing; re-detecting every vessel")
        return None
    return fingerprint if isinstance(fingerprint, str) else None


@contextlib.contextmanager
def detection_writes(store_path: StorePath | str, fingerprint: str) -> Iterator[None]:
    """Mark the stored detection incomplete while the body replaces its tables, complete after.

    Each table is replaced atomically, but not all at once: a run that stops half way leaves
    the mark, and the next run detects everything again rather than resume from a mix.
    """
    state = store_root(store_path) / _STATE
    write_text(state, json.dumps({"fingerprint": fingerprint, "complete": False}))
    yield
    write_text(state, json.dumps({"fingerprint": fingerprint, "complete": True}))


def save_detection(
    store_path: StorePath | str,
    detected: Detected,
    calls: pl.DataFrame,
    checkpoint: pl.DataFrame,
    restarts: pl.DataFrame,
) -> None:
    """Replace the store's calls tables with one detection run's (each file atomically; hold
    :func:`detection_writes` meanwhile)."""
    RAW_CALLS.write(store_path, detected.raw_calls)
    TRANSITS.write(store_path, detected.transits)
    PENDING.write(store_path, detected.pending)
    TRACKS.write(store_path, detected.tracks)
    JUMPS.write(store_path, detected.jumps)
    CONCURRENT.write(store_path, detected.concurrent)
    CALLS.write(store_path, calls)
    CHECKPOINT.write(store_path, checkpoint)
    RESTARTS.write(store_path, restarts)


def load_calls(store_path: StorePath | str) -> pl.DataFrame:
    """Return the stored calls (CALLS_SCHEMA, then ``lat``/``lon``), sorted by arrival."""
    return CALLS.read(store_path).sort("arrival_utc", "mmsi", "port_id")


def filter_calls(
    calls: pl.DataFrame,
    *,
    port_id: str | None = None,
    mmsi: int | None = None,
    since: datetime | None = None,
    open_only: bool = False,
    until: datetime | None = None,
) -> pl.DataFrame:
    """Return the calls at ``port_id``, of ``mmsi``, in port at or after ``since``, arrived
    before ``until``, or open (transits too: they have the same columns).

    Open calls are those without a departure: vessels in port now, and those last seen in port
    but unheard since (status ``unknown``), which count as in port only until last seen.
    """
    if until is not None:
        calls = calls.filter(pl.col("arrival_utc") < until)
    if port_id is not None:
        calls = calls.filter(pl.col("port_id") == port_id)
    if mmsi is not None:
        calls = calls.filter(pl.col("mmsi") == mmsi)
    if since is not None:
        end = pl.col("departure_utc")
        if "status" in calls.columns:
            unknown = pl.col("status") == "unknown"
            end = pl.when(unknown).then(pl.col("last_seen_utc")).otherwise(end)
        calls = calls.filter(end.is_null() | (end >= since))
    if open_only:
        calls = calls.filter(pl.col("departure_utc").is_null())
    return calls
