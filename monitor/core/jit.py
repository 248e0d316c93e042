"""Compiled kernels: numba's ``njit``, cached on disk and typed for mypy.

Kernels are plain Python over numpy arrays and scalars. They are compiled on their first call (and
cached, so later processes load them quickly) and release the interpreter lock, so a second thread
can run one while the first decodes.
"""

from __future__ import annotations

import functools
import gc
import importlib
import pickle
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt
from numba.core.registry import cpu_target

F = TypeVar("F", bound=Callable[..., Any])

#: Array types of kernel arguments and results.
Bool = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]

_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}

#: Every kernel made by :func:`kernel` in the modules imported so far.
KERNELS: list[Any] = []


def kernel(func: F) -> F:
    """Return ``func`` compiled to machine code (see the module docstring)."""
    compiled = numba.njit(**_OPTIONS)(func)
    KERNELS.append(compiled)
    return cast(F, compiled)


def inline(func: F) -> F:
    """Return ``func`` compiled like :func:`kernel`, and inlined into the kernels that call it."""
    return cast(F, numba.njit(**_OPTIONS, inline="always")(func))


@functools.cache
def prepare() -> None:
    """Set up numba's compiler once per process, with the garbage collector paused.

    Before its first kernel call, compiled or loaded from the cache, a process imports numba's
    implementation modules (and numpy.ma, which numba checks arrays against): about 0.2 s that
    creates some 100k objects, all long-lived. Collections triggered meanwhile would traverse
    them again and again, adding about half to that time; here they join the oldest generation
    directly instead.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        cpu_target.target_context.refresh()
        importlib.import_module("numpy.ma")
        gc.freeze()
        gc.unfreeze()
    finally:
        if enabled:
            gc.enable()


def cached_on_disk(compiled: Any) -> bool:
    """Return whether numba's disk cache holds machine code of ``compiled`` for its current source.

    False when the source changed since (an upgrade), when nothing was compiled yet, and when the
    cache is not laid out as numba 0.61-0.68 lay it out.
    """
    try:
        return bool(compiled._cache._cache_file._load_index())
    except (AttributeError, OSError, EOFError, ValueError, pickle.UnpicklingError):
        return False
