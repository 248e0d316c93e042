"""One round of alerts for the service: evaluate the rules on the stored calls, put new alerts
in the outbox, send what is pending to each sink."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.alerts.outbox import Outbox
from monitor.alerts.rules import evaluate
from monitor.alerts.sinks import Sink, SinkError, build_sinks
from monitor.analyse.geofences import load_zones
from monitor.analyse.watchlist import Watchlist, load_watchlist
from monitor.config import EVENT_ALERT_KINDS, Settings
from monitor.errors import ConfigError
from monitor.store.calls import load_calls
from monitor.store.events import load_events
from monitor.store.parquet import Store

log = logging.getLogger(__name__)


def check_rule_ports(settings: Settings) -> None:
    """Raise ConfigError for a rule that names a port the geofences do not have."""
    ports = {zone.port_id for zone in load_zones(settings) if zone.kind != "area"}
    for index, rule in enumerate(settings.alerts.rules):
        unknown = [port for port in rule.ports if port not in ports]
        if unknown:
            raise ConfigError(
                f"alerts.rules[{index}].ports: {', '.join(map(repr, unknown))} is not a port id "
                f"of the geofences; known: {', '.join(sorted(ports)) or '(none)'}"
            )


def report_link(settings: Settings) -> str:
    """Return where an alert points for the report: the latest report's URL or file."""
    base = settings.alerts.report_url
    if base:
        return base.rstrip("/") + "/latest/index.html"
    return (Path(settings.report.output) / "latest" / "index.html").resolve().as_uri()


class AlertDispatcher:
    """Evaluates the rules and drains the outbox; call it after each detection."""

    def __init__(self, settings: Settings, redact: Callable[[str], str] = str) -> None:
        check_rule_ports(settings)
        self.settings = settings
        self.redact = redact
        self.sinks: list[Sink] = build_sinks(settings)
        self.outbox = Outbox(settings.store.folder())
        zones = load_zones(settings)
        self.port_names = {z.port_id: z.name for z in zones if z.kind == "port"}
        self._on_events = any(rule.when in EVENT_ALERT_KINDS for rule in settings.alerts.rules)
        self._watchlists: dict[Path, tuple[float, Watchlist]] = {}
        self.watchlists()  # a missing or broken watchlist is an error at start-up

    def watchlists(self) -> dict[Path, Watchlist]:
        """Return the watchlists, read again when their file changed."""
        found: dict[Path, Watchlist] = {}
        for rule in self.settings.alerts.rules:
            if rule.watchlist is None:
                continue
            try:
                mtime = rule.watchlist.stat().st_mtime
            except OSError:
                mtime = -1.0
            cached = self._watchlists.get(rule.watchlist)
            if cached is None or cached[0] != mtime:
                watchlist = load_watchlist(
                    rule.watchlist, match_names=self.settings.watchlist.match_names
                )
                cached = (mtime, watchlist)
                self._watchlists[rule.watchlist] = cached
            found[rule.watchlist] = cached[1]
        return found

    def __call__(self) -> dict[str, Any]:
        """Run one round; return the counts (alerts raised, new, sent, still pending)."""
        store = Store(self.settings.store.path)
        events = statics = None
        if self._on_events:
            events = load_events(store.root)
            statics = store.scan_statics().collect()
        alerts = evaluate(
            load_calls(store.root),
            self.settings.alerts.rules,
            newest_utc=store.newest_position_time(),
            max_age_h=self.settings.alerts.max_age_h,
            oldest_utc=store.oldest_position_time(),
            feed_start_grace_h=self.settings.alerts.feed_start_grace_h,
            report=report_link(self.settings),
            watchlists=self.watchlists(),
            events=events,
            statics=statics,
            port_names=self.port_names,
        )
        new = self.outbox.add(alerts, [sink.name for sink in self.sinks])
        sent, pending = self.send_pending()
        return {"alerts": len(alerts), "new": new, "sent": sent, "pending": pending}

    def send_pending(self) -> tuple[int, int]:
        """Send each sink its pending alerts, oldest first; return (sent, still pending).

        A sink that fails is left for this round (it is probably down) and tried next round.
        """
        sent = pending = 0
        for sink in self.sinks:
            waiting = self.outbox.pending(sink.name)
            for n, entry in enumerate(waiting):
                try:
                    sink.send(entry.payload)
                except (SinkError, OSError) as exc:
                    error = self.redact(str(exc))
                    self.outbox.mark_failed(entry.alert_id, sink.name, error)
                    log.warning("%s; %d alert(s) wait for the next round", error, len(waiting) - n)
                    pending += len(waiting) - n
                    break
                self.outbox.mark_sent(entry.alert_id, sink.name)
                sent += 1
        return sent, pending
