"""Call boundaries: departure at the last position inside the zones, and visits of one port merged.

Port P has an outer anchorage 22 km east of the port polygon (like Nampo's outer anchorage down
the river): a ship that waits there, or only passes through it, on its way to the berth makes one
call, timed from its first position inside any zone of the port to its last.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from shapely.geometry import box
from tracks_portcalls import BERTH, T0, Track, positions

from monitor.analyse.geofences import Zone
from monitor.analyse.portcalls.detect import Detection, detect_all
from monitor.config import DetectSettings

S = DetectSettings()
NO_MERGE = DetectSettings(merge_gap_h=0)

#: Port P, its berth, its outer anchorage 0.2 deg (22 km) east of it, and port R in between.
ZONES = [
    Zone("P", "Port P", "port", "P", "KP", box(0.0, 0.0, 0.1, 0.1)),
    Zone("P-berth", "Berth 1", "berth", "P", "KP", box(0.02, 0.02, 0.03, 0.03)),
    Zone("P-outer", "Outer anchorage", "anchorage", "P", "KP", box(0.3, 0.0, 0.35, 0.05)),
    Zone("R", "Port R", "port", "R", "RU", box(0.15, 0.06, 0.2, 0.1)),
]
OUTER = (0.32, 0.02)
IN_R = (0.17, 0.08)
SEA_EAST = (0.6, 0.02)
SEA_WEST = (-0.3, 0.05)


def run(track: Track, settings: DetectSettings = S) -> Detection:
    return detect_all(positions(track), ZONES, settings)


def times(track: Track, lon_min: float, lon_max: float) -> list[object]:
    """Return the times of the track's fixes with lon_min <= lon <= lon_max (inside a box)."""
    return [r["timestamp_utc"] for r in track.rows if lon_min <= r["lon"] <= lon_max]  # type: ignore[operator]


def test_departure_is_the_last_position_inside_not_in_the_exit_buffer() -> None:
    track = Track(1).fix(-0.05, 0.08, 8)  # 5.5 km west: at sea
    track.fix(0.01, 0.08, 5)  # inside P: arrival
    track.stay((0.05, 0.08), 3)
    track.fix(0.09, 0.08, 5)  # last fix inside P: departure
    track.fix(0.105, 0.08, 5)  # 550 m outside: within the exit buffer
    track.fix(0.108, 0.08, 5, minutes=60)  # 900 m outside: still within it
    track.fix(0.3, 0.08, 8)  # 21 km out an hour later: the vessel has left
    calls = run(track).calls
    assert calls.height == 1
    call = calls.row(0, named=True)
    assert call["arrival_utc"] == T0 + timedelta(minutes=10)
    # Fixes every 10 min: sea, arrival, 18 at anchor (3 h), then the last fix inside.
    assert call["departure_utc"] == T0 + timedelta(minutes=10 * 20)
    assert call["duration_h"] == pytest.approx(19 * 10 / 60)
    assert call["departure_observed"] and call["status"] == "departed"


def test_transit_ends_at_its_last_position_inside() -> None:
    track = Track(2).fix(-0.05, 0.08, 10)
    for lon in (0.01, 0.04, 0.07, 0.095, 0.105, 0.15):
        track.fix(lon, 0.08, 10)
    transits = run(track).transits
    assert transits.height == 1
    transit = transits.row(0, named=True)
    assert transit["arrival_utc"] == T0 + timedelta(minutes=10)
    assert transit["departure_utc"] == T0 + timedelta(minutes=40)
    assert transit["duration_h"] == pytest.approx(0.5)


def anchorage_then_berth(mmsi: int) -> Track:
    """Wait 5 h at the outer anchorage, sail 2 h to the berth, stay 10 h, leave west."""
    return (
        Track(mmsi)
        .fix(*SEA_EAST, 10)
        .sail(OUTER, 2)
        .stay(OUTER, 5)
        .sail(BERTH, 2)
        .stay(BERTH, 10)
        .sail(SEA_WEST, 2)
    )


