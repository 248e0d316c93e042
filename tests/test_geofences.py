from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon

from monitor.analyse.geofences import (
    Zone,
    area_km2,
    circle_polygon,
    load_geojson,
    load_zones,
    zones_for_points,
)
from monitor.config import parse_config
from monitor.errors import ConfigError

NAMPO_LON, NAMPO_LAT = 125.38, 38.72
M_PER_DEG_LAT = 111_195.0


def square(lon: float, lat: float, half_deg: float) -> list[list[list[float]]]:
    return [
        [
            [lon - half_deg, lat - half_deg],
            [lon + half_deg, lat - half_deg],
            [lon + half_deg, lat + half_deg],
            [lon - half_deg, lat + half_deg],
            [lon - half_deg, lat - half_deg],
        ]
    ]


def feature(
    zone_id: str | None, kind: str = "port", coords: Any = None, **props: Any
) -> dict[str, Any]:
    properties: dict[str, Any] = {"name": f"Zone {zone_id}", "kind": kind, **props}
    if zone_id is not None:
        properties["id"] = zone_id
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": coords or square(125.4, 38.7, 0.01)},
    }


def write_fc(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def zone(zone_id: str, kind: str, geom: Polygon | MultiPolygon, port: str | None = None) -> Zone:
    return Zone(zone_id, zone_id, kind, port or zone_id, None, geom)  # type: ignore[arg-type]


# --- loading ----------------------------------------------------------------------------------


def test_load_geojson_reads_properties_and_links(tmp_path: Path) -> None:
    path = write_fc(
        tmp_path / "z.geojson",
        [
            feature("np", "port", country="KP"),
            feature("np_b1", "berth", square(125.4, 38.7, 0.001), port="np"),
        ],
    )
    zones = load_geojson(path)
    assert [(z.id, z.kind, z.port_id, z.country) for z in zones] == [
        ("np", "port", "np", "KP"),
        ("np_b1", "berth", "np", None),
    ]
    assert zones[0].name == "Zone np"


def test_multipolygon_is_accepted_and_both_parts_match(tmp_path: Path) -> None:
    multi = {
        "type": "Feature",
        "properties": {"id": "two", "kind": "anchorage"},
        "geometry": {
            "type": "MultiPolygon",
            "coordinates": [square(125.0, 38.0, 0.01), square(126.0, 38.0, 0.01)],
        },
    }
    zones = load_geojson(write_fc(tmp_path / "m.geojson", [multi]))
    assert isinstance(zones[0].geometry, MultiPolygon)
    idx = zones_for_points(zones, np.array([125.0, 126.0, 125.5]), np.array([38.0, 38.0, 38.0]))
    assert idx.tolist() == [0, 0, -1]


@pytest.mark.parametrize(
    ("features", "pattern"),
    [
        ([feature(None)], r"feature 0: missing property 'id'"),
        ([feature("a"), feature("a")], r"feature 1: duplicate zone id 'a'.*feature 0"),
        ([feature("a", "birth")], r"feature 0 \(id 'a'\): unknown kind 'birth'.*'berth'"),
        (
            [feature("a", coords=[[[125, 38], [126, 39], [126, 38], [125, 39], [125, 38]]])],
            r"feature 0 \(id 'a'\): invalid polygon: Self-intersection.*Fix Geometries",
        ),
        (
            [feature("a", coords=square(38.7, 125.4, 0.01))],
            r"out of range.*\[lat, lon\] order.*swap",
        ),
        (
            [feature("a", coords=square(200.0, 38.0, 0.01))],
            r"out of range \(lon -180\.\.180.*; fix the coordinate",
        ),
        (
            [feature("a", coords=square(13_958_000.0, 4_680_000.0, 500.0))],
            r"projected coordinates \(metres\).*EPSG:4326",
        ),
        ([feature(None, id=7)], r"property 'id' must be a string \(got 7\)"),
        ([{**feature("a"), "geometry": {"type": "Point", "coordinates": [1, 2]}}], r"'Point'"),
        ([{**feature("a"), "geometry": None}], r"no geometry"),
        ([feature("a", name=5)], r"property 'name' must be a string"),
        ([feature("a", "port", port="b")], r"a port cannot belong to port 'b'"),
        (
            [{**feature("a"), "geometry": {"type": "Polygon", "coordinates": [[[1, 2]]]}}],
            r"malformed Polygon",
        ),
    ],
)
def test_geojson_errors_name_file_feature_and_reason(
    tmp_path: Path, features: list[dict[str, Any]], pattern: str
) -> None:
    path = write_fc(tmp_path / "bad.geojson", features)
    with pytest.raises(ConfigError, match=pattern) as err:
        load_geojson(path)
    assert str(path) in str(err.value)


def test_non_feature_collection_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "f.geojson"
    path.write_text(json.dumps(feature("a")))
    with pytest.raises(ConfigError, match=r"expected a GeoJSON FeatureCollection, got 'Feature'"):
        load_geojson(path)


def test_broken_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "f.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [,]}')
    with pytest.raises(ConfigError, match=r"not valid JSON at line 2"):
        load_geojson(path)


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read geofence file"):
        load_geojson(tmp_path / "nope.geojson")


def _settings(tmp_path: Path, features: list[dict[str, Any]], extra: str = "") -> Any:
    write_fc(tmp_path / "z.geojson", features)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[geofences]\nfiles = ["z.geojson"]\n' + extra)
    return parse_config(cfg.read_text(), cfg)


def test_berth_linked_to_unknown_port_is_rejected(tmp_path: Path) -> None:
    settings = _settings(tmp_path, [feature("nampo"), feature("b", "berth", port="nmapo")])
    with pytest.raises(ConfigError, match=r"port 'nmapo' is not the id.*did you mean 'nampo'"):
        load_zones(settings)


def test_berth_linked_to_a_berth_is_rejected(tmp_path: Path) -> None:
    settings = _settings(tmp_path, [feature("b1", "berth"), feature("b2", "berth", port="b1")])
    with pytest.raises(ConfigError, match=r"'b1' is a berth, not a port"):
        load_zones(settings)


def test_circles_join_file_zones_and_ids_must_be_unique(tmp_path: Path) -> None:
    circle = (
        '[[geofences.circles]]\nid = "anc"\nname = "Anchorage"\nkind = "anchorage"\n'
        'lat = 38.7\nlon = 125.3\nradius_m = 2000\nport = "np"\n'
    )
    zones = load_zones(_settings(tmp_path, [feature("np")], circle))
    assert [(z.id, z.kind, z.port_id) for z in zones] == [
        ("np", "port", "np"),
        ("anc", "anchorage", "np"),
    ]
    dup = circle.replace('id = "anc"', 'id = "np"')
    with pytest.raises(ConfigError, match=r"geofences\.circles\[0\]: duplicate zone id 'np'"):
        load_zones(_settings(tmp_path, [feature("np")], dup))


def test_circle_polygon_has_the_radius() -> None:
    disc = circle_polygon(NAMPO_LON, NAMPO_LAT, 2000)
    assert area_km2(disc) == pytest.approx(math.pi * 4.0, rel=0.01)
    north = NAMPO_LAT + 1990 / M_PER_DEG_LAT
    beyond = NAMPO_LAT + 2010 / M_PER_DEG_LAT
    z = [zone("c", "port", disc)]
    assert zones_for_points(z, [NAMPO_LON, NAMPO_LON], [north, beyond]).tolist() == [0, -1]


# --- point in zone ----------------------------------------------------------------------------


def test_berth_wins_over_port_and_anchorage_over_area() -> None:
    area = zone("area", "area", Polygon(square(125.4, 38.7, 0.5)[0]))
    port = zone("port", "port", Polygon(square(125.4, 38.7, 0.1)[0]))
    berth = zone("berth", "berth", Polygon(square(125.4, 38.7, 0.01)[0]), "port")
    anch = zone("anch", "anchorage", Polygon(square(125.2, 38.7, 0.05)[0]), "port")
    zones = [area, port, berth, anch]
    lon = np.array([125.4, 125.45, 125.2, 125.8, 130.0])
    lat = np.array([38.7, 38.7, 38.7, 38.7, 38.7])
    assert zones_for_points(zones, lon, lat).tolist() == [2, 1, 3, 0, -1]


def test_points_on_the_boundary_are_inside() -> None:
    poly = Polygon(square(125.4, 38.7, 0.01)[0])
    z = [zone("p", "port", poly)]
    corners = shapely.get_coordinates(poly)
    assert (zones_for_points(z, corners[:, 0], corners[:, 1]) == 0).all()
    assert zones_for_points(z, [125.41, 125.4100001], [38.7, 38.7]).tolist() == [0, -1]


def test_nan_and_empty_inputs() -> None:
    z = [zone("p", "port", Polygon(square(125.4, 38.7, 0.1)[0]))]
    assert zones_for_points(z, [np.nan], [38.7]).tolist() == [-1]
    assert zones_for_points(z, np.array([]), np.array([])).shape == (0,)
    assert zones_for_points([], [125.4], [38.7]).tolist() == [-1]
    with pytest.raises(ValueError, match="shape"):
        zones_for_points(z, [1.0, 2.0], [1.0])


def test_buffer_grows_zone_by_metres_at_nampo() -> None:
    half = 0.01
    poly = Polygon(square(NAMPO_LON, NAMPO_LAT, half)[0])
    zones = [zone("p", "port", poly)]
    east_edge = NAMPO_LON + half
    m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(NAMPO_LAT))
    north_edge = NAMPO_LAT + half
    lon = np.array([east_edge + 900 / m_per_deg_lon, east_edge + 1100 / m_per_deg_lon, NAMPO_LON])
    lat = np.array([NAMPO_LAT, NAMPO_LAT, north_edge + 900 / M_PER_DEG_LAT])
    assert zones_for_points(zones, lon, lat).tolist() == [-1, -1, -1]
    assert zones_for_points(zones, lon, lat, buffer_m=1000).tolist() == [0, -1, 0]
    # Beyond a corner the buffer is round, not square.
    corner = 800 / m_per_deg_lon, 800 / M_PER_DEG_LAT
    idx = zones_for_points(zones, [east_edge + corner[0]], [north_edge + corner[1]], buffer_m=1000)
    assert idx.tolist() == [-1]


