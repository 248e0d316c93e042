"""The run log: one row per job run of the service (job, start, end, outcome, counts, error).

Rows are written when a run starts (outcome ``running``) and completed when it ends, so a run
that a crash cut short stays visible; the next start of the service marks such rows
``abandoned``. Errors are stored as given: callers redact secrets before.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.store.sqlite import connect, now_iso

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    started_utc TEXT NOT NULL,
    ended_utc TEXT,
    outcome TEXT NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_job ON runs (job, id);
"""


@dataclass(frozen=True)
class Run:
    """One row of the run log."""

    id: int
    job: str
    started_utc: dt.datetime
    ended_utc: dt.datetime | None
    outcome: str
    counts: dict[str, Any]
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "started_utc": self.started_utc.isoformat(),
            "ended_utc": self.ended_utc.isoformat() if self.ended_utc else None,
            "duration_s": (
                (self.ended_utc - self.started_utc).total_seconds() if self.ended_utc else None
            ),
            "outcome": self.outcome,
            "counts": self.counts,
            "error": self.error,
        }


def _run(row: Any) -> Run:
    return Run(
        id=int(row["id"]),
        job=str(row["job"]),
        started_utc=dt.datetime.fromisoformat(row["started_utc"]),
        ended_utc=dt.datetime.fromisoformat(row["ended_utc"]) if row["ended_utc"] else None,
        outcome=str(row["outcome"]),
        counts=json.loads(row["counts"] or "{}"),
        error=row["error"],
    )


class RunLog:
    """The run log of the store at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def start(self, job: str) -> int:
        """Record that ``job`` started now; return the run's id."""
        with connect(self.root, _SCHEMA) as conn:
            cursor = conn.execute(
                "INSERT INTO runs (job, started_utc, outcome) VALUES (?, ?, 'running')",
                (job, now_iso()),
            )
            return int(cursor.lastrowid or 0)

    def finish(
        self, run_id: int, outcome: str, counts: dict[str, Any], error: str | None = None
    ) -> None:
        """Record how run ``run_id`` ended."""
        with connect(self.root, _SCHEMA) as conn:
            conn.execute(
                "UPDATE runs SET ended_utc = ?, outcome = ?, counts = ?, error = ? WHERE id = ?",
                (now_iso(), outcome, json.dumps(counts, default=str), error, run_id),
            )

    def abandon_running(self) -> int:
        """Mark runs a crash left ``running`` as ``abandoned``; return how many."""
        with connect(self.root, _SCHEMA) as conn:
            cursor = conn.execute("UPDATE runs SET outcome = 'abandoned' WHERE outcome = 'running'")
            return cursor.rowcount

    def last_runs(self) -> dict[str, Run]:
        """Return the latest run of each job."""
        with connect(self.root, _SCHEMA, create=False) as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY job)"
            ).fetchall()
        return {run.job: run for run in map(_run, rows)}

    def runs(self, job: str | None = None, limit: int = 100) -> list[Run]:
        """Return the latest ``limit`` runs (of ``job``), newest first."""
        with connect(self.root, _SCHEMA, create=False) as conn:
            if job is None:
                rows = conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
            else:
                rows = conn.execute(
                    "SELECT * FROM runs WHERE job = ? ORDER BY id DESC LIMIT ?", (job, limit)
                )
            return [_run(row) for row in rows.fetchall()]

    def prune(self, before: dt.datetime) -> int:
        """Delete runs that started before ``before``; return how many."""
        with connect(self.root, _SCHEMA) as conn:
            cursor = conn.execute("DELETE FROM runs WHERE started_utc < ?", (before.isoformat(),))
            return cursor.rowcount
