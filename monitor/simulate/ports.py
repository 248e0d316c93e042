"""Ports as the simulator sees them: zones grouped by port, with berth and anchorage spots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from monitor.analyse.geofences import Zone
from monitor.errors import ConfigError
from monitor.simulate.geo import Projection


@dataclass(frozen=True)
class PortModel:
    """One port: the union of its zones (metres) and where ships berth and anchor."""

    port_id: str
    name: str
    country: str | None
    #: Union of the port's port, berth and anchorage zones, in projected metres.
    area: BaseGeometry
    berths: tuple[BaseGeometry, ...]
    anchorages: tuple[BaseGeometry, ...]
    #: Representative (lat, lon) used to join the sea-route graph.
    anchor_latlon: tuple[float, float]

    def random_point(self, geom: BaseGeometry, rng: np.random.Generator) -> tuple[float, float]:
        """Return a uniformly random point (metres) inside ``geom``, kept off its edge."""
        inner = geom.buffer(-150.0)
        target = inner if not inner.is_empty and inner.area > 0.2 * geom.area else geom
        minx, miny, maxx, maxy = target.bounds
        for _ in range(200):
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if target.contains(Point(x, y)):
                return x, y
        point = target.representative_point()
        return point.x, point.y

    def berth_point(
        self, rng: np.random.Generator, toward: tuple[float, float]
    ) -> tuple[float, float]:
        """Return a mooring spot: inside a berth zone, else inside the port near its sea side."""
        if self.berths:
            return self.random_point(self.berths[int(rng.integers(len(self.berths)))], rng)
        # Without berth zones, moor within a few km of where the sea route meets the port.
        edge = nearest_points(self.area, Point(toward))[0]
        near = self.area.intersection(edge.buffer(4000.0))
        return self.random_point(near if near.area > 0 else self.area, rng)

    def anchorage_point(self, rng: np.random.Generator) -> tuple[float, float] | None:
        """Return an anchoring spot inside an anchorage zone, or None without one."""
        if not self.anchorages:
            return None
        return self.random_point(self.anchorages[int(rng.integers(len(self.anchorages)))], rng)


def build_ports(zones: Sequence[Zone], projection: Projection) -> list[PortModel]:
    """Return one model per port id in ``zones`` (kinds port, berth, anchorage), sorted by id."""
    grouped: dict[str, list[Zone]] = {}
    for zone in zones:
        if zone.kind != "area":
            grouped.setdefault(zone.port_id, []).append(zone)
    if not grouped:
        raise ConfigError(
            "the config has no port zones to simulate; add geofences (files or circles) with "
            'kind "port"'
        )
    ports: list[PortModel] = []
    for port_id in sorted(grouped):
        members = grouped[port_id]
        main = next((z for z in members if z.kind == "port"), members[0])
        projected = [(z, projection.geometry(z.geometry)) for z in members]
        area = shapely.union_all([geom for _, geom in projected])
        where = main.geometry.representative_point()
        ports.append(
            PortModel(
                port_id=port_id,
                name=main.name,
                country=main.country,
                area=area,
                berths=tuple(g for z, g in projected if z.kind == "berth"),
                anchorages=tuple(g for z, g in projected if z.kind == "anchorage"),
                anchor_latlon=(where.y, where.x),
            )
        )
    return ports


def projection_for(zones: Sequence[Zone]) -> Projection:
    """Return the projection centred on the zones' mean latitude."""
    lats = [z.geometry.centroid.y for z in zones]
    return Projection(float(np.mean(lats)) if lats else 0.0)
