"""Point-in-zone lookup internals: a raster that groups points by cluster of zone boxes, and a
per-zone grid of cells wholly inside, wholly outside or crossed by the polygon's boundary.

Pure numpy and shapely, no zone semantics: :func:`monitor.analyse.geofences.zones_for_points` uses
them.
The cached grids are plain arrays, safe to share between threads; geometries are only read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

#: A zone's bounding box is split into GRID x GRID cells, each wholly inside the polygon, wholly
#: outside or crossed by its boundary; worth it from GRID_MIN_POINTS points in the box on.
GRID = 32
GRID_MIN_POINTS = 4096
CELL_OUT, CELL_EDGE, CELL_IN = 0, 1, 2
#: Cells are grown by this many degrees before they are classified, far more than the rounding
#: error of a point's cell index, so a point near a cell edge is never put in the wrong class.
_CELL_MARGIN_DEG = 1e-9
_CELL_CACHE: dict[int, tuple[shapely.Geometry, npt.NDArray[np.uint8]]] = {}
_CELL_CACHE_MAX = 4096


def cells_of(
    geom: shapely.Geometry,
    bounds: tuple[float, float, float, float],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
) -> npt.NDArray[np.uint8]:
    """Return, per point inside ``bounds`` (the polygon's box), its cell's class (CELL_*)."""
    minx, miny, maxx, maxy = bounds
    gx = ((x - minx) * (GRID / max(maxx - minx, 1e-12))).astype(np.intp)
    gy = ((y - miny) * (GRID / max(maxy - miny, 1e-12))).astype(np.intp)
    np.minimum(gx, GRID - 1, out=gx)
    np.minimum(gy, GRID - 1, out=gy)
    status: npt.NDArray[np.uint8] = _cell_status(geom, bounds)[gy, gx]
    return status


def _cell_status(
    geom: shapely.Geometry, bounds: tuple[float, float, float, float]
) -> npt.NDArray[np.uint8]:
    """Return, per cell of the polygon's box (row = y), whether it is outside, edge or inside."""
    hit = _CELL_CACHE.get(id(geom))
    if hit is not None and hit[0] is geom:
        return hit[1]
    minx, miny, maxx, maxy = bounds
    xs = minx + (maxx - minx) * np.arange(GRID + 1) / GRID
    ys = miny + (maxy - miny) * np.arange(GRID + 1) / GRID
    x0, y0 = np.meshgrid(xs[:-1] - _CELL_MARGIN_DEG, ys[:-1] - _CELL_MARGIN_DEG)
    x1, y1 = np.meshgrid(xs[1:] + _CELL_MARGIN_DEG, ys[1:] + _CELL_MARGIN_DEG)
    cells = shapely.box(x0, y0, x1, y1)
    status = np.where(
        shapely.covers(geom, cells),
        CELL_IN,
        np.where(shapely.intersects(geom, cells), CELL_EDGE, CELL_OUT),
    ).astype(np.uint8)
    if len(_CELL_CACHE) >= _CELL_CACHE_MAX:
        _CELL_CACHE.clear()
    _CELL_CACHE[id(geom)] = (geom, status)
    return status


#: Upper bound on the cells of the coarse raster that prefilters points (a few MB at most).
_RASTER_MAX_CELLS = 2_000_000


def _raster_grid(
    boxes: npt.NDArray[np.float64],
) -> tuple[float, float, float, int, int]:
    """Return the raster over the boxes' common extent: min x, min y, cell size, columns, rows."""
    minx, miny = float(boxes[:, 0].min()), float(boxes[:, 1].min())
    maxx, maxy = float(boxes[:, 2].max()), float(boxes[:, 3].max())
    width, height = max(maxx - minx, 1e-9), max(maxy - miny, 1e-9)
    res = max(math.sqrt(width * height / _RASTER_MAX_CELLS), 1e-4)
    return minx, miny, res, int(width / res) + 1, int(height / res) + 1


def _cell_ranges(boxes: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Return, per box, the raster cells it touches: first column, first row, last col, last row."""
    minx, miny, res, _, _ = _raster_grid(boxes)
    cells = np.empty(boxes.shape, dtype=np.intp)
    cells[:, 0] = ((boxes[:, 0] - minx) / res).astype(np.intp)
    cells[:, 1] = ((boxes[:, 1] - miny) / res).astype(np.intp)
    cells[:, 2] = ((boxes[:, 2] - minx) / res).astype(np.intp)
    cells[:, 3] = ((boxes[:, 3] - miny) / res).astype(np.intp)
    return cells


def _zone_clusters(boxes: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Return, per box, the number of its cluster: boxes sharing a raster cell, transitively.

    Clusters are numbered in order of their first box, so the labels depend only on the boxes.
    """
    cells = _cell_ranges(boxes)
    n = len(boxes)
    touch = (
        (cells[:, None, 0] <= cells[None, :, 2])
        & (cells[None, :, 0] <= cells[:, None, 2])
        & (cells[:, None, 1] <= cells[None, :, 3])
        & (cells[None, :, 1] <= cells[:, None, 3])
    )
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(*np.nonzero(np.triu(touch, 1)), strict=True):
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = [root(i) for i in range(n)]
    number: dict[int, int] = {}
    return np.array([number.setdefault(r, len(number)) for r in roots], dtype=np.intp)


def clusters_of_points(
    boxes: npt.NDArray[np.float64], x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.signedinteger[Any]], npt.NDArray[np.intp]]:
    """Return the points that may lie in one of ``boxes``, their cluster, and each box's cluster.

    Zones are small and far apart, so their common bounding box is mostly empty: a raster over it,
    holding in each cell the cluster of the zone boxes that touch it, discards almost every far
    point and labels the others in a few vectorised passes.
    """
    minx, miny, res, nx, ny = _raster_grid(boxes)
    zone_cluster = _zone_clusters(boxes)
    n_clusters = int(zone_cluster.max()) + 1
    dtype = np.int16 if n_clusters < 2**15 - 1 else np.int32
    raster = np.full((ny, nx), -1, dtype=dtype)
    for (c0, r0, c1, r1), c in zip(_cell_ranges(boxes), zone_cluster, strict=True):
        raster[r0 : r1 + 1, c0 : c1 + 1] = c
    inside = (x >= minx) & (x <= minx + nx * res) & (y >= miny) & (y <= miny + ny * res)
    idx = np.flatnonzero(inside)
    ix = ((x[idx] - minx) / res).astype(np.intp)
    iy = ((y[idx] - miny) / res).astype(np.intp)
    np.minimum(ix, nx - 1, out=ix)
    np.minimum(iy, ny - 1, out=iy)
    label = raster[iy, ix]
    keep = label >= 0
    return idx[keep], label[keep], zone_cluster
