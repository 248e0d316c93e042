"""The inbox feed: files dropped in a folder (a provider's sync, a copy by hand) are ingested.

A thread watches the folder and calls a file ready once its size and modification time have
not changed for ``settle_s`` (a copy still in progress is left alone). The ingest job takes the
ready files, ingests them, and moves each to ``processed/``, or to ``failed/`` with the reason in
``<name>.reason.txt`` beside it. A file ingested but not yet moved when the service is killed is
found unchanged in the store's manifest by the next run, and moved then: nothing is read twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from monitor.config import FeedSettings
from monitor.core.atomic import atomic_write_text
from monitor.service.feeds import FeedState

log = logging.getLogger(__name__)

PROCESSED = "processed"
FAILED = "failed"
_POLL_S = 1.0


def _free_name(folder: Path, name: str) -> Path:
    """Return ``folder/name``, or ``folder/name.N`` when that is taken."""
    target = folder / name
    n = 1
    while target.exists():
        target = folder / f"{name}.{n}"
        n += 1
    return target


class InboxWatcher:
    """Watches one inbox folder; hands settled files to the ingest job and files them after."""

    def __init__(self, settings: FeedSettings, poll_s: float = _POLL_S) -> None:
        assert settings.path is not None
        self.settings = settings
        self.folder = Path(settings.path)
        self.poll_s = poll_s
        self.state = FeedState(name=settings.name, type="inbox")
        self._seen: dict[Path, tuple[int, int, float]] = {}
        self._ready: list[Path] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for name in (PROCESSED, FAILED):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(
            target=self._run, name=f"inbox-{self.settings.name}", daemon=True
        )
        self._thread.start()
        self.state.set("watching", since=time.time())
        log.info("feed %s: watching %s", self.settings.name, self.folder)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.state.set("stopped")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan(time.monotonic())
            except OSError as exc:
                self.state.set("watching", error=str(exc), since=self.state.connected_since)
            self._stop.wait(self.poll_s)

    def scan(self, now: float) -> None:
        """Look at the folder once: note new and changed files, mark settled ones ready."""
        present: set[Path] = set()
        for entry in os.scandir(self.folder):
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            path = Path(entry.path)
            present.add(path)
            stat = entry.stat(follow_symlinks=False)
            key = (stat.st_size, stat.st_mtime_ns)
            seen = self._seen.get(path)
            if seen is None or seen[:2] != key:
                self._seen[path] = (*key, now)
                continue
            if now - seen[2] >= self.settings.settle_s:
                with self._lock:
                    if path not in self._ready:
                        self._ready.append(path)
        for gone in set(self._seen) - present:
            del self._seen[gone]

    def ready(self) -> list[Path]:
        """Return the settled files waiting to be ingested."""
        with self._lock:
            return [path for path in self._ready if path.exists()]

    def finish(self, path: Path, error: str | None) -> Path:
        """File ``path`` away: into processed/, or failed/ with ``error``; return where it went."""
        with self._lock:
            if path in self._ready:
                self._ready.remove(path)
        if error is None:
            target = _free_name(self.folder / PROCESSED, path.name)
            os.replace(path, target)
            self.state.count_lines(1, time.time())
            log.info("feed %s: %s ingested, moved to %s", self.settings.name, path.name, target)
        else:
            target = _free_name(self.folder / FAILED, path.name)
            atomic_write_text(target.with_name(target.name + ".reason.txt"), error + "\n")
            os.replace(path, target)
            self.state.drop("failed_files", 1)
            self.state.set("watching", error=error, since=self.state.connected_since)
            log.warning(
                "feed %s: %s failed (%s), moved to %s", self.settings.name, path.name, error, target
            )
        return target
