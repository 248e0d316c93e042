"""The ingest manifest as one run uses it: which stored row an input is, and checkpoint rows.

An input is identified by a hash of its first bytes: a file that has only grown matches the row
of its shorter self. A checkpoint row records how far an input has been read and the counts since
the input's previous row of this run; it is written only after the rows it counts are stored, and
its counts are added to those of the row it replaces.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import polars as pl

from monitor.decode.codes import TimeSource
from monitor.decode.nmea.clock import ClockState
from monitor.decode.nmea.fragments import NO_TIME
from monitor.pipeline.ingest_summary import FileSummary
from monitor.schema import MANIFEST_SCHEMA
from monitor.sources.files import FINGERPRINT_BYTES, fingerprint
from monitor.store.parquet import Store

#: Counts a manifest row sums over every run that read its input.
_COUNTS = ("n_lines", "n_messages", "n_positions", "n_statics", "n_rejected")


@dataclass
class Checkpoint:
    """A manifest row waiting for its input's rows to be written."""

    row: dict[str, Any]
    #: Fingerprint of the manifest row this one replaces (a grown file's hash of its first bytes
    #: covers more bytes than before).
    replaces: str | None = None

    @property
    def key(self) -> str:
        """Return the input's fingerprint: a later checkpoint of the same input replaces this."""
        return str(self.row["fingerprint"])


