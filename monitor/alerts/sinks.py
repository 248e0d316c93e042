"""Alert sinks: the log, a JSON-lines file, an HTTP webhook and email over SMTP.

``send`` returns once the sink has accepted the alert and raises :class:`SinkError` otherwise;
the outbox marks an alert sent only after ``send`` returned. The webhook and SMTP sinks try
``retries`` times, waiting ``backoff_s``, then twice as long, and so on, between attempts.
Errors name the sink, never its URL or password.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from monitor import __version__
from monitor.alerts.secrets import smtp_password, webhook_url
from monitor.config import AlertSink, Settings
from monitor.errors import MonitorError

log = logging.getLogger(__name__)

#: A crash between writing an alert and marking it sent can only leave the last few lines
#: unmarked: the JSON-lines sink looks this far back for them before appending.
_JSONL_TAIL_BYTES = 256 * 1024


class SinkError(MonitorError):
    """A sink did not accept an alert (it stays pending and is tried again)."""


class Sink(Protocol):
    name: str

    def send(self, alert: dict[str, Any]) -> None: ...


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def _with_retries(name: str, retries: int, backoff_s: float, attempt: Callable[[], None]) -> None:
    error = ""
    for n in range(retries):
        try:
            attempt()
            return
        except SinkError as exc:
            error = str(exc)
        if n + 1 < retries:
            time.sleep(backoff_s * 2**n)
    raise SinkError(f"sink {name}: {error} (after {retries} attempt(s))")


class LogSink:
    """Writes each alert's text to the log (WARNING, logger ``monitor.alerts``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, alert: dict[str, Any]) -> None:
        logging.getLogger("monitor.alerts").warning(
            "ALERT %s %s: %s", alert["alert_id"], alert["rule"], alert["text"]
        )


class JsonlSink:
    """Appends each alert as one JSON line to a file, synced to disk before it counts as sent.

    An alert already among the file's last lines (written just before a crash, not yet marked
    sent) is not written again.
    """

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = Path(path)
        self._written: set[str] | None = None

    def _recent_ids(self) -> set[str]:
        ids: set[str] = set()
        try:
            with self.path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - _JSONL_TAIL_BYTES))
                tail = handle.read()
        except FileNotFoundError:
            return ids
        for line in tail.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # the first, cut line of the tail, or a line cut by a crash
            if isinstance(entry, dict) and isinstance(entry.get("alert_id"), str):
                ids.add(entry["alert_id"])
        return ids

    def send(self, alert: dict[str, Any]) -> None:
        if self._written is None:
            self._written = self._recent_ids()
        if alert["alert_id"] in self._written:
            return
        line = json.dumps(alert, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if os.fstat(fd).st_size:
                    with self.path.open("rb") as handle:
                        handle.seek(-1, os.SEEK_END)
                        if handle.read(1) != b"\n":
                            os.write(fd, b"\n")  # end a line a crash cut short
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise SinkError(f"sink {self.name}: cannot write {self.path} ({exc.strerror})") from exc
        self._written.add(alert["alert_id"])


class WebhookSink:
    """POSTs each alert as JSON (its ``text`` field is what Slack and Mattermost show)."""

    def __init__(self, sink: AlertSink) -> None:
        self.name = sink.key
        self.settings = sink
        self._url = webhook_url(sink)
        self._context = _tls_context(sink.ca_file)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": f"monitor/{__version__}"},
        )
        try:
            with urllib.request.urlopen(
                request, timeout=self.settings.timeout_s, context=self._context
            ) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            raise SinkError(f"the server answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise SinkError(f"no answer ({type(reason).__name__}: {reason})") from None
        if not 200 <= status < 300:
            raise SinkError(f"the server answered HTTP {status}")

    def send(self, alert: dict[str, Any]) -> None:
        body = json.dumps(alert, ensure_ascii=False).encode("utf-8")
        _with_retries(
            self.name, self.settings.retries, self.settings.backoff_s, lambda: self._post(body)
        )


def _one_line(text: str) -> str:
    return " ".join(text.split())


class SmtpSink:
    """Emails each alert (STARTTLS, then login when a username is set)."""

    def __init__(self, sink: AlertSink) -> None:
        assert sink.host is not None and sink.sender is not None
        self.name = sink.key
        self.settings = sink
        self._password = smtp_password(sink)
        self._context = _tls_context(sink.ca_file)

    def message(self, alert: dict[str, Any]) -> EmailMessage:
        """Return the email of ``alert``."""
        s = self.settings
        message = EmailMessage()
        message["Subject"] = _one_line(f"[monitor] {alert['text']}")[:250]
        message["From"] = s.sender or ""
        message["To"] = ", ".join(s.to)
        # The same alert always has the same Message-ID: mail clients drop a repeat.
        message["Message-ID"] = f"<{alert['alert_id']}@monitor.alerts>"
        message.set_content(
            f"{alert['text']}\n\nReport: {alert['report']}\n\n"
            + json.dumps(alert, indent=1, ensure_ascii=False)
            + "\n"
        )
        return message

    def _deliver(self, message: EmailMessage) -> None:
        s = self.settings
        assert s.host is not None
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                if s.starttls:
                    smtp.starttls(context=self._context)
                if s.username is not None:
                    smtp.login(s.username, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise SinkError(f"login refused ({exc.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SinkError(f"{type(exc).__name__}: {exc}") from None

    def send(self, alert: dict[str, Any]) -> None:
        message = self.message(alert)
        _with_retries(
            self.name,
            self.settings.retries,
            self.settings.backoff_s,
            lambda: self._deliver(message),
        )


def build_sinks(settings: Settings) -> list[Sink]:
    """Return the configured sinks (the log alone when none is configured).

    Secrets are read now: a missing variable or file is a ConfigError at start-up.
    """
    sinks: list[Sink] = []
    for sink in settings.alerts.sinks:
        if sink.type == "log":
            sinks.append(LogSink(sink.key))
        elif sink.type == "jsonl":
            assert sink.path is not None
            sinks.append(JsonlSink(sink.key, sink.path))
        elif sink.type == "webhook":
            sinks.append(WebhookSink(sink))
        else:
            sinks.append(SmtpSink(sink))
    return sinks or [LogSink("log")]
