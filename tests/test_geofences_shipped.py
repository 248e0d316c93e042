"""The shipped Korea config and its geofences."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from monitor.analyse.geofences import (
    Zone,
    load_zones,
    nearest_port,
    zone_warnings,
    zones_for_points,
)
from monitor.config import load_config, shipped_config_path

KP_PORTS = {"nampo", "sohae", "rajin", "chongjin", "hungnam", "wonsan", "haeju", "songnim"}
RU_PORTS = {"vostochny", "dunai", "vladivostok", "nakhodka", "posyet", "zarubino"}


@pytest.fixture(scope="module")
def zones() -> list[Zone]:
    return load_zones(load_config(shipped_config_path("korea")))


def test_shipped_config_has_the_expected_ports(zones: list[Zone]) -> None:
    ports = {zone.id: zone.country for zone in zones if zone.kind == "port"}
    assert ports == {**dict.fromkeys(KP_PORTS, "KP"), **dict.fromkeys(RU_PORTS, "RU")}


def test_every_zone_is_valid_and_linked(zones: list[Zone]) -> None:
    by_id = {zone.id: zone for zone in zones}
    assert len(by_id) == len(zones)
    for zone in zones:
        assert shapely.is_valid(zone.geometry), zone.id
        assert zone.geometry.bounds[0] > 123 and zone.geometry.bounds[2] < 134, zone.id
        assert zone.geometry.bounds[1] > 37 and zone.geometry.bounds[3] < 44, zone.id
        if zone.kind in ("berth", "anchorage"):
            assert by_id[zone.port_id].kind == "port", zone.id
    assert zone_warnings(zones) == []


def test_every_port_has_a_berth_or_anchorage(zones: list[Zone]) -> None:
    linked = {zone.port_id for zone in zones if zone.kind != "port"}
    assert linked == KP_PORTS | RU_PORTS


def test_known_positions_fall_in_the_right_zone(zones: list[Zone]) -> None:
    # Nampo's main wharves, mid-channel off Nampo, Vladivostok's Golden Horn, Vostochny anchorage,
    # and open sea between Korea and Japan.
    lon = np.array([125.385, 125.395, 131.91, 133.0, 131.0])
    lat = np.array([38.713, 38.703, 43.106, 42.76, 40.0])
    idx = zones_for_points(zones, lon, lat)
    got = [zones[i].id if i >= 0 else None for i in idx]
    assert got == [
        "nampo_main_wharves",
        "nampo",
        "vladivostok_golden_horn",
        "vostochny_anchorage",
        None,
    ]


def test_geojson_carries_redraw_notes() -> None:
    path = shipped_config_path("korea").parent / "geofences" / "korea.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert "approximate" in data["description"].lower()
    assert "monitor config check" in data["description"]
    toml = shipped_config_path("korea").read_text(encoding="utf-8")
    assert "APPROXIMATE" in toml and "geojson.io" in toml


@pytest.mark.parametrize("within_km", [0.5, 10.0, 80.0])
def test_nearest_port_within_a_distance_is_the_nearest_port_when_that_near(
    zones: list[Zone], within_km: float
) -> None:
    """Points within a distance of a port are measured against it whatever its bounds skip:
    the nearest port and its distance as without the bound, none beyond it."""
    rng = np.random.default_rng(7)
    lat = rng.uniform(37.0, 44.0, 4000)
    lon = rng.uniform(123.0, 134.0, 4000)
    lat[:5], lon[:5] = np.nan, np.nan
    ports, km = nearest_port(zones, lat, lon)
    near, near_km = nearest_port(zones, lat, lon, within_km=within_km)
    inside = km <= within_km
    assert inside.any() and not inside.all()
    assert np.array_equal(near_km[inside], km[inside])
    assert [p for p, ok in zip(near, inside, strict=True) if ok] == [
        p for p, ok in zip(ports, inside, strict=True) if ok
    ]
    assert np.isinf(near_km[~inside]).all()
    assert all(p is None for p, ok in zip(near, inside, strict=True) if not ok)
