"""Geofences: zones (port, berth, anchorage, area) loaded from GeoJSON and config circles.

Coordinates are WGS 84 longitude/latitude degrees, as in GeoJSON. Distances (circle radii, exit
buffers) are metres; they are applied in a local equirectangular projection around each zone,
which is accurate to well under 1 % over the few tens of kilometres a port spans.

A zone across the antimeridian (Chukotka, Fiji, the Aleutians) is kept cut in two at 180°, so
that its longitudes, like those of every position, lie within -180..180; the local projection
puts the two halves back together for anything measured in metres.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, shape

from monitor.analyse import zone_index
from monitor.config import CircleZone, ZoneKind, read_utf8
from monitor.core.geo import METRES_PER_DEG
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.config import Settings

log = logging.getLogger(__name__)

ZONE_KINDS: tuple[str, ...] = get_args(ZoneKind)

#: When zones overlap, a point belongs to the most specific one: a berth inside a port polygon
#: says more about what the vessel is doing than the port around it.
KIND_PRIORITY: dict[str, int] = {"berth": 0, "anchorage": 1, "port": 2, "area": 3}

_FIX_HINT = (
    "redraw it so that no edge crosses another and every ring is closed (in QGIS: "
    "Vector > Geometry Tools > Fix Geometries; in Python: shapely.make_valid)"
)


@dataclass(frozen=True)
class Zone:
    """One geofence. ``port_id`` is the port a berth or anchorage belongs to (itself for a port)."""

    id: str
    name: str
    kind: ZoneKind
    port_id: str
    country: str | None
    geometry: Polygon | MultiPolygon


# ---------------------------------------------------------------------------------------------
# Local metric projection


def _east_of(lon: npt.NDArray[np.float64], lon0: float) -> npt.NDArray[np.float64]:
    """Return the longitudes ``lon`` as degrees east of ``lon0``, each within -180..180."""
    east: npt.NDArray[np.float64] = (lon - lon0 + 180.0) % 360.0 - 180.0
    return east


def _to_metres(geom: shapely.Geometry, lon0: float, lat0: float) -> shapely.Geometry:
    scale_x = METRES_PER_DEG * math.cos(math.radians(lat0))

    def fwd(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = np.empty_like(coords)
        # Taken the short way round: both halves of a zone cut at 180° are next to each other.
        out[:, 0] = _east_of(coords[:, 0], lon0) * scale_x
        out[:, 1] = (coords[:, 1] - lat0) * METRES_PER_DEG
        return out

    return shapely.transform(geom, fwd)


def _to_degrees(geom: shapely.Geometry, lon0: float, lat0: float) -> shapely.Geometry:
    scale_x = METRES_PER_DEG * math.cos(math.radians(lat0))

    def back(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = np.empty_like(coords)
        out[:, 0] = coords[:, 0] / scale_x + lon0
        out[:, 1] = coords[:, 1] / METRES_PER_DEG + lat0
        return out

    return shapely.transform(geom, back)


def _origin(geom: shapely.Geometry) -> tuple[float, float]:
    """Return the centre of the geometry's box, the box of a zone cut at 180° taken whole."""
    minx, miny, maxx, maxy = shapely.bounds(geom)
    if maxx - minx > 180.0:
        lon = shapely.get_coordinates(geom)[:, 0]
        lon = np.where(lon < 0, lon + 360.0, lon)
        minx, maxx = float(lon.min()), float(lon.max())
        return float(_east_of(np.array([(minx + maxx) / 2.0]), 0.0)[0]), (miny + maxy) / 2.0
    return (minx + maxx) / 2.0, (miny + maxy) / 2.0


