"""The raw archive: every line the feeds receive, append-only, one file per feed and hour.

Collectors hand lines to :meth:`Archive.put`, which never blocks: lines wait in a queue bounded
in lines, and a batch that does not fit is dropped and counted, so a flood or a slow disk cannot
grow memory without bound. One writer thread appends each batch to
``<archive_dir>/<feed>/<YYYY-MM-DD>/<feed>_<YYYY-MM-DD>T<HH>.nmea`` (the hour it is written, UTC)
with a single unbuffered write, so a line that reached the file survives ``kill -9``; the file
is synced to disk every ``sync_s``. A file left without a final newline by a killed process gets
one before anything is appended, so no two lines are ever joined.

A file of a past hour is closed and never written again; the ingest job reads it into the store
and then compresses it (:func:`compress`). ``monitor ingest <archive_dir>`` rebuilds the store
from the archive at any time.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PLAIN_SUFFIX = ".nmea"
COMPRESSED_SUFFIX = ".nmea.gz"


@dataclass
class _Batch:
    feed: str
    data: bytes
    n_lines: int


@dataclass
class _OpenFile:
    hour: int
    path: Path
    fd: int
    dirty: bool = False


def hour_path(root: Path, feed: str, hour: int, attempt: int = 0) -> Path:
    """Return the archive file of ``feed`` for ``hour`` (hours since the epoch, UTC)."""
    start = dt.datetime.fromtimestamp(hour * 3600, dt.UTC)
    day = f"{start:%Y-%m-%d}"
    suffix = f"-{attempt}" if attempt else ""
    return root / feed / day / f"{feed}_{day}T{start:%H}{suffix}{PLAIN_SUFFIX}"


def plain_files(root: Path) -> list[Path]:
    """Return the archive files not compressed yet (being written, or waiting to be ingested)."""
    return sorted(p for p in root.glob(f"*/*/*{PLAIN_SUFFIX}") if p.is_file())


def compress(path: Path) -> Path:
    """Replace the archive file ``path`` by its gzip copy ``<path>.gz``; return the new path.

    The copy is written beside it, synced and renamed before the plain file goes, so a crash at
    any point leaves one whole copy (or both, and the next call finishes the job).
    """
    target = path.with_name(path.name + ".gz")
    tmp = path.with_name(f".{target.name}.tmp")
    with path.open("rb") as src, tmp.open("wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
            shutil.copyfileobj(src, gz, 1 << 20)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, target)
    path.unlink()
    return target


def _append_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class Archive:
    """The archive writer: a bounded queue of line batches and the thread that appends them."""

    def __init__(
        self,
        root: Path,
        *,
        max_queued_lines: int = 200_000,
        sync_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.max_queued_lines = max_queued_lines
        self.sync_s = sync_s
        self._clock = clock
        self._queue: deque[_Batch] = deque()
        self._queued_lines = 0
        self._cond = threading.Condition()
        self._files: dict[str, _OpenFile] = {}
        self._last_hour: dict[str, int] = {}
        #: Files given up for compression: never opened again.
        self._retired: set[Path] = set()
        self._files_lock = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_sync = time.monotonic()
        self._sync_busy = threading.Event()
        #: Lines written to the archive, and lines dropped because the queue was full.
        self.n_written = 0
        self.n_dropped = 0
        self.error: str | None = None

    # -- collectors' side -----------------------------------------------------------------------

    def put(self, feed: str, lines: list[bytes], wait_s: float = 0.0) -> bool:
        """Queue ``lines`` of ``feed``, waiting up to ``wait_s`` for room; False (lines dropped
        and counted) when the queue stays full."""
        if not lines:
            return True
        n = len(lines)
        data = b"\n".join(lines) + b"\n"
        deadline = time.monotonic() + wait_s
        with self._cond:
            while not self._stopping and self._queued_lines + n > self.max_queued_lines:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if self._stopping or self._queued_lines + n > self.max_queued_lines:
                self.n_dropped += n
                return False
            self._queue.append(_Batch(feed, data, n))
            self._queued_lines += n
            self._cond.notify()
        return True

    def wait_written(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued line is in the files; return False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._queued_lines:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def queued_lines(self) -> int:
        """Return the lines waiting to be written."""
        with self._cond:
            return self._queued_lines

    # -- the writer thread ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._cond:
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name="archive-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write every queued line, sync and close the files, stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._stopping:
                    self._cond.wait(timeout=min(0.5, self.sync_s) if self.sync_s else 0.5)
                batches = list(self._queue)
                self._queue.clear()
                stopping = self._stopping
            try:
                for batch in batches:
                    self._write(batch)
                self._housekeeping(force_sync=stopping)
            except OSError as exc:
                # A full or failing disk: lines that cannot be written are dropped and counted;
                # the service goes on and says so in its status and log.
                self.error = f"cannot write the archive: {exc}"
                log.error("archive: %s", self.error)
                with self._cond:
                    self.n_dropped += sum(b.n_lines for b in batches)
            finally:
                with self._cond:
                    self._queued_lines -= sum(b.n_lines for b in batches)
                    self._cond.notify_all()
            if stopping:
                with self._cond:
                    if self._queue:
                        continue
                self._close_all()
                return

    def _write(self, batch: _Batch) -> None:
        # Hours only move forward, even if the clock steps back: a closed file is never reopened.
        hour = max(int(self._clock() // 3600), self._last_hour.get(batch.feed, 0))
        handle = self._files.get(batch.feed)
        if handle is not None and handle.hour < hour:
            self._close(batch.feed)
            handle = None
        if handle is None:
            handle = self._open(batch.feed, hour)
        _append_all(handle.fd, batch.data)
        handle.dirty = True
        self.n_written += batch.n_lines
        if self.sync_s == 0:
            os.fsync(handle.fd)
            handle.dirty = False

    def _open(self, feed: str, hour: int) -> _OpenFile:
        with self._files_lock:
            attempt = 0
            path = hour_path(self.root, feed, hour)
            # A file handed to the ingest job for compression, or compressed already (by an
            # earlier run in this hour), is never written again: the next name is taken.
            while path in self._retired or path.with_name(path.name + ".gz").exists():
                attempt += 1
                path = hour_path(self.root, feed, hour, attempt)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            opened = _OpenFile(hour=hour, path=path, fd=fd)
            self._files[feed] = opened
            self._last_hour[feed] = hour
        size = os.fstat(fd).st_size
        if size:
            with path.open("rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    # A killed writer left half a line: end it, so it is not joined to the next.
                    _append_all(fd, b"\n")
        return opened

    def _close(self, feed: str) -> None:
        with self._files_lock:
            handle = self._files.pop(feed, None)
        if handle is not None:
            try:
                if handle.dirty:
                    os.fsync(handle.fd)
            finally:
                os.close(handle.fd)

    def _close_all(self) -> None:
        for feed in list(self._files):
            self._close(feed)

    def _housekeeping(self, force_sync: bool) -> None:
        hour = int(self._clock() // 3600)
        for feed, handle in list(self._files.items()):
            if handle.hour < hour:
                # The hour is over: close it, so the ingest job can compress it.
                self._close(feed)
        now = time.monotonic()
        if force_sync:
            for handle in list(self._files.values()):
                if handle.dirty:
                    os.fsync(handle.fd)
                    handle.dirty = False
        elif now - self._last_sync >= self.sync_s and not self._sync_busy.is_set():
            # Synced on a thread of its own: a sync can take a while on a busy disk, and lines
            # must go on being written meanwhile.
            fds = []
            for handle in list(self._files.values()):
                if handle.dirty:
                    fds.append(os.dup(handle.fd))
                    handle.dirty = False
            if fds:
                self._sync_busy.set()
                threading.Thread(target=self._sync, args=(fds,), daemon=True).start()
            self._last_sync = now

    def _sync(self, fds: list[int]) -> None:
        try:
            for fd in fds:
                try:
                    os.fsync(fd)
                except OSError as exc:
                    log.error("archive: cannot sync to disk: %s", exc)
                finally:
                    os.close(fd)
        finally:
            self._sync_busy.clear()

    # -- the ingest job's side ------------------------------------------------------------------

    def open_paths(self) -> set[Path]:
        """Return the files the writer has open (the current hour of each feed)."""
        with self._files_lock:
            return {handle.path for handle in self._files.values()}

    def closed_files(self) -> list[Path]:
        """Return the plain archive files that will never be written again."""
        with self._files_lock:
            # Listed under the lock: a file opened after this point is not in the listing.
            open_now = {handle.path for handle in self._files.values()}
            return [path for path in plain_files(self.root) if path not in open_now]

    def retire(self, path: Path, size_read: int) -> bool:
        """Return whether ``path`` may be compressed: closed, and still ``size_read`` bytes long.

        From then on the writer never opens it again. False when the writer has it open, or it
        grew after it was read (it is then read again by the next ingest).
        """
        with self._files_lock:
            if any(handle.path == path for handle in self._files.values()):
                return False
            try:
                if path.stat().st_size != size_read:
                    return False
            except FileNotFoundError:
                return False
            self._retired.add(path)
            return True


def remove_older_than(root: Path, cutoff: dt.date) -> list[Path]:
    """Delete compressed archive files of days before ``cutoff``; return them.

    Plain files are never deleted: they may not be in the store yet.
    """
    removed: list[Path] = []
    for day_dir in sorted(root.glob("*/*")):
        try:
            day = dt.date.fromisoformat(day_dir.name)
        except ValueError:
            continue
        if day >= cutoff or not day_dir.is_dir():
            continue
        for path in sorted(day_dir.glob(f"*{COMPRESSED_SUFFIX}")):
            path.unlink()
            removed.append(path)
        if not any(day_dir.iterdir()):
            day_dir.rmdir()
    return removed
