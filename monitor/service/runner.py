"""Running the service: collectors, the archive writer, the scheduled jobs, the heartbeat, signals.

Jobs run on apscheduler 3 (a background scheduler in UTC): one instance of a job at a time,
missed runs coalesced into one. The first ingest cycle runs at start, so a restart catches up
at once.

Shutdown (SIGTERM or SIGINT): the collectors stop reading, the archive writes what they queued,
syncs and closes its files, and a running job is waited for; every store write is atomic, so a
job cut short by a second signal (which exits at once) leaves no partial data either.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Settings
from monitor.service.archive import Archive
from monitor.service.feeds import Collector, TcpCollector, UdpCollector
from monitor.service.inbox import InboxWatcher
from monitor.service.jobs import Jobs, ReportKind
from monitor.service.logs import LogFormat, Redactor, setup_logging
from monitor.service.status import HEARTBEAT_S, write_heartbeat
from monitor.store.locks import writer_lock

log = logging.getLogger(__name__)

#: Held by a running service for its whole life: one service per store.
SERVICE_LOCK = ".service.lock"
#: A cron job that could not start on time (the machine slept, a long job ran) still runs if it
#: is at most this late; later, it waits for its next time.
MISFIRE_GRACE_S = 3600


class Service:
    """One running service over ``settings``; :meth:`run` blocks until a signal stops it."""

    def __init__(
        self,
        settings: Settings,
        *,
        redact: Redactor | None = None,
        alerts: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.redact = redact or Redactor()
        service = settings.service
        self.archive = Archive(
            service.archive_dir, max_queued_lines=service.queue_lines, sync_s=service.archive_sync_s
        )
        self.collectors: list[Collector] = []
        self.inboxes: list[InboxWatcher] = []
        for feed in service.feeds:
            if feed.type == "tcp":
                self.collectors.append(TcpCollector(feed, self.archive))
            elif feed.type == "udp":
                self.collectors.append(UdpCollector(feed, self.archive))
            else:
                self.inboxes.append(InboxWatcher(feed))
        self.jobs = Jobs(settings, self.archive, self.inboxes, redact=self.redact, alerts=alerts)
        self.scheduler = BackgroundScheduler(
            timezone=dt.UTC,
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": MISFIRE_GRACE_S,
            },
        )
        self.started_utc = dt.datetime.now(dt.UTC)
        self._held = contextlib.ExitStack()
        self.stopping = threading.Event()
        self._signals = 0
        self._state = "starting"
        self._beat_thread: threading.Thread | None = None
        self._beat_stop = threading.Event()

    # -- start and stop -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the archive, the collectors, the scheduler and the heartbeat.

        Raises StoreError when another ``monitor serve`` runs on the same store.
        """
        store = self.settings.store.path
        self._held.enter_context(
            writer_lock(Path(store) / SERVICE_LOCK, job="monitor serve", wait_s=0)
        )
        abandoned = self.jobs.runlog.abandon_running()
        if abandoned:
            log.warning(
                "%d job run(s) of an earlier run were cut short (recorded as abandoned)", abandoned
            )
        if not self.jobs.has_zones:
            log.warning(
                "no port geofences configured: calls are not detected and no alerts are sent; "
                "add geofences.files or geofences.circles"
            )
        self.archive.start()
        for inbox in self.inboxes:
            inbox.start()
        for collector in self.collectors:
            collector.start()
        self._schedule()
        self.scheduler.start()
        self._state = "running"
        self._beat_thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._beat_thread.start()
        log.info(
            "service started: %d feed(s), store %s, archive %s, ingest every %g s",
            len(self.settings.service.feeds),
            store,
            self.archive.root,
            self.settings.service.ingest_interval_s,
        )

    def _schedule(self) -> None:
        service = self.settings.service
        self.scheduler.add_job(
            self.jobs.cycle,
            IntervalTrigger(seconds=service.ingest_interval_s, timezone=dt.UTC),
            id="ingest",
            name="ingest, detect, alerts",
            next_run_time=dt.datetime.now(dt.UTC),
        )
        reports: list[tuple[ReportKind, str]] = [
            ("latest", service.latest_report_cron),
            ("daily", service.daily_report_cron),
            ("weekly", service.weekly_report_cron),
        ]
        for kind, cron in reports:
            if cron.strip():
                self.scheduler.add_job(
                    self.jobs.report,
                    CronTrigger.from_crontab(cron, timezone=dt.UTC),
                    args=[kind],
                    id=f"report_{kind}",
                )
        if service.retention_cron.strip():
            self.scheduler.add_job(
                self.jobs.retention,
                CronTrigger.from_crontab(service.retention_cron, timezone=dt.UTC),
                id="retention",
            )

    def stop(self) -> None:
        """Stop cleanly: collectors, then the archive (flushed), then the jobs (waited for)."""
        self._state = "stopping"
        log.info("stopping: closing feeds, flushing the archive, waiting for a running job")
        for collector in self.collectors:
            collector.stop()
        for inbox in self.inboxes:
            inbox.stop()
        self.archive.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self._beat_stop.set()
        if self._beat_thread is not None:
            self._beat_thread.join()
        self._state = "stopped"
        self._write_heartbeat()
        self._held.close()
        log.info(
            "stopped: %d line(s) archived, %d dropped",
            self.archive.n_written,
            self.archive.n_dropped,
        )

    def run(self) -> None:
        """Run until SIGTERM or SIGINT; a second signal exits at once."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.start()
            self.stopping.wait()
            self.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            # Every store write is atomic: exiting now leaves no partial data.
            os.write(2, b"second signal: exiting at once\n")
            os._exit(128 + signum)
        log.info(
            "%s received; stopping (send it again to exit at once)", signal.Signals(signum).name
        )
        self.stopping.set()

    # -- heartbeat ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return the heartbeat: process, feeds, archive counters, next run of each job."""
        now = time.time()
        next_runs: dict[str, str | None] = {}
        if self.scheduler.running:
            for job in self.scheduler.get_jobs():
                when = job.next_run_time.isoformat() if job.next_run_time else None
                next_runs[job.id] = when
                if job.id == "ingest":
                    next_runs["detect"] = next_runs["alerts"] = when
        feeds = [c.state.snapshot(now) for c in self.collectors]
        feeds += [i.state.snapshot(now) for i in self.inboxes]
        return {
            "pid": os.getpid(),
            "state": self._state,
            "started_utc": self.started_utc.isoformat(),
            "feeds": feeds,
            "next_runs": next_runs,
            "archive": {
                "root": str(self.archive.root),
                "lines_written": self.archive.n_written,
                "lines_dropped": self.archive.n_dropped,
                "lines_queued": self.archive.queued_lines(),
                "error": self.archive.error,
            },
        }

    def _write_heartbeat(self) -> None:
        try:
            write_heartbeat(self.settings.store.path, self.snapshot(), self.redact)
        except OSError as exc:
            log.warning("cannot write the status file: %s", exc)

    def _beat(self) -> None:
        while not self._beat_stop.is_set():
            self._write_heartbeat()
            self._beat_stop.wait(HEARTBEAT_S)


def serve(settings: Settings, log_format: LogFormat = "plain") -> None:
    """Run the service over ``settings`` until a signal stops it, logging to standard error."""
    from monitor.alerts.dispatch import AlertDispatcher
    from monitor.alerts.secrets import secret_values

    # Secrets first: nothing is logged before they are masked.
    redact = Redactor(secret_values(settings))
    setup_logging(log_format, redact)
    alerts = AlertDispatcher(settings, redact) if settings.alerts.rules else None
    Service(settings, redact=redact, alerts=alerts).run()