class RunManifest:
    """The store's manifest during one ingest run: read once, rewritten at each checkpoint."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.frame = store.read_manifest()
        #: Per input, the counts already put in a manifest row during this run.
        self._recorded: dict[str, Counter[str]] = {}

    def match(self, head: bytes, size: int) -> dict[str, Any] | None:
        """Return the manifest row of a file whose first bytes are ``head``, if any."""
        if self.frame.height == 0:
            return None
        best: dict[str, Any] | None = None
        for length in self.frame["fingerprint_bytes"].unique().to_list():
            if length == 0 or length > len(head) or length > size:
                continue
            rows = self.frame.filter(
                (pl.col("fingerprint_bytes") == length)
                & (pl.col("fingerprint") == fingerprint(head[:length]))
            )
            for row in rows.iter_rows(named=True):
                if best is None or row["bytes_consumed"] > best["bytes_consumed"]:
                    best = row
        return best

    def checkpoint(
        self,
        base: dict[str, Any],
        summary: FileSummary,
        offset: int,
        tail: bytes,
        complete: bool,
        replaces: str | None,
        clock: ClockState | None = None,
        read: Counter[str] | None = None,
    ) -> Checkpoint:
        """Return a checkpoint at ``offset`` with the counts not yet put in a row of this run.

        ``read`` holds the lines, messages and rejections read up to ``offset`` (``summary``'s
        when None: the input read to ``offset``); ``clock`` what times the NMEA lines from
        ``offset`` on, kept for a run reading on.
        """
        now = read if read is not None else counts_read(summary)
        done = self._recorded.setdefault(summary.input, Counter())
        delta = {name: now[name] - done[name] for name in now}
        done.update(delta)
        row = {
            **base,
            **delta,
            "tail_fingerprint": fingerprint(tail[-FINGERPRINT_BYTES:]),
            "bytes_consumed": offset,
            "complete": complete,
            # Rows stored: counted by the writer when it has written them.
            "n_positions": 0,
            "n_statics": 0,
            "first_utc": summary.first_utc,
            "last_utc": summary.last_utc,
            "ingested_at_utc": dt.datetime.now(dt.UTC),
            **_clock_columns(clock),
            "writing": False,
        }
        return Checkpoint(row=row, replaces=replaces)

    def mark_writing(self, points: list[Checkpoint]) -> None:
        """Flag the rows of the inputs whose rows are about to be written, before they are.

        An input without a row yet gets one that says nothing has been read. A run that dies
        before :meth:`record` leaves the flag, and the next run counts that input's stored rows
        anew (they were written, but never counted).
        """
        if not points:
            return
        frame = self.frame
        fresh = []
        for point in points:
            keys = [point.key, point.replaces or point.key]
            mine = pl.col("fingerprint").is_in(keys)
            if frame.filter(mine).height:
                frame = frame.with_columns(writing=pl.when(mine).then(True).otherwise("writing"))
                continue
            row = dict.fromkeys(MANIFEST_SCHEMA)
            row.update({name: 0 for name in _COUNTS})
            row.update(
                {
                    name: point.row[name]
                    for name in ("input", "fingerprint", "fingerprint_bytes", "format")
                },
                tail_fingerprint=fingerprint(b""),
                size_bytes=point.row["size_bytes"],
                bytes_consumed=0,
                complete=False,
                ingested_at_utc=point.row["ingested_at_utc"],
                writing=True,
            )
            fresh.append(row)
        if fresh:
            frame = pl.concat([frame, pl.DataFrame(fresh, schema=MANIFEST_SCHEMA)])
        self.frame = frame
        self.store.write_manifest(self.frame)

    def record(self, points: list[Checkpoint]) -> None:
        """Merge ``points`` into the manifest (counts added to the rows they replace), write it."""
        if not points:
            return
        rows = []
        gone: list[str] = []
        for point in points:
            row = dict(point.row)
            keys = [point.key, point.replaces or point.key]
            gone += keys
            priors = self.frame.filter(pl.col("fingerprint").is_in(keys))
            if priors["writing"].any():
                # A run died mid-write: what it stored was never counted.
                row["n_positions"], row["n_statics"] = self.store.rows_from(row["input"])
            for prior in priors.iter_rows(named=True):
                for name in _COUNTS:
                    if prior["writing"] and name in ("n_positions", "n_statics"):
                        continue
                    row[name] += prior[name] or 0
                row["first_utc"] = min(
                    (t for t in (prior["first_utc"], row["first_utc"]) if t), default=None
                )
                row["last_utc"] = max(
                    (t for t in (prior["last_utc"], row["last_utc"]) if t), default=None
                )
            rows.append(row)
        fresh = pl.DataFrame(rows, schema=MANIFEST_SCHEMA)
        keep = self.frame.filter(~pl.col("fingerprint").is_in(gone))
        self.frame = pl.concat([keep, fresh], how="vertical")
        self.store.write_manifest(self.frame)


def counts_read(summary: FileSummary) -> Counter[str]:
    """Return the lines, messages and rejections an input's summary has counted so far."""
    return Counter(
        n_lines=summary.n_lines,
        n_messages=summary.n_messages,
        n_rejected=sum(summary.rejected.values()),
    )


def _clock_columns(clock: ClockState | None) -> dict[str, Any]:
    """Return the manifest columns that keep ``clock`` for the run that reads on."""
    clock = clock or ClockState()
    return {
        "pending_utc": _from_us(clock.pending_us),
        "pending_source": clock.pending_source.label if clock.pending_source else None,
        "clock_utc": _from_us(clock.clock_us),
        "clock_source": clock.clock_source.label if clock.clock_source else None,
    }


def clock_of(entry: dict[str, Any]) -> ClockState:
    """Return the clock state a manifest row kept (none for rows written before it was kept)."""
    pending, clock = entry.get("pending_utc"), entry.get("clock_utc")
    return ClockState(
        pending_us=epoch_us(pending) if pending is not None else NO_TIME,
        pending_source=TimeSource.of_label(entry.get("pending_source")),
        clock_us=epoch_us(clock) if clock is not None else NO_TIME,
        clock_source=TimeSource.of_label(entry.get("clock_source")),
    )


def epoch_us(moment: dt.datetime) -> int:
    """Return ``moment`` (UTC-aware) in microseconds since 1970."""
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _from_us(value: int) -> dt.datetime | None:
    if value == NO_TIME:
        return None
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value)
