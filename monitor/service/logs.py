"""The service's log: plain or JSON lines on standard error, with every known secret masked.

Secrets (SMTP passwords, webhook URLs that carry tokens) are registered once at start-up; a
filter on the handler replaces them in every record, whatever logger wrote it and whatever an
exception's message says, so neither the journal nor a JSON log shipper ever receives one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from typing import Literal

LogFormat = Literal["plain", "json"]
MASK = "***"
#: Secrets shorter than this are not masked (masking "a" would garble every message).
_MIN_SECRET_CHARS = 4


class Redactor:
    """Masks registered secret strings in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            merged = set(self._secrets) | {s for s in secrets if s and len(s) >= _MIN_SECRET_CHARS}
            # Longest first: a secret that contains another is masked whole.
            self._secrets = tuple(sorted(merged, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingFilter(logging.Filter):
    """Renders each record's message and traceback with the secrets masked."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["traceback"] = record.exc_text
        elif record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(
    log_format: LogFormat, redact: Redactor, level: int = logging.INFO
) -> logging.Handler:
    """Send every log record to standard error in ``log_format``, secrets masked; return the
    handler (it replaces the root logger's handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(redact))
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        plain = logging.Formatter(
            "%(asctime)sZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        plain.converter = time.gmtime
        handler.setFormatter(plain)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # apscheduler logs every run, and every run skipped while the one before is still going
    # (coalesced, as intended): the run log records runs, the journal need not.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    return handler
