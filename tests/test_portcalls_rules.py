"""Port-call rules that hold on real reception, one test per rule, each from a few positions.

Port P (11 x 11 km) has a berth inside it and an anchorage 2.2 km east of it (``ANCHOR``); the
patterns are those of real vessels off Southern California (a fast ferry crossing an anchorage
area, a car carrier berthing unheard, a crew boat running to platforms, ...).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from tracks_portcalls import ANCHOR, BERTH, IN_P, SEA_EAST, SEA_WEST, T0, ZONES, Track, positions

from monitor.analyse.portcalls.detect import Detection, detect_all
from monitor.config import DetectSettings

S = DetectSettings()
#: Inside the anchorage, on its west side, and 5 km east of it: a line through the anchorage.
ANCHOR_WEST = (0.125, 0.02)
OFF_ANCHOR = (0.22, 0.02)
#: Inside port P, near its east edge and near the berth.
P_EAST = (0.09, 0.03)
#: An oil platform 10 km west of the port.
PLATFORM = (-0.09, 0.05)


def run(*tracks: Track, settings: DetectSettings = S) -> Detection:
    return detect_all(positions(*tracks), ZONES, settings)


# ---------------------------------------------------------------------------------------------
# Anchorages: a call needs evidence of anchoring


def cross_anchorage(track: Track, to: tuple[float, float], sog: float) -> Track:
    """Sail across the anchorage at ``sog``, one fix a minute."""
    return track.sail(to, 0.2, sog=sog, every_min=1)


def test_crossing_an_anchorage_under_way_twice_around_a_silence_is_no_call() -> None:
    # A fast ferry: in at 30 kn, unheard for 10 h at its terminal, out again at 31 kn.
    ferry = Track(1).fix(*OFF_ANCHOR, 30, minutes=1)
    cross_anchorage(ferry, ANCHOR_WEST, 30).silence(10)
    ferry.fix(*ANCHOR_WEST, 31, minutes=1)
    cross_anchorage(ferry, OFF_ANCHOR, 31)
    found = run(ferry)
    assert found.calls.is_empty()
    assert found.transits.height == 2


def test_crossing_an_anchorage_at_harbour_speed_around_a_silence_is_no_call() -> None:
    # A cruise ship crosses at 8 kn to a berth it reaches unheard, and leaves the same way.
    ship = Track(2).fix(*OFF_ANCHOR, 8, minutes=1)
    cross_anchorage(ship, ANCHOR_WEST, 8).silence(15)
    ship.fix(*ANCHOR_WEST, 10, minutes=1)
    cross_anchorage(ship, OFF_ANCHOR, 10)
    assert run(ship).calls.is_empty()


def test_a_stop_at_the_anchorage_makes_a_call_there() -> None:
    ship = Track(3).fix(*OFF_ANCHOR, 8).sail(ANCHOR, 0.5, sog=6).stay(ANCHOR, 1)
    ship.sail(OFF_ANCHOR, 0.5, sog=6)
    calls = run(ship).calls
    assert calls.height == 1
    assert calls["stop_observed"].to_list() == [True]


def test_reported_at_anchor_while_not_making_way_is_evidence_of_anchoring() -> None:
    # Swinging at 0.3-0.5 kn (no stop by speed), drifting 150 m between fixes (none by
    # position), but reporting "at anchor" (status 1).
    ship = Track(4).fix(*OFF_ANCHOR, 8).sail(ANCHOR, 0.5, sog=6)
    for k in range(4):
        ship.fix(ANCHOR[0] + 0.0014 * ((k + 1) % 2), ANCHOR[1], 0.3 + 0.1 * (k % 2), status=1)
    ship.sail(OFF_ANCHOR, 0.5, sog=6)
    calls = run(ship).calls
    assert calls.height == 1
    assert calls["stop_observed"].to_list() == [False]
    # The same status left set while crossing at 8 kn is no evidence.
    stale = Track(5).fix(*OFF_ANCHOR, 8, minutes=1, status=1)
    for lon in (0.16, 0.145, 0.13):
        stale.fix(lon, 0.02, 8, minutes=1, status=1)
    stale.sail(SEA_EAST, 1, sog=8)
    assert run(stale).calls.is_empty()


# ---------------------------------------------------------------------------------------------
# Silences in port


def test_silence_inside_the_harbour_is_one_stay_whose_stop_was_not_seen() -> None:
    # A car carrier seen entering the basin at 10 kn, and leaving it 12 h later.
    ship = Track(6).fix(*SEA_EAST, 12).sail(P_EAST, 1.5).sail(IN_P, 0.3, sog=10).silence(12)
    ship.fix(*IN_P, 10).sail(P_EAST, 0.3, sog=10).sail(SEA_EAST, 1.5)
    calls = run(ship).calls
    assert calls.height == 1
    call = calls.row(0, named=True)
    assert call["arrival_observed"] and call["departure_observed"]
    assert call["stopped"] and not call["stop_observed"]
    assert call["confidence"] == 2
    assert call["duration_h"] > 12


def test_silence_after_a_stop_at_the_anchorage_is_one_stay() -> None:
    ship = Track(7).fix(*OFF_ANCHOR, 8).sail(ANCHOR, 0.5, sog=6).stay(ANCHOR, 1).silence(10)
    ship.fix(*ANCHOR, 6).sail(OFF_ANCHOR, 0.5, sog=6)
    calls = run(ship).calls
    assert calls.height == 1
    assert calls["max_gap_h"].item() > 10


def test_silence_longer_than_max_silent_stay_h_ends_the_call() -> None:
    ship = Track(8).fix(*SEA_WEST, 10).sail(BERTH, 2).stay(BERTH, 3)
    last_heard = ship.rows[-1]["timestamp_utc"]
    ship.silence(S.max_silent_stay_h + 1).stay(BERTH, 3).sail(SEA_WEST, 2)
    calls = run(ship).calls
    assert calls.height == 2
    first, second = calls.row(0, named=True), calls.row(1, named=True)
    assert first["departure_utc"] == last_heard and not first["departure_observed"]
    assert first["status"] == "departed"
    assert not second["arrival_observed"] and second["departure_observed"]
    # Merging never joins what a silence split, however generous merge_gap_h is.
    generous = DetectSettings(merge_gap_h=S.max_silent_stay_h + 10)
    assert run(ship, settings=generous).calls.height == 2
    # A shorter silence is one stay.
    short = Track(9).fix(*SEA_WEST, 10).sail(BERTH, 2).stay(BERTH, 3)
    short.silence(S.max_silent_stay_h - 1).stay(BERTH, 3).sail(SEA_WEST, 2)
    assert run(short).calls.height == 1


def test_two_recordings_years_apart_make_no_call_lasting_years() -> None:
    old = Track(10, T0 - timedelta(days=3 * 365)).fix(*SEA_WEST, 10).sail(BERTH, 2)
    old.stay(BERTH, 5)
    new = Track(10).stay(BERTH, 5).sail(SEA_WEST, 2)
    calls = run(old, new).calls
    assert calls.height == 2
    assert calls["duration_h"].max() < 10  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# Merging visits of one port


def test_round_trips_to_a_platform_are_separate_calls() -> None:
    # A crew boat: berth, 1 h out to a platform 10 km off, 1 h holding there, back.
    boat = Track(11).stay(BERTH, 2)
    for _ in range(3):
        boat.sail(PLATFORM, 1, sog=12).stay(PLATFORM, 1, sog=0.3).sail(BERTH, 1, sog=12)
        boat.stay(BERTH, 1)
    calls = run(boat).calls
    assert calls.height == 4
    assert calls["departure_observed"].head(3).to_list() == [True] * 3


def test_a_trip_beyond_merge_distance_without_stopping_is_a_new_call() -> None:
    # Out 10 km and straight back in 40 min: a trip, though no stop.
    boat = Track(12).stay(BERTH, 2).sail(PLATFORM, 0.5, sog=12).sail(BERTH, 0.5, sog=12)
    boat.stay(BERTH, 2).sail(SEA_WEST, 2)
    assert run(boat).calls.height == 2
    far = DetectSettings(merge_distance_m=15_000)
    assert run(boat, settings=far).calls.height == 1


def test_a_stop_outside_the_port_between_visits_keeps_them_apart() -> None:
    # 1.5 km off the port (within merge_distance_m), stopped there for an hour.
    near = (-0.0135, 0.05)
    boat = Track(13).stay(BERTH, 2).sail(near, 0.5, sog=5).stay(near, 1).sail(BERTH, 0.5)
    boat.stay(BERTH, 2).sail(SEA_WEST, 2)
    assert run(boat).calls.height == 2
    moving = Track(14).stay(BERTH, 2).sail(near, 0.5, sog=5).sail((-0.0135, 0.02), 1, sog=2)
    moving.sail(BERTH, 0.5).stay(BERTH, 2).sail(SEA_WEST, 2)
    assert run(moving).calls.height == 1


# ---------------------------------------------------------------------------------------------
# Stops


def test_one_slow_fix_is_not_a_stop() -> None:
    # Slows below 0.2 kn for 5 seconds while passing through the port.
    boat = Track(15).fix(*SEA_WEST, 20).sail(IN_P, 1.2, sog=18)
    boat.fix(0.051, 0.05, 0.1, minutes=5 / 60).fix(0.052, 0.05, 15, minutes=10)
    boat.sail(SEA_EAST, 1.7, sog=19)
    found = run(boat)
    assert found.calls.is_empty() and found.transits.height == 1
    # Slow for 20 min, it stopped.
    slow = Track(16).fix(*SEA_WEST, 20).sail(IN_P, 1.2, sog=18)
    slow.sail((0.053, 0.05), 1 / 3, sog=0.1, every_min=5).sail(SEA_EAST, 1.7, sog=19)
    assert run(slow).calls["stop_observed"].to_list() == [True]


def test_min_stop_min_zero_makes_any_slow_fix_a_stop() -> None:
    boat = Track(17).fix(*SEA_WEST, 20).sail(IN_P, 1.2, sog=18)
    boat.fix(0.051, 0.05, 0.1, minutes=10).sail(SEA_EAST, 1.7, sog=19)
    assert run(boat, settings=DetectSettings(min_stop_min=0)).calls.height == 1


def test_holding_position_with_noisy_sog_is_a_stop() -> None:
    # Within 60 m for 38 min while reporting 0.7-3 kn, at the anchorage.
    ship = Track(18).fix(*OFF_ANCHOR, 8).sail(ANCHOR, 0.5, sog=6)
    for k, sog in enumerate((0.7, 3.0, 1.7, 1.2, 2.4, 0.9)):
        lon, lat = ANCHOR[0] + 0.0005 * ((k + 1) % 2), ANCHOR[1] + 0.0002 * ((k + 1) % 3)
        ship.fix(lon, lat, sog, minutes=7.6)
    ship.sail(OFF_ANCHOR, 0.5, sog=6)
    calls = run(ship).calls
    assert calls["stop_observed"].to_list() == [True]
    # Beyond stop_radius_m, the same fixes are no stop.
    assert run(ship, settings=DetectSettings(stop_radius_m=20)).calls.is_empty()


def test_a_stop_in_the_exit_buffer_does_not_count_for_the_port() -> None:
    # 10 min inside P, then an hour stopped 550 m outside its east edge, then away.
    ship = Track(19).fix(*SEA_WEST, 10).fix(0.09, 0.08, 5, minutes=5).fix(0.095, 0.08, 5)
    ship.stay((0.105, 0.08), 1).sail((0.105, 0.3), 1, sog=10)
    found = run(ship)
    assert found.calls.is_empty()
    assert found.transits.height == 1


# ---------------------------------------------------------------------------------------------
# Open calls


def test_open_call_of_a_vessel_unheard_for_long_is_unknown() -> None:
    silent = Track(20).fix(*SEA_WEST, 10).sail(BERTH, 2).stay(BERTH, 3)
    heard = Track(21).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 3)
    # Another vessel is heard for 30 h more: the data ends then.
    other = Track(22, silent.t).fix(*SEA_EAST, 10).sail((0.6, 1.0), 30, every_min=60)
    late = Track(21, silent.t + timedelta(hours=29)).stay(IN_P, 1)
    calls = run(silent, heard, other, late).calls.sort("mmsi")
    assert calls["status"].to_list() == ["unknown", "in_port"]
    assert calls["departure_utc"].null_count() == 2
    row = calls.row(0, named=True)
    assert row["last_seen_utc"] == silent.rows[-1]["timestamp_utc"]
    within = DetectSettings(max_unheard_h=40)
    assert run(silent, heard, other, late, settings=within).calls["status"].to_list() == [
        "in_port",
        "in_port",
    ]


@pytest.mark.parametrize("hours", [0.0, 23.0])
def test_open_call_heard_lately_is_in_port(hours: float) -> None:
    ship = Track(23).fix(*SEA_WEST, 10).sail(BERTH, 2).stay(BERTH, 3)
    other = Track(24, ship.t + timedelta(hours=hours)).fix(*SEA_EAST, 10)
    calls = run(ship, other).calls
    assert calls.filter(pl.col("mmsi") == 23)["status"].to_list() == ["in_port"]
