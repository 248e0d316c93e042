"""Ingestion: inputs -> decoder or CSV reader -> deduplicated rows in the store, with a manifest.

Each input is read in chunks of complete lines; decoded rows are buffered and written to the
store every ``FLUSH_ROWS`` rows and at the end. After each write the manifest records, per input,
how far it has been read, so an interrupted or repeated run goes on where the last one stopped.
An input is identified by a hash of its first bytes: a file that has only grown is resumed, a
replaced file is read again from the start.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from monitor.config import IngestSettings, Settings
from monitor.core.jit import prepare
from monitor.decode.csv.decoder import CsvDecoder
from monitor.decode.nmea.clock import ClockState
from monitor.decode.nmea.decoder import NmeaDecoder, untimed_error
from monitor.decode.nmea.fragments import NO_TIME
from monitor.errors import ConfigError, MonitorError, SourceError, StoreError
from monitor.pipeline.ingest_summary import FileSummary, IngestSummary
from monitor.schema import DecodedBatch
from monitor.sources.files import (
    CHUNK_BYTES,
    DETECT_BYTES,
    FINGERPRINT_BYTES,
    FORMATS,
    Chunk,
    InputFile,
    OpenInput,
    compression_of,
    container_kind,
    cr_only,
    detect_format,
    expand_inputs,
    fingerprint,
    iter_chunks,
    read_exact,
    read_head,
    skip_to,
)
from monitor.store.parquet import MANIFEST_SCHEMA, Store

__all__ = ["FileSummary", "IngestSummary", "ingest_paths"]

log = logging.getLogger(__name__)

#: Decoded rows are handed to the writer when this many are waiting (at most two such batches
#: are in memory: one being written, one being filled).
FLUSH_ROWS = 250_000
#: CSV is parsed in bigger chunks than NMEA: polars' fixed cost per call is then negligible.
CSV_CHUNK_BYTES = 8 << 20


def accepted_times_us(ingest: IngestSettings, now: dt.datetime) -> tuple[int, int]:
    """Return the message times an ingest stores, epoch µs [first, end).

    From ``ingest.min_time_utc`` to ``ingest.max_future_h`` after ``now`` (the wall clock at the
    start of the run: the one place ingest reads the clock for something other than bookkeeping).
    """
    end = now + dt.timedelta(hours=ingest.max_future_h)
    return _epoch_us(ingest.min_time_utc), _epoch_us(end)


def _epoch_us(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


class _WriteFailed(Exception):
    """Writing to the store failed."""


@dataclass
class _Checkpoint:
    """A manifest row waiting for its input's rows to be written."""

    key: str
    row: dict[str, Any]
    #: Fingerprint of the manifest row this one replaces (a grown file's hash of its first bytes
    #: covers more bytes than before).
    replaces: str | None = None