def _random_polygon(seed: int, lon: float, lat: float) -> Polygon | MultiPolygon:
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, 9, endpoint=False) + rng.uniform(0, 0.6, 9)
    radii = rng.uniform(0.02, 0.1, 9)
    ring = np.c_[lon + radii * np.cos(angles), lat + radii * np.sin(angles)]
    geom = Polygon(ring)
    assert geom.is_valid
    return geom


@settings(max_examples=40, deadline=None)
@given(
    seeds=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    kinds=st.lists(st.sampled_from(["port", "berth", "anchorage", "area"]), min_size=6, max_size=6),
    point_seed=st.integers(0, 10_000),
    buffer_m=st.sampled_from([0.0, 500.0]),
)
def test_zones_for_points_matches_shapely(
    seeds: list[int], kinds: list[str], point_seed: int, buffer_m: float
) -> None:
    rng = np.random.default_rng(point_seed)
    zones = [
        zone(f"z{i}", kinds[i], _random_polygon(s, 125.3 + 0.05 * i, 38.7))
        for i, s in enumerate(seeds)
    ]
    lon = rng.uniform(125.1, 125.8, 400)
    lat = rng.uniform(38.55, 38.85, 400)
    got = zones_for_points(zones, lon, lat, buffer_m=buffer_m)
    from monitor.analyse.geofences import buffer_metres

    rank = {"berth": 0, "anchorage": 1, "port": 2, "area": 3}
    # Independent oracle: one plain shapely test per (zone, point), then pick by rank.
    inside = np.array(
        [shapely.intersects_xy(buffer_metres(z.geometry, buffer_m), lon, lat) for z in zones]
    )
    for k in range(lon.size):
        containing = np.flatnonzero(inside[:, k]).tolist()
        expected = min(containing, key=lambda i: (rank[zones[i].kind], i)) if containing else -1
        assert got[k] == expected


