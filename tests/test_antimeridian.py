"""Zones across the antimeridian (Chukotka, Fiji, the Aleutians) and circles near the poles."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from monitor.analyse.geofences import (
    Zone,
    area_km2,
    buffer_metres,
    circle_zone,
    load_geojson,
    zones_for_points,
)
from monitor.analyse.portcalls.detect import detect
from monitor.config import CircleZone, DetectSettings, parse_config
from monitor.errors import ConfigError
from monitor.schema import POSITIONS_SCHEMA

T0 = datetime(2024, 3, 1, tzinfo=UTC)
LAT = 64.7  # Anadyr, Chukotka
#: The same port drawn at 10°E (nothing to cross) and turned east by 170° onto the antimeridian.
EAST = 170.0


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def _metres_east(lon: float, lat: float, metres: float) -> float:
    return _wrap(lon + metres / (111_195.0 * math.cos(math.radians(lat))))


def _circle(lon: float, radius_m: float = 5000.0, zone_id: str = "ANADYR") -> Zone:
    circle = CircleZone(id=zone_id, name=zone_id, lat=LAT, lon=lon, radius_m=radius_m)
    return circle_zone(circle)


def _polygon_file(tmp_path: Path, shift: float) -> Path:
    """Return a GeoJSON port 0.4° wide centred on 10°E + ``shift``, as a user would draw it
    (longitudes kept within -180..180, so across 180 they jump from 179.8 to -179.8)."""
    ring = [(9.8, 64.6), (10.2, 64.6), (10.2, 64.8), (9.8, 64.8), (9.8, 64.6)]
    coords = [[_wrap(lon + shift), lat] for lon, lat in ring]
    feature = {
        "type": "Feature",
        "properties": {"id": "PORT", "kind": "port"},
        "geometry": {"type": "Polygon", "coordinates": [coords]},
    }
    path = tmp_path / f"port{shift:g}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def test_a_circle_on_the_antimeridian_covers_both_sides() -> None:
    zone = _circle(179.99)
    assert np.abs(np.asarray(zone.geometry.bounds)[[0, 2]]).max() <= 180.0
    lon = [179.99, _metres_east(179.99, LAT, 4000), _metres_east(179.99, LAT, -4000)]
    lon += [_metres_east(179.99, LAT, 6000), _metres_east(179.99, LAT, -6000), 0.0]
    inside = zones_for_points([zone], lon, [LAT] * 6)
    assert inside.tolist() == [0, 0, 0, -1, -1, -1]
    assert area_km2(zone.geometry) == pytest.approx(math.pi * 25, rel=0.01)
    grown = buffer_metres(zone.geometry, 1000)
    assert area_km2(grown) == pytest.approx(math.pi * 36, rel=0.01)
    assert zones_for_points([zone], [_metres_east(179.99, LAT, 5800)], [LAT], 1000).tolist() == [0]


def test_a_polygon_drawn_across_the_antimeridian_is_the_small_one(tmp_path: Path) -> None:
    (here,) = load_geojson(_polygon_file(tmp_path, 0.0))
    (there,) = load_geojson(_polygon_file(tmp_path, EAST))
    assert area_km2(there.geometry) == pytest.approx(area_km2(here.geometry), rel=1e-6)
    lon = [179.9, -179.9, 179.5, -179.5, 0.0, 10.0]
    assert zones_for_points([there], lon, [64.7] * 6).tolist() == [0, 0, -1, -1, -1, -1]


def _track(mmsi: int, waypoints: list[tuple[float, float, float]]) -> list[dict[str, object]]:
    """Return positions every 10 min along (lon, lat, hours to get there) legs."""
    rows: list[dict[str, object]] = []
    t = T0
    lon0, lat0, _ = waypoints[0]
    for lon1, lat1, hours in waypoints[1:]:
        steps = max(1, round(hours * 6))
        for i in range(steps):
            f = i / steps
            rows.append(
                {
                    "mmsi": mmsi,
                    "timestamp_utc": t,
                    "lon": lon0 + (lon1 - lon0) * f,
                    "lat": lat0 + (lat1 - lat0) * f,
                    "sog_kn": 0.0 if (lon0, lat0) == (lon1, lat1) else 8.0,
                }
            )
            t += timedelta(minutes=10)
        lon0, lat0 = lon1, lat1
    return rows


def _traffic(shift: float) -> pl.DataFrame:
    """Return three calls at the port at 10°E + ``shift`` and two vessels far from it."""
    sea_w, sea_e, west_half, east_half = (9.0, 64.7), (11.0, 64.7), (9.95, 64.7), (10.05, 64.7)
    legs: dict[int, list[tuple[float, float, float]]] = {
        # In through the west half, stays on the east half, out to the east.
        1: [
            (*sea_w, 0),
            (*west_half, 3),
            (*west_half, 5),
            (*east_half, 1),
            (*east_half, 8),
            (*sea_e, 3),
        ],
        # Anchored right on the line (10°E here, 180° there).
        2: [(*sea_e, 0), (10.0, 64.7, 3), (10.0, 64.7, 12), (*sea_e, 3)],
        # Swinging 300 m either side of the line for hours.
        3: [
            (*sea_w, 0),
            (9.994, 64.71, 3),
            *[(9.994 + 0.012 * (i % 2), 64.71, 0.5) for i in range(12)],
            (*sea_w, 3),
        ],
        # Far away on both sides of the port: never in it.
        4: [(100.0, 10.0, 0), (101.0, 10.0, 10)],
        5: [(-80.0, 30.0, 0), (-81.0, 30.0, 10)],
    }
    rows = []
    for mmsi, waypoints in legs.items():
        for row in _track(273_000_000 + mmsi, waypoints):
            if mmsi <= 3:
                row["lon"] = _wrap(float(row["lon"]) + shift)  # type: ignore[arg-type]
            rows.append(row)
    frame = pl.DataFrame(rows)
    return frame.with_columns(
        pl.lit(None, t).alias(c) for c, t in POSITIONS_SCHEMA.items() if c not in frame.columns
    ).select([pl.col(c).cast(t) for c, t in POSITIONS_SCHEMA.items()])


def _calls(positions: pl.DataFrame, zones: list[Zone]) -> pl.DataFrame:
    calls = detect(positions, zones, DetectSettings())
    return calls.select("mmsi", "port_id", "arrival_utc", "departure_utc", "stopped").sort("mmsi")


def test_calls_at_a_polygon_port_across_the_antimeridian(tmp_path: Path) -> None:
    here = load_geojson(_polygon_file(tmp_path, 0.0))
    there = load_geojson(_polygon_file(tmp_path, EAST))
    expected = _calls(_traffic(0.0), here)
    assert expected.height == 3
    assert _calls(_traffic(EAST), there).equals(expected)


def test_calls_at_a_circle_port_across_the_antimeridian() -> None:
    expected = _calls(_traffic(0.0), [_circle(10.0, 8000)])
    assert expected.height == 3
    assert _calls(_traffic(EAST), [_circle(180.0, 8000)]).equals(expected)
    assert _calls(_traffic(EAST), [_circle(-180.0, 8000)]).equals(expected)


@pytest.mark.parametrize(("lat", "radius_m"), [(90.0, 1000.0), (-89.9, 5000.0), (84.5, 100_000)])
def test_circles_reaching_near_a_pole_are_refused(lat: float, radius_m: float) -> None:
    text = (
        f'[[geofences.circles]]\nid = "pole"\nname = "Pole"\nlat = {lat}\nlon = 10\n'
        f"radius_m = {radius_m}\n"
    )
    with pytest.raises(ConfigError, match=r"geofences\.circles\[0\].*GeoJSON polygon"):
        parse_config(text)


def test_circles_at_the_northernmost_ports_are_accepted() -> None:
    # Longyearbyen, Svalbard.
    zone = _circle(15.6, 3000)
    settings = parse_config(
        '[[geofences.circles]]\nid = "lyr"\nname = "Longyearbyen"\nlat = 78.23\nlon = 15.6\n'
        "radius_m = 3000\n"
    )
    assert settings.geofences.circles[0].lat == 78.23
    assert np.isfinite(np.asarray(zone.geometry.bounds)).all()
