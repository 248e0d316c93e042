"""Geofences: zones (port, berth, anchorage, area) loaded from GeoJSON and config circles."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from monitor.config import ZoneKind
from monitor.errors import ConfigError


@dataclass(frozen=True)
class Zone:
    """One geofence. ``port_id`` is the port a berth or anchorage belongs to (itself for a port)."""

    id: str
    name: str
    kind: ZoneKind
    port_id: str
    country: str | None
    geometry: Polygon | MultiPolygon


def load_geojson(path: Path) -> list[Zone]:
    """Return the zones of a GeoJSON FeatureCollection file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read geofences: {exc}") from exc
    zones: list[Zone] = []
    for index, feature in enumerate(data.get("features", [])):
        props = feature.get("properties") or {}
        geom = shape(feature["geometry"])
        if not isinstance(geom, Polygon | MultiPolygon):
            raise ConfigError(f"{path}: feature {index}: geometry must be Polygon or MultiPolygon")
        if not shapely.is_valid(geom):
            raise ConfigError(
                f"{path}: feature {index} ({props.get('id')}): invalid polygon: "
                f"{shapely.is_valid_reason(geom)}; redraw it without self-intersections"
            )
        zone_id = str(props["id"])
        kind = props.get("kind", "port")
        zones.append(
            Zone(
                id=zone_id,
                name=str(props.get("name", zone_id)),
                kind=kind,
                port_id=str(props.get("port") or zone_id),
                country=props.get("country"),
                geometry=geom,
            )
        )
    return zones
