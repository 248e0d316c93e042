"""Ports of zones, and which port a vessel is in at each position: entry on the first position
inside a port's zones, exit only beyond its exit buffer (hysteresis)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from monitor.analyse.geofences import Zone, zone_geometry
from monitor.analyse.portcalls.stops import forward_fill


def zone_tables(zones: Sequence[Zone]) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Return port ids, port names, the port index of each zone and each zone's kind code."""
    port_ids = sorted({zone.port_id for zone in zones})
    names: dict[str, str] = {}
    for zone in zones:
        if zone.kind == "port" and zone.id == zone.port_id:
            names[zone.port_id] = zone.name
    for zone in zones:
        names.setdefault(zone.port_id, zone.name)
    index = {port: i for i, port in enumerate(port_ids)}
    zone_port = np.array([index[zone.port_id] for zone in zones] + [-1], dtype=np.int32)
    kind_code = {"berth": 1, "anchorage": 2}
    zone_kind = np.array([kind_code.get(zone.kind, 0) for zone in zones] + [0], dtype=np.int8)
    return port_ids, [names[p] for p in port_ids], zone_port, zone_kind


def port_hysteresis(
    lon: np.ndarray,
    lat: np.ndarray,
    port_in: np.ndarray,
    near_port: np.ndarray,
    first: np.ndarray,
    zones: Sequence[Zone],
    zone_port: np.ndarray,
    buffer_m: float,
) -> np.ndarray:
    """Return, per row, the index of the port the vessel is in after exit hysteresis, or -1.

    A vessel is in a port from its first position inside one of the port's zones until its first
    position outside the port's zones grown by ``buffer_m``, or inside another port's zones.
    """
    exits = np.zeros(port_in.size, dtype=bool)
    grown: dict[int, Any] = {}
    settled = (port_in >= 0) | (near_port < 0) | first
    while True:
        port = forward_fill(port_in, settled | exits)
        # ``near_port`` is the port of the most specific grown zone only; where it is not the port
        # the vessel is in (buffers of two ports overlap, or a vessel jumps from one port into
        # another's buffer), check the grown zones of the vessel's own port.
        held = np.flatnonzero((port >= 0) & (port_in < 0) & (near_port != port) & ~exits)
        if held.size == 0:
            return port
        outside = np.zeros(held.size, dtype=bool)
        for p in np.unique(port[held]):
            if p not in grown:
                grown[p] = shapely.union_all(
                    [
                        zone_geometry(z, buffer_m)
                        for z, zp in zip(zones, zone_port, strict=False)
                        if zp == p
                    ]
                )
            sel = port[held] == p
            outside[sel] = ~shapely.intersects_xy(grown[p], lon[held[sel]], lat[held[sel]])
        if not outside.any():
            return port
        exits[held[outside]] = True
