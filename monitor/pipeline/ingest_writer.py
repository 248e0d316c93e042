"""Buffered writing of an ingest: decoded rows are collected, then written on a background thread.

Writes run one at a time, in order, so that decoding goes on meanwhile and each write's
deduplication sees every earlier row. After the rows of a write are stored, the manifest
checkpoints that count them are recorded.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor

import polars as pl

from monitor.pipeline.ingest_manifest import Checkpoint, RunManifest
from monitor.pipeline.ingest_summary import FileSummary
from monitor.schema import DecodedBatch
from monitor.store.parquet import Store


class WriteFailed(Exception):
    """Writing to the store failed: not an input's fault, so the run stops."""


class BufferedWriter:
    """Rows decoded but not yet stored, the checkpoints waiting for them, and the writer thread."""

    def __init__(self, store: Store, manifest: RunManifest, window_s: float) -> None:
        self.store = store
        self.manifest = manifest
        self.window_s = window_s
        self.positions: list[pl.DataFrame] = []
        self.statics: list[pl.DataFrame] = []
        self.n_buffered = 0
        self.waiting: dict[str, Checkpoint] = {}
        #: Per input, its summary: rows stored are counted into it.
        self.files: dict[str, FileSummary] = {}
        #: Vessels with positions in this run.
        self.vessels: set[int] = set()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._statics_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="statics")
        self._pending: Future[tuple[dict[str, int], dict[str, int]]] | None = None

    def absorb(self, batch: DecodedBatch, summary: FileSummary) -> None:
        """Count ``batch`` into ``summary`` and buffer its rows."""
        summary.n_lines += batch.n_lines
        summary.n_messages += batch.n_messages
        summary.rejected.update(batch.rejected)
        summary.other_types.update(batch.other_types)
        summary.time_sources.update(batch.time_sources)
        positions = batch.positions
        if positions.height:
            summary.n_positions_decoded += positions.height
            first, last = positions["timestamp_utc"].min(), positions["timestamp_utc"].max()
            assert isinstance(first, dt.datetime) and isinstance(last, dt.datetime)
            summary.first_utc = min(first, summary.first_utc or first)
            summary.last_utc = max(last, summary.last_utc or last)
            self.positions.append(positions)
        if batch.statics.height:
            summary.n_statics_decoded += batch.statics.height
            self.statics.append(batch.statics)
        self.n_buffered += positions.height + batch.statics.height

    def checkpoint(self, point: Checkpoint) -> None:
        """Queue a manifest row; it is written after the rows buffered so far are in the store."""
        self.waiting[point.key] = point

    def flush(self, wait: bool = False) -> None:
        """Hand the buffered rows, and the manifest rows waiting for them, to the writer thread."""
        self.collect()
        positions = pl.concat(self.positions) if self.positions else None
        statics = pl.concat(self.statics) if self.statics else None
        if positions is not None:
            self.vessels.update(positions["mmsi"].unique().to_list())
        points = list(self.waiting.values())
        self.positions, self.statics, self.n_buffered, self.waiting = [], [], 0, {}
        self._pending = self._writer.submit(self._write, positions, statics, points)
        if wait:
            self.collect()

    def collect(self) -> None:
        """Wait for the write in progress; count what it stored. Re-raises its error."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        stored_positions, stored_statics = pending.result()
        for stored, name in ((stored_positions, "n_positions"), (stored_statics, "n_statics")):
            for source, count in stored.items():
                summary = self.files.get(source)
                if summary is not None:
                    setattr(summary, name, getattr(summary, name) + count)

    def close(self) -> None:
        """Wait for the writer threads to finish whatever they are writing."""
        self._writer.shutdown(wait=True)
        self._statics_writer.shutdown(wait=True)

    def _write(
        self,
        positions: pl.DataFrame | None,
        statics: pl.DataFrame | None,
        points: list[Checkpoint],
    ) -> tuple[dict[str, int], dict[str, int]]:
        try:
            self.manifest.mark_writing(points)
            # Statics go to their own folder on a second thread, alongside the positions.
            statics_done = (
                self._statics_writer.submit(self.store.add_statics, statics, self.window_s)
                if statics is not None
                else None
            )
            stored_positions = (
                self.store.add_positions(positions, self.window_s) if positions is not None else {}
            )
            stored_statics = statics_done.result() if statics_done is not None else {}
            for point in points:
                point.row["n_positions"] += stored_positions.get(point.row["input"], 0)
                point.row["n_statics"] += stored_statics.get(point.row["input"], 0)
            self.manifest.record(points)
        except Exception as exc:
            # Not an input's fault: the run stops (see ingest_paths) instead of going on.
            raise WriteFailed(str(exc)) from exc
        return stored_positions, stored_statics
