"""Square cells on the sphere, numbered so that a sorted array of codes finds a cell at once.

Rows are bands of latitude ``cell_deg`` high; each row is cut into columns as wide as
``cell_deg`` of latitude is long at the row's middle latitude, wrapping round at the
antimeridian. A code packs a time step (grid time or time bin), a row and a column into one
integer, time first, so that codes sorted once are grouped by time and then by place, and the
samples in one cell at one time are a run found by two binary searches. The encounter search and
the reception grid use these kernels.
"""

from __future__ import annotations

import math

import numpy as np

from monitor.core.geo import METRES_PER_DEG
from monitor.core.jit import I64, inline

ROW_BITS = 19
COL_BITS = 20
#: Codes of one time step differ in the bits below this.
PLACE_BITS = ROW_BITS + COL_BITS
PLACE_MASK = (1 << PLACE_BITS) - 1


@inline
def row_of(lat: float, cell_deg: float) -> int:
    """Return the row of a latitude."""
    return math.floor((min(max(lat, -89.999), 89.999) + 90.0) / cell_deg)


@inline
def n_cols(row: int, cell_deg: float) -> int:
    """Return how many columns ``row`` has."""
    mid = (row + 0.5) * cell_deg - 90.0
    return max(math.floor(360.0 * math.cos(math.radians(mid)) / cell_deg), 1)


@inline
def col_of(lon: float, row: int, cell_deg: float) -> int:
    """Return the column of a longitude in ``row``."""
    count = n_cols(row, cell_deg)
    return min(math.floor((lon + 180.0) % 360.0 / 360.0 * count), count - 1)


@inline
def metres_between(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    """Return the equirectangular distance in metres: exact enough within a few cells."""
    dlon = (lon1 - lon0 + 540.0) % 360.0 - 180.0
    x = dlon * math.cos(math.radians((lat0 + lat1) / 2.0))
    return math.sqrt(x * x + (lat1 - lat0) ** 2) * METRES_PER_DEG


@inline
def pack(step: int, row: int, col: int) -> int:
    """Return the code of a cell at a time step."""
    return (step << PLACE_BITS) | (row << COL_BITS) | col


@inline
def neighbour_col(col: int, shift: int, row: int, cell_deg: float) -> int:
    """Return the column ``shift`` (-1, 0 or 1) from ``col`` in ``row``, wrapping round."""
    count = n_cols(row, cell_deg)
    return (col + shift) % count


@inline
def places_around(lat: float, lon: float, cell_deg: float) -> I64:
    """Return the codes at time step 0 of the 3 x 3 cells around lat/lon, row by row, west to
    east in each; ``(step << PLACE_BITS) | place`` is a place's code at a time step."""
    out = np.empty(9, dtype=np.int64)
    row = row_of(lat, cell_deg)
    i = 0
    for r in range(row - 1, row + 2):
        col = col_of(lon, r, cell_deg)
        for shift in range(-1, 2):
            out[i] = pack(0, r, neighbour_col(col, shift, r, cell_deg))
            i += 1
    return out


@inline
def cell_rows(codes: I64, code: int) -> tuple[int, int]:
    """Return the index range of ``code`` in sorted ``codes``."""
    return (
        int(np.searchsorted(codes, code, side="left")),
        int(np.searchsorted(codes, code, side="right")),
    )


@inline
def _gallop(codes: I64, start: int, code: int, right: bool) -> int:
    """Return the first index from ``start`` on whose code is >= ``code`` (> with ``right``),
    searching outwards from ``start``: cheap when it is near."""
    n = codes.size
    step = 1
    lo = start
    while lo + step < n and (codes[lo + step] <= code if right else codes[lo + step] < code):
        lo += step
        step *= 2
    hi = min(lo + step, n)
    while lo < hi:
        mid = (lo + hi) // 2
        if codes[mid] <= code if right else codes[mid] < code:
            lo = mid + 1
        else:
            hi = mid
    return lo


@inline
def cell_rows_after(codes: I64, start: int, code: int) -> tuple[int, int]:
    """Return the index range of ``code`` in sorted ``codes``, searching from ``start`` when
    ``code`` is not below the code there (a cell just after it), else from the beginning."""
    if start >= codes.size or code < codes[start]:
        return cell_rows(codes, code)
    return _gallop(codes, start, code, False), _gallop(codes, start, code, True)
