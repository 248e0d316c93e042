"""What an ingest run did: counts per input and totals, printable and JSON-ready."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from monitor.core.times import iso_utc


def _iso(value: dt.datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


@dataclass
class FileSummary:
    """What one input gave."""

    input: str
    #: "ingested", "resumed" (read on from where a previous run stopped), "unchanged" (already
    #: fully read: skipped), "empty" (nothing in it yet) or "error".
    status: str = "ingested"
    format: str | None = None
    n_lines: int = 0
    n_messages: int = 0
    n_positions_decoded: int = 0
    #: Rows written to the store (the rest were already there: duplicates).
    n_positions: int = 0
    n_statics_decoded: int = 0
    n_statics: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    other_types: Counter[int] = field(default_factory=Counter)
    time_sources: Counter[str] = field(default_factory=Counter)
    first_utc: dt.datetime | None = None
    last_utc: dt.datetime | None = None
    error: str | None = None

    @property
    def decoded_share(self) -> float | None:
        """Return the share of AIS lines/rows accepted, None when nothing was read."""
        total = self.n_messages + sum(self.rejected.values())
        return self.n_messages / total if total else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of this summary."""
        return {
            "input": self.input,
            "status": self.status,
            "format": self.format,
            "lines": self.n_lines,
            "messages": self.n_messages,
            "positions_decoded": self.n_positions_decoded,
            "positions_stored": self.n_positions,
            "statics_decoded": self.n_statics_decoded,
            "statics_stored": self.n_statics,
            "rejected": dict(sorted(self.rejected.items())),
            "other_types": {str(k): v for k, v in sorted(self.other_types.items())},
            "time_sources": dict(sorted(self.time_sources.items())),
            "first_utc": _iso(self.first_utc),
            "last_utc": _iso(self.last_utc),
            "error": self.error,
        }


@dataclass
class IngestSummary:
    """What an ingest run did, over all inputs."""

    store: str
    files: list[FileSummary] = field(default_factory=list)
    n_vessels: int = 0
    elapsed_s: float = 0.0
    #: The store held no positions or static reports before the run: every duplicate was
    #: received more than once in these inputs, none was already stored.
    store_was_empty: bool = False

    @property
    def n_read(self) -> int:
        """Return the number of inputs read in this run (status ingested or resumed)."""
        return sum(f.status in ("ingested", "resumed") for f in self.files)

    @property
    def statuses(self) -> Counter[str]:
        """Return the number of inputs per status."""
        return Counter(f.status for f in self.files)

    def _sum(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    def _counter(self, name: str) -> Counter[Any]:
        total: Counter[Any] = Counter()
        for f in self.files:
            total.update(getattr(f, name))
        return total

    @property
    def n_lines(self) -> int:
        return self._sum("n_lines")

    @property
    def n_messages(self) -> int:
        return self._sum("n_messages")

    @property
    def n_positions(self) -> int:
        return self._sum("n_positions")

    @property
    def n_statics(self) -> int:
        return self._sum("n_statics")

    @property
    def n_duplicates(self) -> int:
        decoded = self._sum("n_positions_decoded") + self._sum("n_statics_decoded")
        return decoded - self.n_positions - self.n_statics

    @property
    def rejected(self) -> Counter[str]:
        return self._counter("rejected")

    @property
    def time_sources(self) -> Counter[str]:
        return self._counter("time_sources")

    @property
    def first_utc(self) -> dt.datetime | None:
        return min((f.first_utc for f in self.files if f.first_utc), default=None)

    @property
    def last_utc(self) -> dt.datetime | None:
        return max((f.last_utc for f in self.files if f.last_utc), default=None)

    @property
    def errors(self) -> list[str]:
        return [f.error for f in self.files if f.error]

    @property
    def messages_per_s(self) -> float:
        return self.n_messages / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: totals, then one entry per input."""
        return {
            "store": self.store,
            "files": len(self.files),
            "lines": self.n_lines,
            "messages": self.n_messages,
            "positions": self.n_positions,
            "statics": self.n_statics,
            "duplicates": self.n_duplicates,
            "rejected": dict(sorted(self.rejected.items())),
            "other_types": {str(k): v for k, v in sorted(self._counter("other_types").items())},
            "time_sources": dict(sorted(self.time_sources.items())),
            "first_utc": _iso(self.first_utc),
            "last_utc": _iso(self.last_utc),
            "vessels": self.n_vessels,
            "store_was_empty": self.store_was_empty,
            "elapsed_s": round(self.elapsed_s, 3),
            "messages_per_s": round(self.messages_per_s, 1),
            "errors": self.errors,
            "inputs": [f.to_dict() for f in self.files],
        }