class _Run:
    """One ingest run over a store: buffers rows, writes them, keeps the manifest."""

    def __init__(self, store: Store, settings: Settings, fallback: dt.datetime | None) -> None:
        self.store = store
        self.settings = settings
        self.fallback = fallback
        self.window_s = settings.ingest.duplicate_window_s
        self.times_us = accepted_times_us(settings.ingest, dt.datetime.now(dt.UTC))
        self.manifest = store.read_manifest()
        self.positions: list[pl.DataFrame] = []
        self.statics: list[pl.DataFrame] = []
        self.n_buffered = 0
        self.waiting: dict[str, _Checkpoint] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._statics_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="statics")
        self._pending: Future[tuple[dict[str, int], dict[str, int]]] | None = None
        self.files: dict[str, FileSummary] = {}
        #: Per input, the counts already put in a manifest row during this run.
        self.recorded: dict[str, Counter[str]] = {}
        self.vessels: set[int] = set()

    # -- manifest -------------------------------------------------------------------------------

    def match(self, head: bytes, size: int) -> dict[str, Any] | None:
        """Return the manifest row of a file whose first bytes are ``head``, if any."""
        if self.manifest.height == 0:
            return None
        best: dict[str, Any] | None = None
        for length in self.manifest["fingerprint_bytes"].unique().to_list():
            if length == 0 or length > len(head) or length > size:
                continue
            rows = self.manifest.filter(
                (pl.col("fingerprint_bytes") == length)
                & (pl.col("fingerprint") == fingerprint(head[:length]))
            )
            for row in rows.iter_rows(named=True):
                if best is None or row["bytes_consumed"] > best["bytes_consumed"]:
                    best = row
        return best

    def checkpoint(self, key: str, row: dict[str, Any], replaces: str | None = None) -> None:
        """Queue a manifest row; it is written after the rows read so far are in the store."""
        self.waiting[key] = _Checkpoint(key=key, row=row, replaces=replaces)

    def _apply_checkpoints(self, points: list[_Checkpoint]) -> None:
        if not points:
            return
        rows = []
        gone: list[str] = []
        for point in points:
            row = dict(point.row)
            keys = [row["fingerprint"], point.replaces or row["fingerprint"]]
            gone += keys
            for prior in self.manifest.filter(pl.col("fingerprint").is_in(keys)).iter_rows(
                named=True
            ):
                for name in ("n_lines", "n_messages", "n_positions", "n_statics", "n_rejected"):
                    row[name] += prior[name] or 0
                row["first_utc"] = min(
                    (t for t in (prior["first_utc"], row["first_utc"]) if t), default=None
                )
                row["last_utc"] = max(
                    (t for t in (prior["last_utc"], row["last_utc"]) if t), default=None
                )
            rows.append(row)
        fresh = pl.DataFrame(rows, schema=MANIFEST_SCHEMA)
        keep = self.manifest.filter(~pl.col("fingerprint").is_in(gone))
        self.manifest = pl.concat([keep, fresh], how="vertical")
        self.store.write_manifest(self.manifest)

    # -- rows -----------------------------------------------------------------------------------

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

    def flush(self, wait: bool = False) -> None:
        """Hand the buffered rows, and the manifest rows waiting for them, to the writer.

        Writes run one at a time on a background thread, in order, so that decoding goes on
        meanwhile; a write waits for the one before it, so deduplication sees every earlier row.
        """
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
        """Wait for the writer thread to finish whatever it is writing."""
        self._writer.shutdown(wait=True)
        self._statics_writer.shutdown(wait=True)

    def _write(
        self,
        positions: pl.DataFrame | None,
        statics: pl.DataFrame | None,
        points: list[_Checkpoint],
    ) -> tuple[dict[str, int], dict[str, int]]:
        try:
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
            self._apply_checkpoints(points)
        except Exception as exc:
            # Not an input's fault: the run stops (see ingest_paths) instead of going on.
            raise _WriteFailed(str(exc)) from exc
        return stored_positions, stored_statics

    # -- one input ------------------------------------------------------------------------------

    def ingest(self, inp: InputFile, fmt: str, progress: Progress) -> FileSummary:
        """Read one input into the buffers; return its summary (errors are caught and kept)."""
        summary = FileSummary(input=inp.name)
        self.files[inp.name] = summary
        try:
            self._ingest(inp, fmt, summary, progress)
        except (OSError, EOFError, ValueError, MonitorError, pl.exceptions.PolarsError) as exc:
            summary.status = "error"
            summary.error = str(exc) if isinstance(exc, MonitorError) else f"{inp.name}: {exc}"
            log.info("%s", summary.error)
        return summary

    def _ingest(self, inp: InputFile, fmt: str, summary: FileSummary, progress: Progress) -> None:
        size = inp.path.stat().st_size if inp.path is not None else 0
        head = read_head(inp.path) if inp.path is not None else b""
        entry = self.match(head, size) if inp.path is not None else None
        if (
            entry is not None
            and entry["complete"]
            and entry["size_bytes"] == size
            and _same_tail(inp, head, entry)
        ):
            summary.status = "unchanged"
            summary.format = entry["format"]
            progress.advance_file(size)
            return
        opened = OpenInput(inp)
        try:
            start = 0
            tail = b""
            if entry is not None and size >= entry["size_bytes"] and entry["bytes_consumed"] > 0:
                consumed = int(entry["bytes_consumed"])
                tail = skip_to(opened, consumed)
                if fingerprint(tail) == entry["tail_fingerprint"]:
                    start = consumed
                    summary.status = "resumed"
                else:
                    opened.close()
                    opened = OpenInput(inp)
                    tail = b""
            prefix = b""
            if start == 0:
                prefix = read_exact(opened.stream, DETECT_BYTES)
                if not prefix.strip():
                    # Nothing to read yet (a log just created): no error, no manifest row.
                    summary.status = "empty"
                    progress.advance_file(size)
                    return
                file_fmt = fmt if fmt != "auto" else _detect(prefix, inp.name)
            else:
                file_fmt = str(entry["format"]) if entry is not None else fmt
            summary.format = file_fmt
            decoder: Any
            if file_fmt == "csv":
                if start == 0:
                    header = prefix[: prefix.find(b"\n") + 1] or prefix
                    prefix = prefix[len(header) :]
                    start = len(header)
                    tail = header
                else:
                    assert inp.path is not None
                    header = _first_line(inp)
                decoder = CsvDecoder(
                    inp.name,
                    header,
                    self.settings.ingest.csv_columns,
                    time_window_us=self.times_us,
                )
            else:
                decoder = NmeaDecoder(
                    inp.name,
                    fragment_timeout_s=self.settings.ingest.fragment_timeout_s,
                    fallback_time_utc=self.fallback,
                    time_window_us=self.times_us,
                    clock=_clock_of(entry) if start > 0 and entry is not None else None,
                )
            key = fingerprint(head)
            replaces = str(entry["fingerprint"]) if entry is not None else None
            base = {
                "input": inp.name,
                "fingerprint": key,
                "fingerprint_bytes": len(head),
                "format": file_fmt,
                "size_bytes": size,
            }
            totals = DecodedBatch()
            end = start
            size_of_chunk = CSV_CHUNK_BYTES if file_fmt == "csv" else CHUNK_BYTES
            chunks = iter_chunks(
                opened.stream, start=start, chunk_bytes=size_of_chunk, prefix=prefix
            )
            # NMEA: the next chunk's lines are parsed on a second thread meanwhile.
            decoded = (
                decoder.feed_each(chunks, _chunk_data)
                if isinstance(decoder, NmeaDecoder)
                else ((chunk, decoder.feed(chunk.data)) for chunk in chunks)
            )
            # What times the lines after the last chunk read (logs timed by other lines).
            clock = _clock_now(decoder)
            for chunk, batch in decoded:
                if chunk.overlong:
                    batch.n_lines += chunk.overlong
                    batch.rejected["line_too_long"] += chunk.overlong
                totals.n_messages += batch.n_messages
                totals.rejected.update(batch.rejected)
                self.absorb(batch, summary)
                progress.update(opened.raw_position())
                if self.n_buffered >= FLUSH_ROWS:
                    # An input that has given nothing yet may turn out to have no time source:
                    # it gets no manifest row until it does.
                    if inp.path is not None and summary.n_messages > 0:
                        # Resume from this chunk's start: a message whose first part is in it
                        # may still be waiting for its other parts inside the decoder.
                        self.checkpoint(
                            key, self._row(base, summary, chunk.start, tail, False, clock), replaces
                        )
                    self.flush()
                clock = _clock_now(decoder)
                # Only the chunk's last bytes: copying the whole chunk costs a few ms a MiB.
                length = chunk.end - chunk.start
                last = chunk.data[max(0, length - FINGERPRINT_BYTES) : length]
                tail = (tail + last)[-FINGERPRINT_BYTES:]
                end = chunk.end
            if opened.error is not None:
                # Keep every line read so far; no manifest row, so a repaired file is read again.
                self._finish(decoder, summary, totals)
                raise SourceError(
                    f"{inp.name}: compressed data cut short or corrupt after {end:,} bytes of "
                    f"text ({opened.error}); the lines before were ingested"
                )
            self._finish(decoder, summary, totals)
            if totals.rejected.get("no_time", 0) and totals.n_messages == 0:
                error = untimed_error(
                    inp.name,
                    totals,
                    "give every line a time (an NMEA 4.0 tag block \\c:EPOCH\\, a $PGHP line, "
                    "$GPZDA/$GPRMC clock sentences) or re-run with --fallback-time "
                    "YYYY-MM-DDTHH:MM:SSZ to time them all at that instant",
                )
                if error is not None:
                    raise error
            if inp.path is not None:
                self.checkpoint(
                    key, self._row(base, summary, end, tail, True, _clock_now(decoder)), replaces
                )
            progress.advance_file(size)
        finally:
            opened.close()

    def _finish(self, decoder: Any, summary: FileSummary, totals: DecodedBatch) -> None:
        last = decoder.flush()
        totals.n_messages += last.n_messages
        totals.rejected.update(last.rejected)
        self.absorb(last, summary)

    def _row(
        self,
        base: dict[str, Any],
        summary: FileSummary,
        offset: int,
        tail: bytes,
        complete: bool,
        clock: ClockState | None,
    ) -> dict[str, Any]:
        """Return a manifest row with the counts not yet put in an earlier row of this run."""
        now = Counter(
            n_lines=summary.n_lines,
            n_messages=summary.n_messages,
            n_rejected=sum(summary.rejected.values()),
        )
        done = self.recorded.setdefault(summary.input, Counter())
        delta = {name: now[name] - done[name] for name in now}
        done.update(delta)
        return {
            **base,
            **delta,
            "tail_fingerprint": fingerprint(tail[-FINGERPRINT_BYTES:]),
            "bytes_consumed": offset,
            "complete": complete,
            "n_positions": 0,
            "n_statics": 0,
            "first_utc": summary.first_utc,
            "last_utc": summary.last_utc,
            "ingested_at_utc": dt.datetime.now(dt.UTC),
            **_clock_columns(clock),
        }


