"""Trips away from a port: what a vessel does between two of its visits there.

Two visits of a vessel to one port with only sea between them are one call (a wait at an
anchorage off the port polygon and the berth after it, a berth shift round a breakwater) only if
the vessel stayed near the port meanwhile and stopped nowhere: within ``merge_distance_m`` of the
convex hull of the port's zones (which spans the water between a port and its outer anchorages).
A crew boat running out to an oil platform and back, or a ferry to an island, made a trip: each
return is a call of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon

from monitor.analyse.geofences import Zone, buffer_metres


def _near_areas(
    zones: Sequence[Zone], zone_port: npt.NDArray[np.int32], distance_m: float
) -> dict[int, shapely.Geometry]:
    """Return, per port index, the convex hull of its zones grown by ``distance_m`` (prepared)."""
    areas: dict[int, shapely.Geometry] = {}
    for port in np.unique(zone_port[:-1]).tolist():
        members = [z.geometry for z, p in zip(zones, zone_port, strict=False) if p == port]
        hull = shapely.convex_hull(shapely.union_all(members))
        assert isinstance(hull, Polygon)
        area = buffer_metres(hull, distance_m)
        shapely.prepare(area)
        areas[port] = area
    return areas


def visits_after_trips(
    visit: npt.NDArray[np.int64],
    port: npt.NDArray[np.int32],
    first: npt.NDArray[np.bool_],
    micros: npt.NDArray[np.int64],
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    stopped: npt.NDArray[np.bool_],
    zones: Sequence[Zone],
    zone_port: npt.NDArray[np.int32],
    *,
    merge_gap_h: float,
    merge_distance_m: float,
) -> npt.NDArray[np.bool_]:
    """Return, indexed by visit id, whether the vessel made a trip since its previous visit.

    ``visit`` numbers visits from 1 in row order (0 at sea), per row of positions sorted by
    vessel and time, so each visit is a run of rows; ``zone_port`` is the port index of each
    zone, with a sentinel last. Only stretches at sea between two visits of one vessel to one
    port, at most ``merge_gap_h`` apart, are looked at (later visits are not merged anyway): a
    stopped position, or one beyond ``merge_distance_m`` of the port, is a trip.
    """
    apart = np.zeros(int(visit.max(initial=0)) + 1, dtype=bool)
    rows = np.flatnonzero(visit > 0)
    if rows.size < 2:
        return apart
    ids = visit[rows]
    starts = np.flatnonzero(np.diff(ids, prepend=-1) != 0)
    first_row = rows[starts]
    last_row = rows[np.append(starts[1:], rows.size) - 1]
    vessel = np.cumsum(first)
    # Each visit and the one after it: same vessel, same port, close enough in time.
    gap_us = micros[first_row[1:]] - micros[last_row[:-1]]
    pairs = np.flatnonzero(
        (vessel[first_row[1:]] == vessel[last_row[:-1]])
        & (port[first_row[1:]] == port[last_row[:-1]])
        & (gap_us <= merge_gap_h * 3_600_000_000.0)
    )
    if pairs.size == 0:
        return apart
    # The rows at sea between them, all pairs at once.
    begin = last_row[pairs] + 1
    length = first_row[pairs + 1] - begin
    owner = np.repeat(pairs, length)
    between = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    between += np.repeat(begin, length)
    away = stopped[between].copy()
    areas = _near_areas(zones, zone_port, merge_distance_m)
    row_port = port[last_row[owner]]
    for p in np.unique(row_port).tolist():
        sel = row_port == p
        away[sel] |= ~shapely.intersects_xy(areas[p], lon[between[sel]], lat[between[sel]])
    apart[ids[starts[owner[away] + 1]]] = True
    return apart
