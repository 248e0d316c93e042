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
    ) -> Checkpoint:
        """Return a checkpoint at ``offset`` with the counts not yet put in a row of this run."""
        now = Counter(
            n_lines=summary.n_lines,
            n_messages=summary.n_messages,
            n_rejected=sum(summary.rejected.values()),
        )
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
        }
        return Checkpoint(row=row, replaces=replaces)

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
            for prior in self.frame.filter(pl.col("fingerprint").is_in(keys)).iter_rows(named=True):
                for name in _COUNTS:
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