def _clock_now(decoder: NmeaDecoder | CsvDecoder) -> ClockState | None:
    return decoder.clock if isinstance(decoder, NmeaDecoder) else None


def _clock_columns(clock: ClockState | None) -> dict[str, Any]:
    """Return the manifest columns that keep ``clock`` for the run that reads on."""
    clock = clock or ClockState()
    return {
        "pending_utc": _from_us(clock.pending_us),
        "pending_source": clock.pending_source or None,
        "clock_utc": _from_us(clock.clock_us),
        "clock_source": clock.clock_source or None,
    }


def _clock_of(entry: dict[str, Any]) -> ClockState:
    """Return the clock state a manifest row kept (none for rows written before it was kept)."""
    pending, clock = entry.get("pending_utc"), entry.get("clock_utc")
    return ClockState(
        pending_us=_epoch_us(pending) if pending is not None else NO_TIME,
        pending_source=entry.get("pending_source") or "",
        clock_us=_epoch_us(clock) if clock is not None else NO_TIME,
        clock_source=entry.get("clock_source") or "",
    )


def _from_us(value: int) -> dt.datetime | None:
    if value == NO_TIME:
        return None
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value)


def _chunk_data(chunk: Chunk) -> bytes:
    return chunk.data


def _same_tail(inp: InputFile, head: bytes, entry: dict[str, Any]) -> bool:
    """Return whether the bytes before the manifest's offset are unchanged (plain files only;
    a compressed file is trusted on its first bytes and size, as checking means decompressing)."""
    if inp.path is None or compression_of(head) is not None:
        return True
    consumed = int(entry["bytes_consumed"])
    with inp.path.open("rb") as handle:
        handle.seek(max(0, consumed - FINGERPRINT_BYTES))
        tail = read_exact(handle, min(consumed, FINGERPRINT_BYTES))
    if cr_only(head):
        # The manifest keeps the text as read: CR line ends read as LF (see OpenInput).
        tail = tail.replace(b"\r", b"\n")
    return bool(fingerprint(tail) == entry["tail_fingerprint"])


