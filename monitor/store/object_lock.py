"""The writer locks of a store in an object store: objects created only if absent.

Object stores have no file locks. An ingest creates ``<store>/_writer.lock`` (a job writing
analysis results, ``_analysis.lock``) with a conditional request (``If-None-Match: *``), which
the store refuses while the object exists, so of two writers starting together exactly one gets
it; the holder deletes it when done. The object
names its holder (job, host, process, since when) for the next writer's message. A writer that
was killed leaves its lock behind: one on the same host whose process is gone is taken over;
otherwise the message says to delete the object once its holder is known to be gone. Servers
that ignore the condition (check yours: AWS S3 and MinIO honour it) need the one-writer rule
kept by hand: run ingest and detect from one place, for instance the service.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

from monitor.errors import StoreError

log = logging.getLogger(__name__)

#: The ingest's lock object, under the store's prefix.
WRITER_OBJECT = "_writer.lock"
#: The lock object of the jobs that write analysis results.
ANALYSIS_OBJECT = "_analysis.lock"
#: How often a writer that waits tries again.
_RETRY_S = 1.0


def process_alive(pid: int) -> bool:
    """Return whether a process ``pid`` runs on this host (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(lock: Any) -> dict[str, Any]:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _describe(info: dict[str, Any]) -> str:
    if not {"job", "pid", "host", "since_utc"} <= info.keys():
        return "writer"
    return (
        f"{info['job']} (pid {info['pid']} on {info['host']}, since {info['since_utc'][:19]} UTC)"
    )


@contextlib.contextmanager
def object_lock(lock: Any, *, job: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the lock object ``lock`` (a UPath in an object store) while the block runs.

    When another writer has it, wait up to ``wait_s`` seconds, then raise StoreError naming it.
    """
    info = {
        "job": job,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        # Wall clock: bookkeeping for the message above, never used in analysis.
        "since_utc": dt.datetime.now(dt.UTC).isoformat(),
        "token": uuid.uuid4().hex,
    }
    data = json.dumps(info).encode("utf-8")
    deadline = time.monotonic() + wait_s
    took_over = waited = False
    while True:
        try:
            lock.fs.pipe_file(lock.path, data, mode="create")
            break
        except FileExistsError:
            holder = _holder(lock)
            stale = holder.get("host") == info["host"] and not process_alive(
                int(holder.get("pid", 0))
            )
            if stale and not took_over:
                log.warning("%s: taking over the lock of %s, gone", lock, _describe(holder))
                lock.fs.rm_file(lock.path)
                took_over = True
                continue
            if time.monotonic() < deadline:
                if not waited:
                    log.warning(
                        "%s: waiting up to %.0f s for another %s to finish",
                        lock,
                        wait_s,
                        _describe(holder),
                    )
                    waited = True
                time.sleep(_RETRY_S)
                continue
            raise StoreError(
                f"{lock}: another {_describe(holder)} is writing to this store; wait for it to "
                f"end (if it was killed, delete {lock} and run again)"
            ) from None
    if _holder(lock).get("token") != info["token"]:
        raise StoreError(
            f"{lock}: this object store does not honour conditional writes, so the store cannot "
            "be locked; run one writer at a time"
        )
    try:
        yield
    finally:
        lock.fs.rm_file(lock.path)