def test_circle_port_cannot_belong_to_a_port(tmp_path: Path) -> None:
    circle = (
        '[[geofences.circles]]\nid = "p2"\nname = "P2"\nkind = "port"\nport = "np"\n'
        "lat = 38.7\nlon = 125.3\nradius_m = 2000\n"
    )
    with pytest.raises(ConfigError, match=r"circles\[0\] \(id 'p2'\): a port cannot belong"):
        load_zones(_settings(tmp_path, [feature("np")], circle))


def test_shipped_circle_example_loads() -> None:
    from monitor.config import load_config, shipped_config_path

    zones = load_zones(load_config(shipped_config_path("example_circles")))
    assert {(z.id, z.kind, z.port_id) for z in zones} == {
        ("nampo", "port", "nampo"),
        ("nampo_outer_anchorage", "anchorage", "nampo"),
        ("vostochny", "port", "vostochny"),
        ("vostochny_anchorage", "anchorage", "vostochny"),
    }


def test_zone_warnings_flag_scale_distance_and_overlap() -> None:
    from monitor.analyse.geofences import zone_warnings

    big_berth = zone("b", "berth", circle_polygon(125.4, 38.7, 2000), port="p1")
    p1 = zone("p1", "port", circle_polygon(125.4, 38.7, 3000))
    p2 = zone("p2", "port", circle_polygon(125.43, 38.7, 3000))
    far = zone("a", "anchorage", circle_polygon(126.0, 38.7, 1000), port="p1")
    warnings = zone_warnings([p1, p2, big_berth, far])
    assert any(w.startswith("b: a berth of 12.5 km²") for w in warnings), warnings
    assert any(w.startswith("a: 48 km from its port 'p1'") for w in warnings), warnings
    assert any(w.startswith("p1 and p2: port polygons overlap") for w in warnings), warnings
    assert len(warnings) == 3


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(-60, 60),
    side=st.sampled_from(["n", "s", "e", "w"]),
    buffer_m=st.floats(100, 5000),
    frac=st.floats(0.0, 2.0).filter(lambda f: abs(f - 1.0) > 0.02),
)
def test_buffer_distance_holds_at_any_latitude(
    lat: float, side: str, buffer_m: float, frac: float
) -> None:
    half = 0.02
    lon = 100.0
    zones = [zone("p", "port", Polygon(square(lon, lat, half)[0]))]
    d_m = frac * buffer_m
    m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(lat))
    x, y = {
        "n": (lon, lat + half + d_m / M_PER_DEG_LAT),
        "s": (lon, lat - half - d_m / M_PER_DEG_LAT),
        "e": (lon + half + d_m / m_per_deg_lon, lat),
        "w": (lon - half - d_m / m_per_deg_lon, lat),
    }[side]
    got = zones_for_points(zones, [x], [y], buffer_m=buffer_m)[0]
    assert got == (0 if frac < 1.0 else -1)


