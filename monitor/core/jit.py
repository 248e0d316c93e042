"""Compiled kernels: numba's ``njit``, cached on disk and typed for mypy.

Kernels are plain Python over numpy arrays and scalars. They are compiled on their first call (and
cached, so later processes load them quickly) and release the interpreter lock, so a second thread
can run one while the first decodes.

numba takes cached machine code as fresh while the source of the kernel's own module is unchanged.
Kernels also inline helpers and constants from other modules (:mod:`monitor.decode.bytes` into
every decoder), so here the cache of a kernel is also stamped with the sources of every module of
its package that its module imports, directly or not: a change in any of them compiles the kernel
again, after an upgrade as while editing.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import importlib
import os
import pickle
import re
import sys
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
U16 = npt.NDArray[np.uint16]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}

#: Every kernel made by :func:`kernel` in the modules imported so far.
KERNELS: list[Any] = []


def kernel(func: F) -> F:
    """Return ``func`` compiled to machine code (see the module docstring)."""
    compiled = _stamped(numba.njit(**_OPTIONS)(func), func)
    KERNELS.append(compiled)
    return cast(F, compiled)


def inline(func: F) -> F:
    """Return ``func`` compiled like :func:`kernel`, and inlined into the kernels that call it."""
    return cast(F, _stamped(numba.njit(**_OPTIONS, inline="always")(func), func))


#: The modules a line of Python source imports: ``from a.b import c, d`` or ``import a.b``.
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]+([^\n]*)|import[ \t]+([\w.]+))", re.M
)


@functools.cache
def _read(path: str, mtime_ns: int, size: int) -> tuple[bytes, tuple[str, ...]]:
    """Return the digest of the Python source at ``path`` and the modules it imports (the stat
    values make a changed file read again)."""
    with open(path, "rb") as handle:
        text = handle.read()
    found: list[str] = []
    for module, names, plain in _IMPORT.findall(text.decode("utf-8", "replace")):
        found.append(module or plain)
        # ``from package import module``: the module too.
        found += [f"{module}.{name.split()[0]}" for name in names.strip("( ").split(",") if name]
    return hashlib.sha256(text).digest(), tuple(found)


def _source(module: str) -> str | None:
    """Return the source file of ``module`` if it is imported, else None."""
    return getattr(sys.modules.get(module), "__file__", None)


def imports_digest(module: str) -> bytes:
    """Return a digest of the sources of ``module`` and of every module of its package it
    imports, directly or not (as far as they are imported by now: a kernel is made after its
    module's imports)."""
    package = module.split(".")[0]
    digest = hashlib.sha256()
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = _source(name) if name not in seen else None
        seen.add(name)
        if path is None or not path.endswith(".py"):
            continue
        stat = os.stat(path)
        source_digest, imported = _read(path, stat.st_mtime_ns, stat.st_size)
        digest.update(name.encode() + source_digest)
        todo += [m for m in imported if m.split(".")[0] == package and m not in seen]
    return digest.digest()


def _stamped(compiled: Any, func: Callable[..., Any]) -> Any:
    """Return ``compiled`` with its cache stamped with :func:`imports_digest` of its module."""
    try:
        cache_file = compiled._cache._cache_file
        cache_file._source_stamp = (cache_file._source_stamp, imports_digest(func.__module__))
    except AttributeError:
        pass  # a numba that lays out its cache otherwise: numba's own stamp, as without this
    return compiled


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
