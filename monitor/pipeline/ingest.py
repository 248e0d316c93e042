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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from monitor.config import IngestSettings, Settings
from monitor.core.jit import prepare
from monitor.decode.codes import Reject
from monitor.decode.csv.decoder import CsvDecoder
from monitor.decode.nmea.clock import ClockState
from monitor.decode.nmea.decoder import NmeaDecoder, untimed_error
from monitor.errors import ConfigError, MonitorError, SourceError, StoreError
from monitor.pipeline.ingest_manifest import RunManifest, clock_of, counts_read, epoch_us
from monitor.pipeline.ingest_summary import FileSummary, IngestSummary
from monitor.pipeline.ingest_writer import BufferedWriter, WriteFailed
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
from monitor.store.parquet import Store, live_files

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
    return epoch_us(ingest.min_time_utc), epoch_us(end)


class _InputReader:
    """Reads inputs one after the other into the writer's buffers, resuming from the manifest."""

    def __init__(
        self,
        settings: Settings,
        fallback: dt.datetime | None,
        manifest: RunManifest,
        writer: BufferedWriter,
    ) -> None:
        self.settings = settings
        self.fallback = fallback
        self.manifest = manifest
        self.writer = writer
        self.times_us = accepted_times_us(settings.ingest, dt.datetime.now(dt.UTC))

    def ingest(self, inp: InputFile, fmt: str, progress: Progress) -> FileSummary:
        """Read one input into the buffers; return its summary (errors are caught and kept)."""
        summary = FileSummary(input=inp.name)
        self.writer.files[inp.name] = summary
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
        entry = self.manifest.match(head, size) if inp.path is not None else None
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
                    clock=clock_of(entry) if start > 0 and entry is not None else None,
                )
            replaces = str(entry["fingerprint"]) if entry is not None else None
            base = {
                "input": inp.name,
                "fingerprint": fingerprint(head),
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
            # What times the lines after the last chunk read (logs timed by other lines), and
            # what had been read before it: a checkpoint at a chunk's start records those.
            clock = _clock_now(decoder)
            read_before = counts_read(summary)
            for chunk, batch in decoded:
                if chunk.overlong:
                    batch.n_lines += chunk.overlong
                    batch.rejected[Reject.LINE_TOO_LONG.label] += chunk.overlong
                totals.n_messages += batch.n_messages
                totals.rejected.update(batch.rejected)
                self.writer.absorb(batch, summary)
                progress.update(opened.raw_position())
                if self.writer.n_buffered >= FLUSH_ROWS:
                    # An input that has given nothing yet may turn out to have no time source:
                    # it gets no manifest row until it does.
                    if inp.path is not None and summary.n_messages > 0:
                        # Resume from this chunk's start: a message whose first part is in it
                        # may still be waiting for its other parts inside the decoder.
                        self.writer.checkpoint(
                            self.manifest.checkpoint(
                                base,
                                summary,
                                chunk.start,
                                tail,
                                False,
                                replaces,
                                clock,
                                read_before,
                            )
                        )
                    self.writer.flush()
                clock = _clock_now(decoder)
                read_before = counts_read(summary)
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
                self.writer.checkpoint(
                    self.manifest.checkpoint(
                        base, summary, end, tail, True, replaces, _clock_now(decoder)
                    )
                )
            progress.advance_file(size)
        finally:
            opened.close()

    def _finish(self, decoder: Any, summary: FileSummary, totals: DecodedBatch) -> None:
        last = decoder.flush()
        totals.n_messages += last.n_messages
        totals.rejected.update(last.rejected)
        self.writer.absorb(last, summary)


def _clock_now(decoder: NmeaDecoder | CsvDecoder) -> ClockState | None:
    return decoder.clock if isinstance(decoder, NmeaDecoder) else None


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
        summary.store_was_empty = (
            not any(live_files(folder) for folder in store.positions_dir.glob("date=*"))
            and not store.statics_files()
        )
        manifest = RunManifest(store)
        writer = BufferedWriter(store, manifest, settings.ingest.duplicate_window_s)
        reader = _InputReader(settings, fallback_time_utc, manifest, writer)
        try:
            for inp in inputs:
                summary.files.append(reader.ingest(inp, fmt, bar))
                bar.update(0)
            writer.flush(wait=True)
        except WriteFailed as exc:
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
            writer.close()
        summary.n_vessels = len(writer.vessels)
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
