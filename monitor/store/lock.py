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
#: Held by a running ``monitor serve`` for its whole life: one service per store.
SERVICE_LOCK_NAME = ".service.lock"


@contextmanager
def writer_lock(
    root: Path, *, timeout_s: float = 0.0, name: str = LOCK_NAME, holder: str = "another job"
) -> Iterator[None]:
    """Hold the store's writer lock (or the lock file ``name``), waiting up to ``timeout_s``
    (negative: for ever).

    Raises StoreError naming the store when another process or thread holds it longer.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    # thread_local=False: one lock per process and file, so threads of one process exclude
    # each other exactly as processes do.
    lock = FileLock(root / name, timeout=timeout_s, thread_local=False, is_singleton=False)
    try:
        lock.acquire()
    except Timeout as exc:
        raise StoreError(
            f"{root}: {holder} is writing to this store; wait for it to end and try again"
        ) from exc
    try:
        yield
    finally:
        lock.release()
