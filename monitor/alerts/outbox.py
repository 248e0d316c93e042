"""The outbox: every alert for every sink, in the store, until the sink has accepted it.

An alert is added once per sink (its ``alert_id`` and the sink's name are the key, so adding it
again does nothing) and marked sent only after the sink accepted it. A crash between a send and
its mark sends that alert again after the restart: receivers can drop the repeat by its
``alert_id``. Nothing else is ever sent twice, and nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.store.sqlite import connect, now_iso

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    alert_id TEXT NOT NULL,
    sink TEXT NOT NULL,
    event_utc TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    payload TEXT NOT NULL,
    sent_utc TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (alert_id, sink)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sink, sent_utc);
"""


@dataclass(frozen=True)
class Entry:
    """One alert for one sink."""

    alert_id: str
    sink: str
    event_utc: str
    created_utc: str
    payload: dict[str, Any]
    sent_utc: str | None
    attempts: int
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "sink": self.sink,
            "state": "sent" if self.sent_utc else "pending",
            "event_utc": self.event_utc,
            "created_utc": self.created_utc,
            "sent_utc": self.sent_utc,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "alert": self.payload,
        }


def _entry(row: Any) -> Entry:
    return Entry(
        alert_id=row["alert_id"],
        sink=row["sink"],
        event_utc=row["event_utc"],
        created_utc=row["created_utc"],
        payload=json.loads(row["payload"]),
        sent_utc=row["sent_utc"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
    )


class Outbox:
    """The outbox of the store at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def add(self, alerts: list[dict[str, Any]], sinks: list[str]) -> int:
        """Add each alert for each sink unless it is there already; return how many were new."""
        if not alerts or not sinks:
            return 0
        now = now_iso()
        rows = [
            (a["alert_id"], sink, a["event_utc"], now, json.dumps(a, ensure_ascii=False))
            for a in alerts
            for sink in sinks
        ]
        with connect(self.root, _SCHEMA) as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO outbox (alert_id, sink, event_utc, created_utc, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

    def pending(self, sink: str) -> list[Entry]:
        """Return the alerts ``sink`` has not accepted yet, oldest event first."""
        with connect(self.root, _SCHEMA) as conn:
            rows = conn.execute(
                "SELECT * FROM outbox WHERE sink = ? AND sent_utc IS NULL "
                "ORDER BY event_utc, alert_id",
                (sink,),
            ).fetchall()
        return [_entry(row) for row in rows]

    def mark_sent(self, alert_id: str, sink: str) -> None:
        with connect(self.root, _SCHEMA) as conn:
            conn.execute(
                "UPDATE outbox SET sent_utc = ?, attempts = attempts + 1, last_error = NULL "
                "WHERE alert_id = ? AND sink = ?",
                (now_iso(), alert_id, sink),
            )

    def mark_failed(self, alert_id: str, sink: str, error: str) -> None:
        with connect(self.root, _SCHEMA) as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? "
                "WHERE alert_id = ? AND sink = ?",
                (error, alert_id, sink),
            )

    def entries(self, since_utc: dt.datetime | None = None) -> list[Entry]:
        """Return every entry (with events at or after ``since_utc``), newest event first."""
        with connect(self.root, _SCHEMA, create=False) as conn:
            if since_utc is None:
                rows = conn.execute("SELECT * FROM outbox ORDER BY event_utc DESC, alert_id")
            else:
                rows = conn.execute(
                    "SELECT * FROM outbox WHERE event_utc >= ? ORDER BY event_utc DESC, alert_id",
                    (since_utc.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),),
                )
            return [_entry(row) for row in rows.fetchall()]