def test_wait_at_a_detached_anchorage_then_berth_is_one_call() -> None:
    track = anchorage_then_berth(3)
    found = run(track)
    assert found.calls.height == 1 and found.transits.is_empty()
    call = found.calls.row(0, named=True)
    assert call["port_id"] == "P"
    assert call["arrival_utc"] == times(track, 0.3, 0.35)[0]
    assert call["departure_utc"] == times(track, 0.0, 0.1)[-1]
    # Each fix at the anchorage (berth) counts the 10 min until the next fix.
    assert call["anchorage_h"] == pytest.approx(len(times(track, 0.3, 0.35)) / 6)
    assert call["berth_h"] == pytest.approx(len(times(track, 0.02, 0.03)) / 6)
    assert call["arrival_observed"] and call["departure_observed"] and call["stopped"]
    assert call["confidence"] == 4
    # Positions at the anchorage and in the port, plus the one fix within the exit buffer after
    # each (0.295 E, 510 m from the anchorage; -0.002 E, 220 m from the port), none between.
    inside = len(times(track, 0.3, 0.35)) + len(times(track, 0.0, 0.1))
    assert call["n_positions"] == inside + 2
    # Without merging, the same track is two calls.
    assert run(track, NO_MERGE).calls.height == 2


def test_passing_through_the_outer_anchorage_to_the_berth_is_one_call() -> None:
    track = (
        Track(4)
        .fix(*SEA_EAST, 10)
        .sail(OUTER, 2)  # enters the anchorage at 10 kn, does not stop
        .sail(BERTH, 2)
        .stay(BERTH, 10)
        .sail(OUTER, 2)  # leaves through the anchorage again
        .sail(SEA_EAST, 2)
    )
    found = run(track)
    assert found.transits.is_empty()
    assert found.calls.height == 1
    call = found.calls.row(0, named=True)
    anchorage = times(track, 0.3, 0.35)
    assert call["arrival_utc"] == anchorage[0]
    assert call["departure_utc"] == anchorage[-1]
    assert call["anchorage_h"] < 1.0
    without = run(track, NO_MERGE)
    assert without.calls.height == 1 and without.transits.height == 2


def test_two_passes_through_one_port_make_one_transit() -> None:
    track = Track(5).fix(*SEA_EAST, 10).sail(OUTER, 2).sail(SEA_WEST, 4)
    found = run(track)
    assert found.calls.is_empty()
    assert found.transits.height == 1
    transit = found.transits.row(0, named=True)
    assert transit["arrival_utc"] == times(track, 0.3, 0.35)[0]
    assert transit["departure_utc"] == times(track, 0.0, 0.1)[-1]


#: 1.5 km west of port P: beyond its exit buffer, within merge_distance_m.
NEAR_WEST_A = (-0.0135, 0.03)
NEAR_WEST_B = (-0.0135, 0.07)


def test_visits_far_apart_in_time_stay_separate_calls() -> None:
    track = Track(6).fix(*SEA_WEST, 10).sail(BERTH, 2).stay(BERTH, 5).sail(NEAR_WEST_A, 0.5)
    for _ in range(3):  # 6 h under way off the port, longer than merge_gap_h
        track.sail(NEAR_WEST_B, 1, sog=2).sail(NEAR_WEST_A, 1, sog=2)
    track.sail(BERTH, 0.5).stay(BERTH, 5).sail(SEA_WEST, 2)
    assert run(track).calls.height == 2
    assert run(track, DetectSettings(merge_gap_h=12)).calls.height == 1


def test_a_call_at_another_port_between_keeps_the_calls_apart() -> None:
    track = (
        Track(7)
        .fix(*SEA_EAST, 10)
        .sail(OUTER, 1)
        .stay(OUTER, 3)
        .sail(IN_R, 1)
        .stay(IN_R, 2)
        .sail(BERTH, 1)
        .stay(BERTH, 3)
        .sail(SEA_WEST, 2)
    )
    calls = run(track).calls
    assert calls["port_id"].to_list() == ["P", "R", "P"]


def test_merged_call_is_open_when_the_vessel_is_still_in_port() -> None:
    track = Track(8).fix(*SEA_EAST, 10).sail(OUTER, 2).stay(OUTER, 3).sail(BERTH, 2).stay(BERTH, 2)
    calls = run(track).calls
    assert calls.height == 1
    call = calls.row(0, named=True)
    assert call["status"] == "in_port" and call["departure_utc"] is None
    assert call["arrival_utc"] == times(track, 0.3, 0.35)[0]
    assert call["confidence"] == 3


def test_merging_does_not_depend_on_other_vessels() -> None:
    one = anchorage_then_berth(9)
    other = anchorage_then_berth(10)
    alone = run(one).calls
    both = detect_all(positions(one, other), ZONES, S).calls
    assert both.filter(pl.col("mmsi") == 9).equals(alone)