def test_feature_level_id_is_used_when_properties_lack_it(tmp_path: Path) -> None:
    feat = feature(None)
    feat["id"] = "from_feature"
    zones = load_geojson(write_fc(tmp_path / "f.geojson", [feat]))
    assert zones[0].id == "from_feature"


def test_overlapping_multipolygon_parts_are_invalid(tmp_path: Path) -> None:
    multi = {
        "type": "Feature",
        "properties": {"id": "m"},
        "geometry": {
            "type": "MultiPolygon",
            "coordinates": [square(125.0, 38.0, 0.01), square(125.005, 38.0, 0.01)],
        },
    }
    with pytest.raises(
        ConfigError, match=r"feature 0 \(id 'm'\): invalid polygon: Self-intersection"
    ):
        load_geojson(write_fc(tmp_path / "m.geojson", [multi]))


def _oracle(zones: list[Zone], lon: np.ndarray, lat: np.ndarray, buffer_m: float) -> list[int]:
    from monitor.analyse.geofences import buffer_metres

    rank = {"berth": 0, "anchorage": 1, "port": 2, "area": 3}
    inside = np.array(
        [shapely.intersects_xy(buffer_metres(z.geometry, buffer_m), lon, lat) for z in zones]
    )
    out = []
    for k in range(lon.size):
        containing = np.flatnonzero(inside[:, k]).tolist()
        out.append(min(containing, key=lambda i: (rank[zones[i].kind], i)) if containing else -1)
    return out


@settings(max_examples=25, deadline=None)
@given(
    seeds=st.lists(st.integers(0, 10_000), min_size=1, max_size=4),
    point_seed=st.integers(0, 10_000),
    buffer_m=st.sampled_from([0.0, 500.0]),
)
def test_cell_shortcut_matches_shapely_on_cell_edges_and_vertices(
    seeds: list[int], point_seed: int, buffer_m: float
) -> None:
    from unittest import mock

    import monitor.analyse.geofences as geofences
    from monitor.analyse import zone_index

    rng = np.random.default_rng(point_seed)
    # A box whose sides fall on cell edges, a ring with a hole, and random polygons.
    holed = Polygon(
        square(125.3, 38.7, 0.05)[0], [[(125.28, 38.68), (125.32, 38.68), (125.3, 38.72)]]
    )
    geoms = [Polygon(square(125.25, 38.65, 0.04)[0]), holed]
    geoms += [_random_polygon(s, 125.3 + 0.04 * i, 38.7) for i, s in enumerate(seeds)]
    zones = [zone(f"z{i}", ("port", "berth", "anchorage")[i % 3], g) for i, g in enumerate(geoms)]
    lon_parts, lat_parts = [rng.uniform(125.1, 125.5, 300)], [rng.uniform(38.55, 38.85, 300)]
    for z in zones:
        grown = geofences.zone_geometry(z, buffer_m)
        minx, miny, maxx, maxy = grown.bounds
        k = np.arange(zone_index.GRID + 1)
        edges_x = minx + (maxx - minx) * k / zone_index.GRID
        edges_y = miny + (maxy - miny) * k / zone_index.GRID
        lon_parts += [edges_x, rng.uniform(minx, maxx, k.size), np.nextafter(edges_x, 0)]
        lat_parts += [rng.uniform(miny, maxy, k.size), edges_y, rng.uniform(miny, maxy, k.size)]
        vertices = shapely.get_coordinates(grown)
        lon_parts.append(vertices[:, 0])
        lat_parts.append(vertices[:, 1])
    lon, lat = np.concatenate(lon_parts), np.concatenate(lat_parts)
    with mock.patch.object(zone_index, "GRID_MIN_POINTS", 0):
        got = zones_for_points(zones, lon, lat, buffer_m=buffer_m)
    assert got.tolist() == _oracle(zones, lon, lat, buffer_m)
