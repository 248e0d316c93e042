"""The store's writer lock: one job at a time writes analysis results, across processes.

The service's jobs and the commands an analyst runs by hand take it before they write, so two
writers never interleave. It is a lock file beside the data (``<store>/.writer.lock``), held
through ``filelock``: the operating system releases it when its process dies, so a killed run
never leaves the store locked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from monitor.errors import StoreError

LOCK_NAME = ".writer.lock"


@contextmanager
def writer_lock(root: Path, *, timeout_s: float = 0.0) -> Iterator[None]:
    """Hold the store's writer lock, waiting up to ``timeout_s`` (negative: for ever).

    Raises StoreError naming the store when another process or thread holds it longer.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    # thread_local=False: one lock per process and file, so threads of one process exclude
    # each other exactly as processes do.
    lock = FileLock(root / LOCK_NAME, timeout=timeout_s, thread_local=False, is_singleton=False)
    try:
        lock.acquire()
    except Timeout as exc:
        raise StoreError(
            f"{root}: another job is writing to this store; wait for it to end and try again"
        ) from exc
    try:
        yield
    finally:
        lock.release()
