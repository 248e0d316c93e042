"""Writer locks: one process at a time writes each kind of result into a store.

A lock is a file held with the operating system's file lock (``filelock``: ``flock`` on POSIX,
``LockFileEx`` on Windows), so it dies with its process, whatever kills it. Beside it, a small
JSON file names the job holding it, for the message the next writer gets.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from monitor.core.atomic import atomic_write_text
from monitor.errors import StoreError

log = logging.getLogger(__name__)

#: The lock of every job that writes analysis results (calls, transits, and the like), in the
#: store's root.
ANALYSIS_LOCK = ".analysis.lock"
#: How long such a job waits for another by default: longer than a detection over months of
#: data, shorter than a scheduled job's period.
ANALYSIS_WAIT_S = 600.0


def _holder_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".json")


def _holder(lock: Path) -> str:
    """Return who holds ``lock``, as its holder wrote it down."""
    try:
        info = json.loads(_holder_path(lock).read_text(encoding="utf-8"))
        return (
            f"{info['job']} (pid {info['pid']} on {info['host']}, "
            f"since {info['since_utc'][:19].replace('T', ' ')} UTC)"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "process"


@contextlib.contextmanager
def writer_lock(lock: Path, *, job: str, wait_s: float = ANALYSIS_WAIT_S) -> Iterator[None]:
    """Hold the writer lock file ``lock`` for ``job`` while the block runs.

    When another process holds it, wait up to ``wait_s`` seconds (0: not at all), saying so
    in the log, then raise StoreError naming the job that holds it.
    """
    lock.parent.mkdir(parents=True, exist_ok=True)
    held = FileLock(lock)
    try:
        held.acquire(timeout=0)
    except Timeout:
        holder = _holder(lock)
        if wait_s <= 0:
            raise StoreError(
                f"{lock.parent}: another {holder} is writing to this store; wait for it to end"
            ) from None
        log.warning(
            "%s: waiting up to %.0f s for another %s to finish", lock.parent, wait_s, holder
        )
        try:
            held.acquire(timeout=wait_s)
        except Timeout:
            raise StoreError(
                f"{lock.parent}: another {_holder(lock)} is still writing to this store (waited "
                f"{wait_s:g} s); wait for it to end, or stop it if it hangs"
            ) from None
    try:
        info = {
            "job": job,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            # Wall clock: bookkeeping for the message above, never used in analysis.
            "since_utc": dt.datetime.now(dt.UTC).isoformat(),
        }
        atomic_write_text(_holder_path(lock), json.dumps(info))
        yield
    finally:
        held.release()
