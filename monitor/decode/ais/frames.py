"""Polars frames from numpy columns, through Arrow buffers: no copies, one import per frame."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from monitor.core.jit import I64, U8, U64, Bool

_UTC_US = pa.timestamp("us", "UTC")


def timestamps(time_us: I64) -> pa.Array:
    """Return times in µs since the epoch as an Arrow array of UTC timestamps."""
    return array(np.ascontiguousarray(time_us, np.int64), None, _UTC_US)


_CONSTANTS: dict[tuple[str, str], pl.Series] = {}


def constant(name: str, value: str, n: int) -> pl.Series:
    """Return ``value`` repeated ``n`` times, sliced from a cached longer series when possible."""
    # Building a string column costs about as much as decoding the chunk; a slice is free.
    cached = _CONSTANTS.get((name, value))
    if cached is None or len(cached) < n:
        size = max(n, 1 << 16)
        cached = pl.Series(name, [value], pl.String).extend_constant(value, size - 1)
        if len(_CONSTANTS) > 64:
            _CONSTANTS.clear()
        _CONSTANTS[(name, value)] = cached
    return cached.head(n)


class _ArrowArray:
    """A pyarrow array or record batch that polars reads through the Arrow C data interface.

    Given a pyarrow object itself, polars imports ``pyarrow.compute`` (0.15 s on the first chunk).
    """

    def __init__(self, array: pa.Array | pa.RecordBatch) -> None:
        self.array = array

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return self.array.__arrow_c_array__(requested_schema)  # type: ignore[no-any-return]


def validity(null: Bool | None) -> pa.Buffer | None:
    """Return the Arrow validity bitmap of a column null where ``null``, None if never null."""
    if null is None or not null.any():
        return None
    return pa.py_buffer(np.packbits(~null, bitorder="little"))


def array(
    values: npt.NDArray[Any],
    valid: pa.Buffer | None = None,
    arrow_type: pa.DataType | None = None,
) -> pa.Array:
    """Return ``values`` (contiguous, of the column's numpy type) as an Arrow array, with the
    validity bitmap ``valid``."""
    # Arrow buffers with a validity bitmap: no copy, unlike setting nulls one index at a time.
    arrow_type = _arrow_type(values.dtype) if arrow_type is None else arrow_type
    return pa.Array.from_buffers(arrow_type, len(values), [valid, pa.py_buffer(values)])


@functools.cache
def _arrow_type(dtype: np.dtype[Any]) -> pa.DataType:
    return pa.from_numpy_dtype(dtype)


def string_views(views: U64, data: U8, valid: pa.Buffer | None) -> pa.Array:
    """Return Arrow string views (two words each) of texts in ``data`` as an array."""
    buffers = [valid, pa.py_buffer(views), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string_view(), len(views) // 2, buffers)


def frame(
    schema: Mapping[str, pl.DataType], arrays: Mapping[str, pa.Array], source: str, n: int
) -> pl.DataFrame:
    """Return a ``schema`` frame of ``n`` rows: ``arrays`` by name, ``source`` in its column."""
    names = [name for name in schema if name != "source"]
    batch = pa.RecordBatch.from_arrays([arrays[name] for name in names], names=names)
    # All columns in one import, which costs about as much as one column imported on its own.
    result = pl.DataFrame(_ArrowArray(batch))
    return result.insert_column(list(schema).index("source"), constant("source", source, n))
