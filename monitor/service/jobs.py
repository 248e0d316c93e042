"""The service's jobs: ingest (then detect and alerts), reports and retention, each logged.

Every run is a row in the run log (:mod:`monitor.store.runlog`). A job that fails is logged with
its traceback (secrets masked) and recorded as failed; it runs again at its next time, and the
service goes on. Jobs that write to the store hold the store's writer lock, so they never run
at the same time as each other or as an analyst's command.

The ingest job reads the archive files that are not compressed yet (the current hour of each
feed, and past hours that a stop or crash left plain) and the settled inbox files. The store's
manifest resumes each file where the last run stopped, so a killed cycle is simply run again.
Past hours, once in the store, are compressed; inbox files are filed away.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from monitor.analyse.geofences import load_zones
from monitor.config import Settings
from monitor.pipeline.detect import detect_calls
from monitor.pipeline.ingest import ingest_paths
from monitor.report.build import write_report
from monitor.report.window import newest_message_time, report_window
from monitor.service.archive import Archive, compress, plain_files, remove_older_than
from monitor.service.inbox import InboxWatcher
from monitor.service.logs import Redactor
from monitor.service.memory import give_back, resident_mb
from monitor.store.parquet import Store
from monitor.store.runlog import RunLog

log = logging.getLogger(__name__)

_T = TypeVar("_T")
ReportKind = Literal["latest", "daily", "weekly"]
#: Run-log rows are kept this long.
RUN_LOG_DAYS = 90


def report_period(kind: ReportKind, settings: Settings) -> tuple[dt.datetime, dt.datetime] | None:
    """Return the (since, until) of a scheduled report, from the newest message in the store,
    or None when the store holds no positions yet.

    latest: the last ``report.period`` of data; daily: the last whole UTC day before the newest
    message; weekly: the last whole week, Monday 00:00 to Monday 00:00 UTC. Message time, not
    the clock, so a replayed or delayed feed gets the reports of its own days.
    """
    positions = Store(settings.store.path).scan_positions()
    newest = newest_message_time(positions)
    if newest is None:
        return None
    if kind == "latest":
        return report_window(positions, settings.report.period)
    midnight = newest.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "daily":
        return midnight - dt.timedelta(days=1), midnight
    monday = midnight - dt.timedelta(days=midnight.weekday())
    return monday - dt.timedelta(days=7), monday


class Jobs:
    """The jobs of one service, over one store, archive and set of inboxes."""

    def __init__(
        self,
        settings: Settings,
        archive: Archive | None,
        inboxes: list[InboxWatcher],
        *,
        redact: Redactor | None = None,
        alerts: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.archive = archive
        self.inboxes = inboxes
        self.redact = redact or Redactor()
        self.alerts = alerts
        self.store_root = settings.store.folder()
        self.runlog = RunLog(self.store_root)
        self.has_zones = any(zone.kind != "area" for zone in load_zones(settings))
        self._writing = threading.Lock()
        #: Detection runs after an ingest that stored rows, and once after each start (a crash
        #: may have come between an ingest and its detection).
        self._detect_due = True

    # -- bookkeeping ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _logged(self, job: str) -> Iterator[dict[str, Any]]:
        """Record a run of ``job`` in the run log; a failure is logged, recorded and swallowed."""
        run_id = self._record(lambda: self.runlog.start(job))
        counts: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            yield counts
        except Exception as exc:
            message = self.redact(f"{type(exc).__name__}: {exc}")
            log.exception("job %s failed; it runs again at its next time", job)
            self._ended(counts, started)
            if run_id is not None:
                self._record(lambda: self.runlog.finish(run_id, "failed", counts, message))
        else:
            self._ended(counts, started)
            outcome = str(counts.pop("outcome", "ok"))
            if run_id is not None:
                self._record(lambda: self.runlog.finish(run_id, outcome, counts))

    @staticmethod
    def _ended(counts: dict[str, Any], started: float) -> None:
        """Give back what a run freed; add its seconds and the memory the service holds after
        it to its ``counts``."""
        give_back()
        counts["seconds"] = round(time.perf_counter() - started, 3)
        rss_mb = resident_mb()
        if rss_mb is not None:
            counts["rss_mb"] = round(rss_mb)

    def _record(self, write: Callable[[], _T]) -> _T | None:
        """Run a run-log write; a broken store must not stop the job from being tried."""
        try:
            return write()
        except (OSError, sqlite3.Error) as exc:
            log.error("cannot write the run log: %s", self.redact(str(exc)))
            return None

    @contextlib.contextmanager
    def _store_writer(self) -> Iterator[None]:
        # One writing job of the service at a time; against other processes, ingest and
        # detection hold the store's own locks (an analyst's command waits, or is waited for).
        with self._writing:
            yield

    # -- ingest, detect, alerts -----------------------------------------------------------------

    def cycle(self) -> None:
        """Ingest new archive data and inbox files, detect calls if anything was stored, alert."""
        with self._logged("ingest") as counts, self._store_writer():
            counts.update(self.ingest())
        if self.has_zones and self._detect_due:
            with self._logged("detect") as counts, self._store_writer():
                counts.update(self.detect())
        if self.alerts is not None and self.has_zones:
            with self._logged("alerts") as counts:
                counts.update(self.alerts())

    def ingest(self) -> dict[str, Any]:
        """Ingest the plain archive files and the ready inbox files; return the counts.

        Hold the writer lock. Closed archive hours that were read to their end are compressed.
        """
        closed: dict[Path, int] = {}
        plain: list[Path] = []
        if self.archive is not None:
            # Sizes first: a file listed as closed is complete at this size.
            closed = {path: path.stat().st_size for path in self.archive.closed_files()}
            plain = plain_files(self.archive.root)
        inbox = [(watcher, path) for watcher in self.inboxes for path in watcher.ready()]
        paths = [*plain, *(path for _, path in inbox)]
        counts: dict[str, Any] = {"files": len(paths)}
        if not paths:
            return counts
        summary = ingest_paths(paths, self.settings)
        files = {f.input: f for f in summary.files}
        counts.update(
            lines=summary.n_lines,
            positions=summary.n_positions,
            statics=summary.n_statics,
            rejected=sum(summary.rejected.values()),
        )
        if summary.n_positions or summary.n_statics:
            self._detect_due = True
        compressed = 0
        for path, size in closed.items():
            done = files.get(str(path))
            ok = done is not None and done.status != "error"
            if ok and self.archive is not None and self.archive.retire(path, size):
                compress(path)
                compressed += 1
        counts["archive_files_compressed"] = compressed
        failed = 0
        for watcher, path in inbox:
            done = files.get(str(path))
            error = done.error if done is not None and done.status == "error" else None
            watcher.finish(path, error or None)
            failed += error is not None
        counts["inbox_files"] = len(inbox)
        counts["inbox_failed"] = failed
        errors = [f.error for f in summary.files if f.status == "error" and f.error]
        if errors:
            counts["errors"] = [self.redact(e) for e in errors[:5]]
        return counts

    def detect(self) -> dict[str, Any]:
        """Detect calls of the vessels with new positions; return the counts."""
        summary = detect_calls(self.settings)
        self._detect_due = False
        return {
            "vessels": summary.vessels_processed,
            "positions": summary.positions_processed,
            "calls": summary.calls_total,
            "calls_new": summary.calls_new,
            "in_port": summary.calls_open,
        }

    # -- reports and retention ------------------------------------------------------------------

    def report(self, kind: ReportKind) -> None:
        """Write the ``latest``, ``daily`` or ``weekly`` report (see :func:`report_period`)."""
        with self._logged(f"report_{kind}") as counts:
            period = report_period(kind, self.settings)
            if period is None:
                counts.update(outcome="skipped", reason="no positions in the store yet")
                return
            since, until = period
            path = write_report(
                self.settings,
                since=since,
                until=until,
                folder="latest" if kind == "latest" else None,
            )
            counts.update(since=since.isoformat(), until=until.isoformat(), path=str(path))

    def retention(self) -> None:
        """Delete archive files and positions older than their configured ages; compact."""
        service = self.settings.service
        with self._logged("retention") as counts, self._store_writer():
            today = dt.datetime.now(dt.UTC).date()
            if service.keep_archive_days and self.archive is not None:
                cutoff = today - dt.timedelta(days=service.keep_archive_days)
                counts["archive_files_deleted"] = len(remove_older_than(self.archive.root, cutoff))
            store = Store(self.store_root)
            if not store.root.is_dir():
                return
            # Positions go: no ingest may add to them and no analysis read them meanwhile.
            with store.writer(), store.analysis_writer("retention"):
                if service.keep_positions_days:
                    newest = newest_message_time(store.scan_positions())
                    if newest is not None:
                        cutoff = newest.date() - dt.timedelta(days=service.keep_positions_days)
                        dropped = store.drop_positions_before(cutoff)
                        counts["position_days_deleted"] = len(dropped)
                        self._detect_due = self._detect_due or bool(dropped)
                counts["folders_compacted"] = store.compact_all()
            counts["runs_deleted"] = self.runlog.prune(
                dt.datetime.now(dt.UTC) - dt.timedelta(days=RUN_LOG_DAYS)
            )
