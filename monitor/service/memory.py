"""Giving back to the system the memory a job freed, once the job ends.

A detection holds every vessel's behaviour parts and the reception grids at once, hundreds of
megabytes on a busy store, and frees them when it ends. The allocators keep freed pages for
reuse (the C library's heap, and Arrow's memory pool), so without this the service's resident
memory would stay at the highest peak of any job since it started.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import platform
from collections.abc import Callable

import pyarrow as pa


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """Return the C library's ``malloc_trim``, None where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    return trim


def give_back() -> None:
    """Free what nothing refers to any more and return the allocators' free pages."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def resident_mb(pid: int | None = None) -> float | None:
    """Return the resident memory in MB of process ``pid`` (this one by default), None where
    ``/proc`` does not say."""
    try:
        with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