def _polygons(geom: shapely.Geometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [p for part in getattr(geom, "geoms", []) for p in _polygons(part)]


def cut_at_antimeridian(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """Return ``geom`` (longitudes running on past ±180) with every longitude within -180..180:
    the parts beyond 180° (or -180°) are cut off and moved round by 360°."""
    minx, _, maxx, _ = shapely.bounds(geom)
    if minx >= -180.0 and maxx <= 180.0:
        return geom
    parts: list[Polygon] = []
    for turn in (-360.0, 0.0, 360.0):
        window = shapely.box(-180.0 - turn, -90.0, 180.0 - turn, 90.0)
        piece = shapely.intersection(geom, window)
        parts += _polygons(shapely.transform(piece, lambda c, t=turn: c + np.array([t, 0.0])))
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _joined_across_antimeridian(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """Return a polygon drawn across the antimeridian with its longitudes running on past 180.

    GeoJSON longitudes stay within -180..180, so a polygon drawn across 180° jumps from 179.9
    to -179.9; read as written it would go the long way round the Earth. No port spans half
    the world: a polygon wider than 180° is the small one across the antimeridian.
    """
    minx, _, maxx, _ = shapely.bounds(geom)
    if maxx - minx <= 180.0:
        return geom
    lon0 = float(shapely.get_coordinates(geom)[0, 0])

    def joined(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = coords.copy()
        out[:, 0] = lon0 + _east_of(coords[:, 0], lon0)
        return out

    out = shapely.transform(geom, joined)
    assert isinstance(out, Polygon | MultiPolygon)
    return out


def area_km2(geom: shapely.Geometry) -> float:
    """Return the area of a lon/lat polygon in square kilometres (local projection)."""
    lon0, lat0 = _origin(geom)
    return float(shapely.area(_to_metres(geom, lon0, lat0))) / 1e6


def distances_m(
    geom: shapely.Geometry, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Return the distance in metres from each point to lon/lat ``geom`` (0 inside it).

    Measured in a plane around the geometry: exact enough within a few hundred km of it.
    """
    lon0, lat0 = _origin(geom)
    x = (np.asarray(lon) - lon0) * (METRES_PER_DEG * math.cos(math.radians(lat0)))
    y = (np.asarray(lat) - lat0) * METRES_PER_DEG
    result: npt.NDArray[np.float64] = shapely.distance(
        _to_metres(geom, lon0, lat0), shapely.points(x, y)
    )
    return result


def nearest_port(
    zones: Sequence[Zone],
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    within_km: float | None = None,
) -> tuple[list[str | None], npt.NDArray[np.float64]]:
    """Return per point the nearest port (its port, berth and anchorage zones together; area
    zones are no port) and the distance to it in km (0 inside, inf without ports); with
    ``within_km``, only ports that near count (a point farther from all: None, inf), and the
    points far outside a port's bounds are not measured against it."""
    ports: dict[str, list[shapely.Geometry]] = {}
    for zone in zones:
        if zone.kind != "area":
            ports.setdefault(zone.port_id, []).append(zone.geometry)
    best_km = np.full(lat.size, np.inf)
    best: list[str | None] = [None] * lat.size
    placed = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    for port_id in sorted(ports):
        port = shapely.union_all(ports[port_id])
        near = placed
        if within_km is not None:
            # Twice the margin in degrees the distance could need, at the port's latitudes.
            x0, y0, x1, y1 = shapely.bounds(port)
            dlat = 2.0 * within_km * 1000.0 / METRES_PER_DEG
            coslat = math.cos(math.radians(min(max(abs(y0), abs(y1)) + dlat, 89.0)))
            dlon = dlat / coslat
            near = placed[
                (lon[placed] >= x0 - dlon)
                & (lon[placed] <= x1 + dlon)
                & (lat[placed] >= y0 - dlat)
                & (lat[placed] <= y1 + dlat)
            ]
        if near.size == 0:
            continue
        km = distances_m(port, lon[near], lat[near]) / 1000.0
        if within_km is not None:
            km = np.where(km <= within_km, km, np.inf)
        closer = km < best_km[near]
        best_km[near[closer]] = km[closer]
        for i in near[closer]:
            best[i] = port_id
    return best, best_km


def buffer_metres(geom: Polygon | MultiPolygon, buffer_m: float) -> Polygon | MultiPolygon:
    """Return ``geom`` (lon/lat) grown by ``buffer_m`` metres, in lon/lat."""
    if buffer_m == 0:
        return geom
    lon0, lat0 = _origin(geom)
    grown = shapely.buffer(_to_metres(geom, lon0, lat0), buffer_m, quad_segs=8)
    out = _to_degrees(grown, lon0, lat0)
    assert isinstance(out, Polygon | MultiPolygon)
    return cut_at_antimeridian(out)


def circle_polygon(lon: float, lat: float, radius_m: float) -> Polygon | MultiPolygon:
    """Return a 64-sided lon/lat polygon approximating the circle of ``radius_m`` around a point
    (two halves when it crosses the antimeridian)."""
    disc = shapely.buffer(Point(0.0, 0.0), radius_m, quad_segs=16)
    out = _to_degrees(disc, lon, lat)
    assert isinstance(out, Polygon)
    return cut_at_antimeridian(out)


def circle_zone(circle: CircleZone) -> Zone:
    """Return the zone of a config circle."""
    return Zone(
        id=circle.id,
        name=circle.name,
        kind=circle.kind,
        port_id=circle.port or circle.id,
        country=circle.country,
        geometry=circle_polygon(circle.lon, circle.lat, circle.radius_m),
    )


# ---------------------------------------------------------------------------------------------
# GeoJSON loading and validation


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_coordinates(geom: shapely.Geometry, where: str) -> None:
    coords = shapely.get_coordinates(geom)
    if coords.size == 0:
        raise ConfigError(f"{where}: the geometry has no coordinates; draw the polygon again")
    if not np.isfinite(coords).all():
        raise ConfigError(f"{where}: a coordinate is not a finite number; fix the coordinates")
    lon, lat = coords[:, 0], coords[:, 1]
    bad_lat = np.abs(lat) > 90
    bad_lon = np.abs(lon) > 180
    if not (bad_lat.any() or bad_lon.any()):
        return
    i = int(np.flatnonzero(bad_lat | bad_lon)[0])
    msg = f"{where}: coordinate [{lon[i]}, {lat[i]}] is out of range (lon -180..180, lat -90..90)"
    swapped_ok = (np.abs(lon) <= 90).all() and (np.abs(lat) <= 180).all()
    if np.abs(coords).max() > 1000:
        msg += (
            "; these look like projected coordinates (metres): export the layer in WGS 84 "
            "(EPSG:4326) longitude/latitude degrees"
        )
    elif bad_lat.any() and swapped_ok:
        msg += (
            "; it looks like [lat, lon] order: GeoJSON positions are [longitude, latitude], "
            "swap the two numbers in every position"
        )
    else:
        msg += "; fix the coordinate"
    raise ConfigError(msg)


def _string_prop(props: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = props.get(key)
    if value is None or value == "":
        if required:
            raise ConfigError(f"{where}: missing property {key!r}; add it to the feature")
        return None
    if not isinstance(value, str):
        raise ConfigError(
            f"{where}: property {key!r} must be a string (got {value!r}); quote it in the file"
        )
    return value.strip()


def _zone_from_feature(feature: object, index: int, path: Path) -> Zone:
    where = f"{path}: feature {index}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ConfigError(f"{where}: not a GeoJSON Feature object; each item of 'features' is one")
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise ConfigError(f"{where}: 'properties' must be an object with id, name and kind")
    if "id" not in props and isinstance(feature.get("id"), str):
        props = {**props, "id": feature["id"]}
    zone_id = _string_prop(props, "id", where, required=True)
    assert zone_id is not None
    where = f"{path}: feature {index} (id {zone_id!r})"
    name = _string_prop(props, "name", where, required=False) or zone_id
    kind = _string_prop(props, "kind", where, required=False) or "port"
    if kind not in ZONE_KINDS:
        raise ConfigError(
            f"{where}: unknown kind {kind!r}; use one of {', '.join(ZONE_KINDS)}"
            + _suggest(kind, ZONE_KINDS)
        )
    port = _string_prop(props, "port", where, required=False)
    if kind == "port" and port not in (None, zone_id):
        raise ConfigError(
            f"{where}: a port cannot belong to port {port!r}; remove its 'port' property or "
            "change its kind to berth or anchorage"
        )
    country = _string_prop(props, "country", where, required=False)

    raw_geom = feature.get("geometry")
    if not isinstance(raw_geom, dict):
        raise ConfigError(f"{where}: the feature has no geometry; draw a polygon for it")
    if raw_geom.get("type") not in ("Polygon", "MultiPolygon"):
        raise ConfigError(
            f"{where}: geometry is {raw_geom.get('type')!r}, must be Polygon or MultiPolygon; "
            "for a point with a radius use a [[geofences.circles]] entry in the config instead"
        )
    try:
        geom = shape(raw_geom)
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise ConfigError(
            f"{where}: malformed {raw_geom.get('type')} coordinates ({exc}); a Polygon is a list "
            "of rings, each a list of [lon, lat] positions whose last equals the first"
        ) from exc
    _check_coordinates(geom, where)
    geom = shapely.force_2d(geom)
    if geom.is_empty:
        raise ConfigError(f"{where}: the polygon is empty; draw it with at least 3 corners")
    assert isinstance(geom, Polygon | MultiPolygon)
    geom = _joined_across_antimeridian(geom)
    if not shapely.is_valid(geom):
        raise ConfigError(f"{where}: invalid polygon: {shapely.is_valid_reason(geom)}; {_FIX_HINT}")
    if shapely.area(geom) == 0:
        raise ConfigError(f"{where}: the polygon has no area; draw it with at least 3 corners")
    geom = cut_at_antimeridian(geom)
    return Zone(
        id=zone_id,
        name=name,
        kind=kind,  # type: ignore[arg-type]  # checked against ZONE_KINDS above
        port_id=port or zone_id,
        country=country,
        geometry=geom,
    )


def load_geojson(path: Path) -> list[Zone]:
    """Return the zones of a GeoJSON FeatureCollection file, each validated."""
    text = read_utf8(path, "geofence file", "check geofences.files")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        got = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(
            f"{path}: expected a GeoJSON FeatureCollection, got {got!r}; wrap the features in "
            '{"type": "FeatureCollection", "features": [...]}'
        )
    features = data.get("features")
    if not isinstance(features, list):
        raise ConfigError(f"{path}: 'features' must be a list of Feature objects")
    zones = [_zone_from_feature(feature, i, path) for i, feature in enumerate(features)]
    _check_ids_unique([(zone, f"{path}: feature {i}") for i, zone in enumerate(zones)])
    return zones


def _check_ids_unique(placed: Sequence[tuple[Zone, str]]) -> None:
    seen: dict[str, str] = {}
    for zone, where in placed:
        if zone.id in seen:
            raise ConfigError(
                f"{where}: duplicate zone id {zone.id!r} (first defined at {seen[zone.id]}); "
                "give every zone its own id"
            )
        seen[zone.id] = where


def check_port_links(placed: Sequence[tuple[Zone, str]]) -> None:
    """Raise ConfigError if a zone's ``port`` names no port zone."""
    kinds = {zone.id: zone.kind for zone, _ in placed}
    ports = sorted(zone_id for zone_id, kind in kinds.items() if kind == "port")
    for zone, where in placed:
        if zone.port_id == zone.id:
            continue
        if zone.kind == "port":
            raise ConfigError(
                f"{where} (id {zone.id!r}): a port cannot belong to port {zone.port_id!r}; "
                "remove its 'port' or change its kind to berth, anchorage or area"
            )
        if zone.port_id not in kinds:
            raise ConfigError(
                f"{where} (id {zone.id!r}): port {zone.port_id!r} is not the id of any zone"
                + _suggest(zone.port_id, ports)
                + f"; set 'port' to one of: {', '.join(ports) or '(no ports defined)'}"
            )
        if kinds[zone.port_id] != "port":
            raise ConfigError(
                f"{where} (id {zone.id!r}): port {zone.port_id!r} is a "
                f"{kinds[zone.port_id]}, not a port; point 'port' at a zone of kind port"
            )


def load_zones(settings: Settings) -> list[Zone]:
    """Return every zone of ``settings.geofences`` (GeoJSON files, then circles), validated.

    Ids are unique across all files and circles, and every ``port`` link names a port zone.
    """
    placed: list[tuple[Zone, str]] = []
    for path in settings.geofences.files:
        for i, zone in enumerate(load_geojson(Path(path))):
            placed.append((zone, f"{path}: feature {i}"))
    where_cfg = str(settings.source_path) if settings.source_path else "<config>"
    for i, circle in enumerate(settings.geofences.circles):
        placed.append((circle_zone(circle), f"{where_cfg}: geofences.circles[{i}]"))
    _check_ids_unique(placed)
    check_port_links(placed)
    log.debug("loaded %d zones", len(placed))
    return [zone for zone, _ in placed]


# ---------------------------------------------------------------------------------------------
# Point in zone

#: A prepared geometry and its bounding box (min x, min y, max x, max y).
_Piece = tuple[shapely.Geometry, tuple[float, ...]]
# Buffered geometries by (id(geometry), buffer_m): the grown geometry, and the pieces the
# point lookup tests (the two halves of a zone cut at 180° apart: one box round both would
# span the globe). The geometry is kept in the value so that its id cannot be reused while the
# entry lives.
_BUFFER_CACHE: dict[tuple[int, float], tuple[shapely.Geometry, shapely.Geometry, list[_Piece]]] = {}
_BUFFER_CACHE_MAX = 4096


def _bounds(geom: shapely.Geometry) -> tuple[float, ...]:
    return tuple(float(b) for b in shapely.bounds(geom))


def _prepared(
    geom: Polygon | MultiPolygon, buffer_m: float
) -> tuple[shapely.Geometry, list[_Piece]]:
    key = (id(geom), float(buffer_m))
    hit = _BUFFER_CACHE.get(key)
    if hit is None or hit[0] is not geom:
        grown = buffer_metres(geom, buffer_m)
        shapely.prepare(grown)
        minx, _, maxx, _ = shapely.bounds(grown)
        parts = list(grown.geoms) if maxx - minx > 180.0 else [grown]
        shapely.prepare(parts)
        if len(_BUFFER_CACHE) >= _BUFFER_CACHE_MAX:
            _BUFFER_CACHE.clear()
        hit = (geom, grown, [(part, _bounds(part)) for part in parts])
        _BUFFER_CACHE[key] = hit
    return hit[1], hit[2]


def zone_geometry(zone: Zone, buffer_m: float = 0.0) -> Polygon | MultiPolygon:
    """Return the zone's polygon grown by ``buffer_m`` metres (cached, prepared)."""
    geom, _ = _prepared(zone.geometry, buffer_m)
    assert isinstance(geom, Polygon | MultiPolygon)
    return geom


def priority_order(zones: Sequence[Zone]) -> list[int]:
    """Return zone indices, most specific kind first (berth, anchorage, port, area), stable."""
    return sorted(range(len(zones)), key=lambda i: KIND_PRIORITY[zones[i].kind])


def zones_for_points(
    zones: Sequence[Zone],
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    buffer_m: float = 0.0,
) -> npt.NDArray[np.int32]:
    """Return, per point, the index into ``zones`` of the zone containing it, or -1.

    A point inside several zones gets the most specific (berth > anchorage > port > area; among
    equals, the first in ``zones``). With ``buffer_m`` every polygon is first grown by that many
    metres. Points on a boundary count as inside. NaN coordinates are in no zone.
    """
    if buffer_m < 0:
        raise ValueError("buffer_m must be >= 0")
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"lon and lat differ in shape: {x.shape} vs {y.shape}")
    result = np.full(x.shape, -1, dtype=np.int32)
    if x.size == 0 or not zones:
        return result
    flat_x, flat_y, flat_out = x.ravel(), y.ravel(), result.ravel()

    # One piece per zone, two for a zone cut at 180°; each piece answers for its zone.
    pieces: list[_Piece] = []
    zone_of: list[int] = []
    for i in priority_order(zones):
        for piece in _prepared(zones[i].geometry, buffer_m)[1]:
            pieces.append(piece)
            zone_of.append(i)
    boxes = np.array([b for _, b in pieces], dtype=np.float64)
    cand, label, piece_cluster = zone_index.clusters_of_points(boxes, flat_x, flat_y)
    n_clusters = int(piece_cluster.max()) + 1
    if cand.size == 0:
        return result
    # Candidates grouped by cluster of overlapping zone boxes: a stable sort of small integers
    # is a radix sort, and each zone then looks only at the points of its own cluster.
    by_cluster = np.argsort(label, kind="stable")
    cand = cand[by_cluster]
    bounds = np.searchsorted(label[by_cluster], np.arange(n_clusters + 1), side="left")
    for c in range(n_clusters):
        lo, hi = int(bounds[c]), int(bounds[c + 1])
        if hi <= lo:
            continue
        points = cand[lo:hi]
        xs, ys = flat_x[points], flat_y[points]
        found = np.full(points.shape, -1, dtype=np.int32)
        # Pieces are in priority order: the most specific zone claims a point first.
        for k, i in enumerate(zone_of):
            if piece_cluster[k] != c:
                continue
            geom, (minx, miny, maxx, maxy) = pieces[k]
            sel = np.flatnonzero(
                (found < 0) & (xs >= minx) & (xs <= maxx) & (ys >= miny) & (ys <= maxy)
            )
            if sel.size == 0:
                continue
            if sel.size >= zone_index.GRID_MIN_POINTS:
                # Points in cells wholly inside (outside) the polygon are in (out) without an
                # exact test; only those in cells crossed by its boundary go to GEOS.
                cell = zone_index.cells_of(geom, (minx, miny, maxx, maxy), xs[sel], ys[sel])
                found[sel[cell == zone_index.CELL_IN]] = i
                sel = sel[cell == zone_index.CELL_EDGE]
            inside = shapely.intersects_xy(geom, xs[sel], ys[sel])
            found[sel[inside]] = i
        flat_out[points] = found
    return result


# ---------------------------------------------------------------------------------------------
# Plausibility checks (warnings, not errors: a config may be unusual on purpose)

#: A berth or anchorage farther than this from its port polygon is probably linked to the wrong
#: port (outer anchorages lie a few kilometres off the harbour, not tens).
LINK_WARN_DISTANCE_M = 25_000.0
#: Typical upper sizes; a zone above is probably drawn at the wrong scale.
KIND_WARN_AREA_KM2: dict[str, float] = {"berth": 5.0, "anchorage": 200.0, "port": 500.0}


def zone_warnings(zones: Sequence[Zone]) -> list[str]:
    """Return human-readable warnings about zones that load but look wrong."""
    warnings: list[str] = []
    by_id = {zone.id: zone for zone in zones}
    for zone in zones:
        size = area_km2(zone.geometry)
        limit = KIND_WARN_AREA_KM2.get(zone.kind)
        if limit is not None and size > limit:
            warnings.append(
                f"{zone.id}: a {zone.kind} of {size:.1f} km² is unusually large "
                f"(> {limit:g} km²); check the polygon's scale"
            )
        port = by_id.get(zone.port_id)
        if port is None or port is zone:
            continue
        lon0, lat0 = _origin(port.geometry)
        gap_m = float(
            shapely.distance(
                _to_metres(zone.geometry, lon0, lat0), _to_metres(port.geometry, lon0, lat0)
            )
        )
        if gap_m > LINK_WARN_DISTANCE_M:
            warnings.append(
                f"{zone.id}: {gap_m / 1000:.0f} km from its port {port.id!r}; "
                "check its 'port' property"
            )
    ports = [zone for zone in zones if zone.kind == "port"]
    for i, first in enumerate(ports):
        for second in ports[i + 1 :]:
            if shapely.intersects(first.geometry, second.geometry):
                warnings.append(
                    f"{first.id} and {second.id}: port polygons overlap; a vessel in the "
                    f"overlap is counted in {first.id} only"
                )
    return warnings
