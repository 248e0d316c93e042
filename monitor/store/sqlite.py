"""The store's bookkeeping database (``<store>/service.sqlite``): the run log and the outbox.

Rows that change state one by one (an alert marked sent, a job that ends) need transactions,
which Parquet files do not give; SQLite does, from the standard library. Write-ahead logging
lets ``monitor status`` read while the service writes. Every call opens its own connection, so
any thread may use it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

DB_NAME = "service.sqlite"


def now_iso() -> str:
    """Return the wall-clock time as stored in the database (ISO 8601 UTC, milliseconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def db_path(root: Path) -> Path:
    """Return the path of the bookkeeping database of the store at ``root``."""
    return Path(root) / DB_NAME


@contextmanager
def connect(root: Path, schema: str, *, create: bool = True) -> Iterator[sqlite3.Connection]:
    """Yield a connection to the store's database with ``schema`` applied; commit at the end.

    With ``create`` False a missing database is not made (readers); the schema is then applied
    to an in-memory database, so queries find empty tables.
    """
    path = db_path(root)
    if not create and not path.exists():
        target = ":memory:"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = str(path)
    with closing(sqlite3.connect(target, timeout=30.0)) as conn:
        conn.row_factory = sqlite3.Row
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(schema)
        with conn:
            yield conn
