"""Stops found from a restart point, with the state carried there, equal those over the whole
record."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.analyse.portcalls.stops import Resumed, Stops, stopped_rows

MIN_STOP_MIN = 10.0
MAX_GAP_US = 4 * 3_600_000_000


def _stops(
    lat: np.ndarray, lon: np.ndarray, micros: np.ndarray, sog: np.ndarray, resumed: Resumed | None
) -> Stops:
    first = np.zeros(lat.size, dtype=bool)
    first[0] = True
    gap = np.zeros(lat.size, dtype=bool)
    gap[1:] = np.diff(micros) > MAX_GAP_US
    return stopped_rows(
        lat,
        lon,
        micros,
        sog,
        np.isnan(sog),
        first,
        gap,
        stop_speed_kn=0.2,
        move_speed_kn=0.5,
        min_stop_min=MIN_STOP_MIN,
        stop_radius_m=100.0,
        max_gap_us=MAX_GAP_US,
        resumed=resumed,
    )


def _record(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A vessel that drifts, lies still with a noisy or missing SOG, moves off and back."""
    rng = np.random.default_rng(seed)
    n = 240
    micros = np.cumsum(rng.integers(60, 300, n)) * 1_000_000
    still = (np.arange(n) // 40) % 2 == 0
    step = np.where(still, 2e-6, 4e-4) * rng.random(n)
    lat = 10.0 + np.cumsum(step)
    lon = 20.0 + np.cumsum(np.where(still, 1e-6, 3e-4) * rng.random(n))
    sog = np.where(still, rng.choice([0.0, 0.1, 0.3, 1.5], n), rng.uniform(0.1, 8.0, n))
    sog[rng.random(n) < 0.1] = np.nan
    return lat, lon, micros, sog


@pytest.mark.parametrize("seed", range(4))
def test_stops_go_on_from_any_covered_restart_point(seed: int) -> None:
    lat, lon, micros, sog = _record(seed)
    whole = _stops(lat, lon, micros, sog, None)
    min_us = MIN_STOP_MIN * 60e6
    checked = 0
    for p in range(6, lat.size - 1):
        # The five fixes before p are kept: they must hold every position a stop by position
        # across p may begin at.
        if micros[p - 5] > micros[p - 1] - min_us:
            continue
        context = slice(p - 5, p)
        resumed = Resumed(
            prior=np.r_[whole.by_speed[p - 1], np.zeros(lat.size - p - 1, dtype=bool)],
            since_us=np.r_[whole.since_us[p - 1], np.full(lat.size - p - 1, -1)],
            lat=lat[context],
            lon=lon[context],
            micros=micros[context],
            before=np.zeros(5, dtype=np.int64),
        )
        part = _stops(lat[p:], lon[p:], micros[p:], sog[p:], resumed)
        assert np.array_equal(part.stopped, whole.stopped[p:]), p
        assert np.array_equal(part.by_speed, whole.by_speed[p:]), p
        assert np.array_equal(part.since_us, whole.since_us[p:]), p
        checked += 1
    assert checked > 100
    assert whole.stopped.any() and not whole.stopped.all()