def _detect(prefix: bytes, name: str) -> str:
    found = detect_format(prefix)
    kind = container_kind(prefix)
    if kind is not None:
        raise SourceError(
            f"{name}: {kind}, not NMEA or CSV text; extract the logs it holds and ingest those"
        )
    if found is None:
        raise SourceError(
            f"{name}: neither NMEA AIS sentences nor a CSV header in its first lines; check the "
            "file, or force a reader with --format nmea|csv"
        )
    return found


def _first_line(inp: InputFile) -> bytes:
    with OpenInput(inp) as opened:
        head = read_exact(opened.stream, DETECT_BYTES)
    return head[: head.find(b"\n") + 1] or head


def ingest_paths(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    fmt: str = "auto",
    progress: bool = False,
    fallback_time_utc: dt.datetime | None = None,
) -> IngestSummary:
    """Return the summary of ingesting ``paths`` (files, folders, globs, "-") into the store.

    An input that cannot be read, or has AIS sentences but no time at all, is reported in the
    summary's ``errors`` and the other inputs are still ingested. ``fallback_time_utc`` times
    sentences that have no time source of their own.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    inputs = expand_inputs([paths] if isinstance(paths, str | Path) else paths)
    store = Store(settings.store.path)
    summary = IngestSummary(store=str(store.root))
    started = time.perf_counter()
    prepare()
    total = sum(i.path.stat().st_size for i in inputs if i.path is not None)
    with store.writer(), Progress(total, enabled=progress) as bar:
        run = _Run(store, settings, fallback_time_utc)
        try:
            for inp in inputs:
                summary.files.append(run.ingest(inp, fmt, bar))
                bar.update(0)
            run.flush(wait=True)
        except _WriteFailed as exc:
            cause = exc.__cause__
            fix = (
                "fix the cause (disk space, permissions) and run the ingest again"
                if isinstance(cause, OSError)
                else "this is a bug in the monitor, please report it with the inputs of this run"
            )
            raise StoreError(
                f"{store.root}: cannot write to the store ({type(cause).__name__}: {exc}); "
                f"what was written is intact: {fix}"
            ) from exc
        finally:
            # Never leave the lock while a write is still going on.
            run.close()
        summary.n_vessels = len(run.vessels)
    summary.elapsed_s = time.perf_counter() - started
    return summary


class Progress:
    """A rich progress bar on standard error over the raw bytes of all inputs, or nothing."""

    #: Below this many bytes a run is quick enough to need no bar.
    MIN_BYTES = 8 << 20

    def __init__(self, total_bytes: int, *, enabled: bool) -> None:
        self.total = total_bytes
        self.done = 0
        self._bar: Any = None
        self._task: Any = None
        if enabled and total_bytes >= self.MIN_BYTES:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("ingest"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._bar.add_task("ingest", total=total_bytes)

    def update(self, position_in_file: int) -> None:
        """Show ``position_in_file`` raw bytes read in the current input."""
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done + position_in_file)

    def advance_file(self, size: int) -> None:
        """Count the current input (``size`` raw bytes) as done."""
        self.done += size
        self.update(0)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
