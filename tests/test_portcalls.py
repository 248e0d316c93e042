"""Port-call state machine: the transition table, then whole tracks through the detector."""

from __future__ import annotations

import itertools
import math
import random
from datetime import timedelta

import polars as pl
import pytest
import shapely
from hypothesis import example, given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from tracks_portcalls import (
    ANCHOR,
    BERTH,
    IN_P,
    IN_Q,
    SEA_EAST,
    SEA_WEST,
    T0,
    ZONES,
    Track,
    positions,
)

from monitor.analyse.geofences import Zone, zone_geometry, zones_for_points
from monitor.analyse.portcalls.detect import (
    TRANSITIONS,
    Event,
    State,
    call_id,
    classify,
    detect,
    detect_all,
    prepare_positions,
    transition_events,
)
from monitor.analyse.positions import sort_by_vessel_and_time
from monitor.config import DetectSettings
from monitor.core.geo import METRES_PER_DEG
from monitor.schema import RAW_CALLS_SCHEMA

S = DetectSettings()
AT_SEA, IN_PORT, STOPPED = State.AT_SEA, State.IN_PORT, State.STOPPED
DARK_IN, DARK_STOP = State.DARK_IN_PORT, State.DARK_STOPPED
E = Event

# ---------------------------------------------------------------------------------------------
# The table, transition by transition

EXPECTED = {
    (None, AT_SEA): [],
    (None, IN_PORT): [E.OPEN],
    (None, STOPPED): [E.OPEN, E.STOP_BEGIN],
    (AT_SEA, AT_SEA): [],
    (AT_SEA, IN_PORT): [E.ENTER],
    (AT_SEA, STOPPED): [E.ENTER, E.STOP_BEGIN],
    (IN_PORT, AT_SEA): [E.EXIT],
    (IN_PORT, IN_PORT): [],
    (IN_PORT, STOPPED): [E.STOP_BEGIN],
    (STOPPED, AT_SEA): [E.STOP_END, E.EXIT],
    (STOPPED, IN_PORT): [E.STOP_END],
    (STOPPED, STOPPED): [],
    (IN_PORT, DARK_IN): [E.GAP_BEGIN],
    (STOPPED, DARK_STOP): [E.GAP_BEGIN],
    (DARK_IN, AT_SEA): [E.CLOSE],
    (DARK_IN, IN_PORT): [E.GAP_END],
    (DARK_IN, STOPPED): [E.GAP_END, E.STOP_BEGIN],
    (DARK_STOP, AT_SEA): [E.STOP_END, E.CLOSE],
    (DARK_STOP, IN_PORT): [E.GAP_END, E.STOP_END],
    (DARK_STOP, STOPPED): [E.GAP_END],
}


@pytest.mark.parametrize(("key", "events"), list(EXPECTED.items()), ids=str)
def test_transition_table_entry(key: tuple[State | None, State], events: list[Event]) -> None:
    assert list(TRANSITIONS[key]) == events


def test_transition_table_has_exactly_the_expected_keys() -> None:
    assert set(TRANSITIONS) == set(EXPECTED)


@pytest.mark.parametrize(
    ("previous", "new", "gap", "same_port", "events"),
    [
        (AT_SEA, IN_PORT, False, True, [E.ENTER]),
        (IN_PORT, STOPPED, False, True, [E.STOP_BEGIN]),
        (STOPPED, AT_SEA, False, True, [E.STOP_END, E.EXIT]),
        # Straight from one port into another: leave the first, enter the second.
        (STOPPED, IN_PORT, False, False, [E.STOP_END, E.EXIT, E.ENTER]),
        (IN_PORT, STOPPED, False, False, [E.EXIT, E.ENTER, E.STOP_BEGIN]),
        # Silence inside, seen again inside the same port: the visit goes on.
        (STOPPED, STOPPED, True, True, [E.GAP_BEGIN, E.GAP_END]),
        (IN_PORT, STOPPED, True, True, [E.GAP_BEGIN, E.GAP_END, E.STOP_BEGIN]),
        # Silence inside, seen again at sea: the departure was not observed.
        (IN_PORT, AT_SEA, True, True, [E.GAP_BEGIN, E.CLOSE]),
        (STOPPED, AT_SEA, True, True, [E.GAP_BEGIN, E.STOP_END, E.CLOSE]),
        # Silence inside one port, seen again inside another.
        (IN_PORT, IN_PORT, True, False, [E.GAP_BEGIN, E.CLOSE, E.OPEN]),
        # Silence at sea, seen again inside: the arrival was not observed.
        (AT_SEA, IN_PORT, True, True, [E.OPEN]),
        (AT_SEA, AT_SEA, True, True, []),
        (None, STOPPED, False, True, [E.OPEN, E.STOP_BEGIN]),
    ],
)
def test_transition_events_compose_steps(
    previous: State | None, new: State, gap: bool, same_port: bool, events: list[Event]
) -> None:
    assert transition_events(previous, new, gap=gap, same_port=same_port) == events


@pytest.mark.parametrize(
    ("previous", "new", "events"),
    [
        # A silence in port that is not one stay closes the visit and opens the next one.
        (IN_PORT, IN_PORT, [E.GAP_BEGIN, E.CLOSE, E.OPEN]),
        (IN_PORT, STOPPED, [E.GAP_BEGIN, E.CLOSE, E.OPEN, E.STOP_BEGIN]),
        (STOPPED, STOPPED, [E.GAP_BEGIN, E.STOP_END, E.CLOSE, E.OPEN, E.STOP_BEGIN]),
        (STOPPED, IN_PORT, [E.GAP_BEGIN, E.STOP_END, E.CLOSE, E.OPEN]),
        # Seen at sea after it, the visit closes as after any silence.
        (IN_PORT, AT_SEA, [E.GAP_BEGIN, E.CLOSE]),
        (STOPPED, AT_SEA, [E.GAP_BEGIN, E.STOP_END, E.CLOSE]),
    ],
)
def test_silence_not_bridged_closes_and_opens(
    previous: State, new: State, events: list[Event]
) -> None:
    assert transition_events(previous, new, gap=True, bridged=False) == events
    # Without a silence, bridging means nothing.
    assert transition_events(previous, new, bridged=False) == transition_events(previous, new)


def test_every_step_between_observable_states_is_defined() -> None:
    states: list[State | None] = [None, AT_SEA, IN_PORT, STOPPED]
    for previous, new in itertools.product(states, [AT_SEA, IN_PORT, STOPPED]):
        for gap, same in itertools.product([False, True], repeat=2):
            events = transition_events(previous, new, gap=gap, same_port=same)
            assert events.count(E.ENTER) + events.count(E.OPEN) <= 1


# ---------------------------------------------------------------------------------------------
# Tracks


def run(*tracks: Track, settings: DetectSettings = S) -> pl.DataFrame:
    return detect(positions(*tracks), ZONES, settings)


def test_enter_stop_leave_is_one_call_of_confidence_4() -> None:
    track = Track(1).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 5).sail(SEA_EAST, 2)
    calls = run(track)
    assert calls.schema == pl.Schema(RAW_CALLS_SCHEMA)
    assert calls.height == 1
    call = calls.row(0, named=True)
    assert call["port_id"] == "P"
    assert call["port_name"] == "Port P"
    assert call["status"] == "departed"
    assert call["arrival_observed"] and call["departure_observed"] and call["stopped"]
    assert call["confidence"] == 4
    assert 5.0 <= call["duration_h"] <= 7.0
    assert call["arrival_utc"] < call["departure_utc"]
    assert call["track_id"] == "1-20240301T000000Z"
    arrival_us = int(call["arrival_utc"].timestamp() * 1_000_000)
    assert call["call_id"] == call_id(1, "1-20240301T000000Z", "P", arrival_us)


def test_passing_through_without_stopping_is_a_transit() -> None:
    track = Track(2).fix(*SEA_WEST, 12).sail(SEA_EAST, 2, sog=12)
    found = detect_all(positions(track), ZONES, S)
    assert found.calls.is_empty()
    assert found.transits.height == 1
    assert found.transits["port_id"].to_list() == ["P"]


#: 2.2 km east of IN_P: drifting there in 3 h moves 120 m every 10 min, more than stop_radius_m.
DRIFT_EAST = (0.07, 0.05)


def test_long_slow_stay_without_stop_is_a_call_of_low_confidence() -> None:
    # 0.3 kn is between the stop and move speeds: never stopped, but 3 h is over min_stay_h.
    track = Track(3).fix(*SEA_WEST, 10).sail(IN_P, 2).sail(DRIFT_EAST, 3, sog=0.3)
    track.sail(SEA_EAST, 2)
    calls = run(track)
    assert calls.height == 1
    assert calls["stopped"].to_list() == [False]
    assert calls["confidence"].to_list() == [2]


def test_short_slow_stay_without_stop_is_a_transit() -> None:
    track = Track(3).fix(*SEA_WEST, 10).sail(IN_P, 1).sail((0.0545, 0.05), 0.5, sog=0.3)
    track.sail(SEA_WEST, 1)
    found = detect_all(positions(track), ZONES, S)
    assert found.calls.is_empty()
    assert found.transits.height == 1


def test_anchorage_then_berth_is_one_call_with_time_split() -> None:
    track = (
        Track(4)
        .fix(*SEA_EAST, 10)
        .sail(ANCHOR, 2)
        .stay(ANCHOR, 10)
        .sail(BERTH, 1, sog=5)
        .stay(BERTH, 20)
        .sail(SEA_WEST, 2)
    )
    calls = run(track)
    assert calls.height == 1
    call = calls.row(0, named=True)
    assert call["port_id"] == "P"
    assert 9.5 <= call["anchorage_h"] <= 10.5
    assert 19.5 <= call["berth_h"] <= 20.5


def test_gap_inside_port_does_not_end_the_call() -> None:
    track = (
        Track(5)
        .fix(*SEA_WEST, 10)
        .sail(IN_P, 2)
        .stay(IN_P, 2)
        .silence(30)
        .stay(IN_P, 2)
        .sail(SEA_EAST, 2)
    )
    calls = run(track)
    assert calls.height == 1
    call = calls.row(0, named=True)
    assert call["max_gap_h"] == pytest.approx(30 + 10 / 60)
    assert call["confidence"] == 4
    assert call["departure_observed"]


def test_silence_bridged_in_port_is_a_stop_nobody_saw() -> None:
    # Seen moving inside the port polygon on both sides: it stayed, berthing unheard.
    track = (
        Track(5)
        .fix(*SEA_WEST, 10)
        .sail(IN_P, 2)
        .sail(DRIFT_EAST, 0.5, sog=3)
        .silence(10)
        .sail(IN_P, 0.5, sog=3)
        .sail(SEA_EAST, 2)
    )
    calls = run(track)
    assert calls.height == 1
    call = calls.row(0, named=True)
    assert call["stopped"] and not call["stop_observed"]
    # Arrival and departure seen, the stop not: confidence says what was seen.
    assert call["confidence"] == 2
    assert call["duration_h"] > 10


def test_first_seen_inside_has_unobserved_arrival() -> None:
    track = Track(6).stay(IN_P, 4).sail(SEA_EAST, 2)
    call = run(track).row(0, named=True)
    assert not call["arrival_observed"]
    assert call["departure_observed"]
    assert call["arrival_utc"] == track.rows[0]["timestamp_utc"]
    assert call["confidence"] == 3


def test_last_seen_inside_then_far_after_gap_has_unobserved_departure() -> None:
    track = Track(7).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 4)
    last_inside = track.rows[-1]["timestamp_utc"]
    track.silence(12).stay(IN_Q, 3).sail((1.5, 0.5), 3)
    calls = run(track)
    assert calls["port_id"].to_list() == ["P", "Q"]
    first = calls.row(0, named=True)
    assert first["arrival_observed"] and not first["departure_observed"]
    assert first["departure_utc"] == last_inside
    assert first["status"] == "departed"
    assert first["confidence"] == 3
    second = calls.row(1, named=True)
    assert not second["arrival_observed"]


def test_last_position_inside_is_in_port_without_departure() -> None:
    track = Track(8).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 3)
    call = run(track).row(0, named=True)
    assert call["status"] == "in_port"
    assert call["departure_utc"] is None
    assert not call["departure_observed"]
    assert call["confidence"] == 3


def test_short_visit_under_way_is_pending_not_a_call() -> None:
    track = Track(8).fix(*SEA_WEST, 10).sail(IN_P, 2).sail(DRIFT_EAST, 0.5, sog=4)
    found = detect_all(positions(track), ZONES, S)
    assert found.calls.is_empty() and found.transits.is_empty()
    assert found.pending.height == 1


def test_single_outlier_neither_ends_nor_starts_a_call() -> None:
    stay = Track(9).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 3)
    stay.fix(5.0, 5.0, 0.0)  # hundreds of km away for one fix
    stay.here = IN_P
    stay.stay(IN_P, 3).sail(SEA_EAST, 2)
    found = detect_all(positions(stay), ZONES, S)
    assert found.calls.height == 1
    assert found.n_dropped == 1
    assert found.jumps["n_positions"].to_list() == [1]

    at_sea = Track(10).fix(*SEA_WEST, 10).sail((-0.8, 0.05), 3)
    at_sea.fix(*IN_P, 0.0)  # a single fix inside the port, far from the track
    at_sea.here = (-0.8, 0.05)
    at_sea.sail((-1.2, 0.05), 3)
    found = detect_all(positions(at_sea), ZONES, S)
    assert found.calls.is_empty() and found.transits.is_empty()
    assert found.n_dropped == 1


def test_position_within_exit_buffer_does_not_leave() -> None:
    # 0.105 E is about 550 m east of the port's edge: inside the 1 km exit buffer.
    track = (
        Track(11)
        .fix(*SEA_WEST, 10)
        .sail(IN_P, 2)
        .stay(IN_P, 3)
        .stay((0.105, 0.09), 1, sog=0.0)
        .stay(IN_P, 3)
        .sail(SEA_WEST, 2)
    )
    assert run(track).height == 1


def test_position_beyond_exit_buffer_leaves() -> None:
    # 0.115 E is about 1.7 km east of the edge (and outside the anchorage, which starts at 0.12).
    track = (
        Track(12)
        .fix(*SEA_WEST, 10)
        .sail(IN_P, 2)
        .stay(IN_P, 3)
        .sail((0.115, 0.09), 0.5, sog=5)
        .sail((0.115, 0.06), 0.5, sog=2)
        .sail(IN_P, 0.5)
        .stay(IN_P, 3)
        .sail(SEA_WEST, 2)
    )
    # Back within merge_gap_h, having stayed near the port under way, the two visits are one
    # call; without merging they are two.
    assert run(track).height == 1
    calls = run(track, settings=DetectSettings(merge_gap_h=0))
    assert calls.height == 2
    assert calls["departure_observed"].to_list() == [True, True]
    assert calls["arrival_observed"].to_list() == [True, True]


def test_stop_hysteresis_ignores_speeds_between_thresholds() -> None:
    track = Track(13).fix(*SEA_WEST, 10).sail(IN_P, 2)
    for sog in [0.0, 0.3, 0.1, 0.4, 0.0, 0.3]:
        track.fix(*IN_P, sog, 30)
    track.sail(SEA_EAST, 2)
    events = detect_all(positions(track), ZONES, S).events["event"].to_list()
    assert events.count(E.STOP_BEGIN) == 1
    assert events.count(E.STOP_END) == 1


def test_area_zones_make_no_calls() -> None:
    track = Track(14).fix(1.8, 0.2, 10).sail((2.2, 0.2), 1).stay((2.2, 0.2), 10)
    assert run(track).is_empty()


def test_missing_sog_uses_implied_speed() -> None:
    track = Track(15).fix(*SEA_WEST, None).sail(IN_P, 2, sog=None)
    track.stay(IN_P, 3, sog=None).sail(SEA_EAST, 2, sog=None)
    calls = run(track, settings=DetectSettings(min_stay_h=24))
    assert calls["stopped"].to_list() == [True]


def test_two_ports_in_a_row_are_two_calls() -> None:
    track = Track(16).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 3).sail(IN_Q, 8).stay(IN_Q, 3)
    calls = run(track)
    assert calls["port_id"].to_list() == ["P", "Q"]
    assert calls["status"].to_list() == ["departed", "in_port"]


def test_result_does_not_depend_on_row_order_or_other_vessels() -> None:
    a = Track(17).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 3).sail(SEA_EAST, 2)
    b = Track(18).stay(IN_Q, 5).sail((1.5, 0.5), 2)
    together = run(a, b)
    shuffled = detect(positions(a, b).sample(fraction=1.0, shuffle=True, seed=3), ZONES, S)
    assert together.equals(shuffled)
    assert together.filter(pl.col("mmsi") == 17).equals(run(a))


def test_empty_input_gives_empty_calls_with_schema() -> None:
    calls = detect(positions(), ZONES, S)
    assert calls.is_empty()
    assert calls.schema == pl.Schema(RAW_CALLS_SCHEMA)


# ---------------------------------------------------------------------------------------------
# The vectorised states against a plain per-position loop


#: The test zones plus port R, 1.7 km north of P: their 1 km exit buffers overlap.
CLOSE_ZONES = [*ZONES, Zone("R", "Port R", "port", "R", None, box(0.0, 0.115, 0.1, 0.2))]


def _within(a: tuple[float, float], b: tuple[float, float], radius_m: float) -> bool:
    """Equirectangular distance at the latitude of ``a`` between two (lon, lat) points,
    compared with ``radius_m``."""
    dlon = (b[0] - a[0] + 180.0) % 360.0 - 180.0
    dx = dlon * math.cos(math.radians(a[1])) * METRES_PER_DEG
    dy = (b[1] - a[1]) * METRES_PER_DEG
    return dx * dx + dy * dy <= radius_m * radius_m


def reference_stops(prepared: pl.DataFrame, settings: DetectSettings) -> list[bool]:
    """Return per row whether the vessel is stopped, one position at a time."""
    # Tracks are separate vessels, as in the detector (a second transmitter's fix is no
    # continuation of the first one's stop).
    key = "track" if "track" in prepared.columns else "mmsi"
    rows = list(prepared.select(key, "timestamp_utc", "lon", "lat", "speed_kn").iter_rows())
    n = len(rows)
    min_stop = timedelta(minutes=settings.min_stop_min)
    # Segments: a track's rows, cut at silences longer than max_gap_h.
    segment: list[int] = []
    for i, (mmsi, t, *_) in enumerate(rows):
        cut = (
            i == 0
            or mmsi != rows[i - 1][0]
            or t - rows[i - 1][1] > timedelta(hours=settings.max_gap_h)
        )
        segment.append((segment[-1] + 1) if cut and segment else (segment[-1] if segment else 0))
    by_speed = [False] * n
    stopped = False
    for i, (mmsi, _, _, _, speed) in enumerate(rows):
        if i == 0 or mmsi != rows[i - 1][0]:
            stopped = False
        if speed is not None and speed < settings.stop_speed_kn:
            stopped = True
        elif speed is not None and (speed > settings.move_speed_kn or math.isnan(speed)):
            stopped = False
        by_speed[i] = stopped
    out = [False] * n
    i = 0
    while i < n:  # runs of stopped rows within a segment, kept when they last long enough
        if not by_speed[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and by_speed[j + 1] and segment[j + 1] == segment[i]:
            j += 1
        if rows[j][1] - rows[i][1] >= min_stop:
            out[i : j + 1] = [True] * (j - i + 1)
        i = j + 1
    if settings.min_stop_min > 0:
        for i in range(n):  # windows that stay within the radius of their first row
            j = i
            while j < n and segment[j] == segment[i] and rows[j][1] - rows[i][1] < min_stop:
                j += 1
            if j == n or segment[j] != segment[i]:
                continue
            here = (rows[i][2], rows[i][3])
            if all(
                _within(here, (rows[k][2], rows[k][3]), settings.stop_radius_m)
                for k in range(i, j + 1)
            ):
                out[i : j + 1] = [True] * (j - i + 1)
    return out


def reference_states(prepared: pl.DataFrame, settings: DetectSettings) -> list[tuple[int, int]]:
    """Return (port index, state code) per row, one position at a time, as GFW's loop does.

    Stopped counts only inside a zone, not in the exit buffer.
    """
    zones = [z for z in CLOSE_ZONES if z.kind != "area"]
    ports = sorted({z.port_id for z in zones})
    grown = {
        port: shapely.union_all(
            [zone_geometry(z, settings.exit_buffer_m) for z in zones if z.port_id == port]
        )
        for port in ports
    }
    inside = zones_for_points(zones, prepared["lon"].to_numpy(), prepared["lat"].to_numpy())
    stops = reference_stops(prepared, settings)
    out: list[tuple[int, int]] = []
    previous_track = None
    port = -1
    for i, (track, lon, lat) in enumerate(prepared.select("track", "lon", "lat").iter_rows()):
        first = track != previous_track
        previous_track = track
        if inside[i] >= 0:
            port = ports.index(zones[inside[i]].port_id)
        elif first or port < 0 or not shapely.intersects_xy(grown[ports[port]], lon, lat):
            port = -1
        out.append((port, 0 if port < 0 else (2 if stops[i] and inside[i] >= 0 else 1)))
    return out


#: Longitudes and latitudes of fixes: anywhere around the zones, or a few tens of metres apart
#: (0.0004 deg is 44 m, 0.0012 deg 133 m) so that stops found from positions are exercised.
coordinate = st.one_of(st.floats(-0.05, 0.2), st.sampled_from([0.05, 0.0504, 0.0512]))
fixes = st.tuples(
    st.sampled_from([1, 2, 3]),
    st.integers(0, 3000),  # minutes
    coordinate,
    coordinate,
    st.one_of(st.none(), st.sampled_from([0.0, 0.1, 0.3, 0.45, 0.6, 5.0])),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(fixes, min_size=1, max_size=60))
# A stopped fix in R, then one 14 km away in P ten minutes later: two transmitters, two tracks,
# and neither is a stop.
@example([(2, 10, 0.0, 0.0, None), (2, 0, 0.0, 0.125, 0.0)])
def test_vectorised_states_equal_a_plain_loop(
    rows: list[tuple[int, int, float, float, float | None]],
) -> None:
    frame = pl.DataFrame(
        [
            {"mmsi": m, "timestamp_utc": T0 + timedelta(minutes=t), "lon": x, "lat": y, "sog_kn": v}
            for m, t, x, y, v in rows
        ],
        schema={
            "mmsi": pl.UInt32(),
            "timestamp_utc": pl.Datetime("us", "UTC"),
            "lon": pl.Float64(),
            "lat": pl.Float64(),
            "sog_kn": pl.Float64(),
        },
    )
    prepared, _ = prepare_positions(frame)
    classified = classify(prepared, CLOSE_ZONES, S)
    got = list(zip(classified["port"].to_list(), classified["state"].to_list(), strict=True))
    assert got == reference_states(prepared, S)
    # Each stay in one port is one visit; at sea there is none.
    visits = classified.filter(pl.col("visit").is_not_null())
    assert visits.group_by("visit").agg(pl.col("port").n_unique())["port"].max() in (None, 1)


def test_fixes_within_one_second_are_ordered_whatever_the_stored_order() -> None:
    base = positions(Track(20).fix(*IN_P, 0.0, 1 / 60).fix(*IN_P, 0.0, 1 / 60).fix(*IN_P, 0.0))
    same_second = base.with_columns(
        timestamp_utc=pl.col("timestamp_utc").dt.truncate("1m"),
        lat=pl.Series([0.05, 0.0501, 0.0502]),
    )
    sub_second = same_second.with_columns(
        timestamp_utc=pl.col("timestamp_utc") + pl.Series([300_000, 0, 0]).cast(pl.Duration("us"))
    )
    for frame in (same_second, sub_second):
        forward, _ = prepare_positions(frame)
        backward, _ = prepare_positions(frame.reverse())
        assert forward.equals(backward)
        assert forward["timestamp_utc"].is_sorted()
    ordered, _ = prepare_positions(sub_second.reverse())
    assert ordered["lat"].to_list() == [0.0501, 0.0502, 0.05]


def test_leaving_into_another_ports_buffer_leaves_the_first_port() -> None:
    # 0.1 N is P's edge; 0.11 N is 1.1 km outside P but 560 m inside R's exit buffer.
    track = (
        Track(21)
        .fix(*SEA_WEST, 10)
        .sail(IN_P, 2)
        .stay(IN_P, 3)
        .stay((0.05, 0.11), 1, sog=0.0)
        .stay(IN_P, 3)
        .sail(SEA_WEST, 2)
    )
    # Merging would make the two visits one call again: this is about the buffer alone.
    no_merge = DetectSettings(merge_gap_h=0)
    found = detect_all(positions(track), CLOSE_ZONES, no_merge)
    assert found.calls["port_id"].to_list() == ["P", "P"]
    # Without R, the same fixes are simply beyond P's buffer too: the same two calls.
    assert detect(positions(track), ZONES, no_merge)["port_id"].to_list() == ["P", "P"]
    # Fixes inside both buffers keep the vessel in P.
    held = (
        Track(22)
        .fix(*SEA_WEST, 10)
        .sail(IN_P, 2)
        .stay(IN_P, 3)
        .stay((0.05, 0.105), 1, sog=0.0)
        .stay(IN_P, 3)
        .sail(SEA_WEST, 2)
    )
    assert detect(positions(held), CLOSE_ZONES, S)["port_id"].to_list() == ["P"]


def test_sort_handles_numbers_beyond_the_fast_key() -> None:
    # MMSIs are 9 digits, but a u32 column can hold more; the order must stay right.
    big = positions(Track(4_000_000_000).stay(IN_P, 1), Track(5).stay(IN_P, 1))
    prepared, _ = prepare_positions(big.reverse())
    assert prepared["mmsi"].to_list() == [5] * 6 + [4_000_000_000] * 6
    assert prepared["timestamp_utc"].head(6).is_sorted()


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([5, 273_000_001, 999_999_999, 1]),
            st.integers(0, 10**12),  # microseconds: many ties within a second
            st.sampled_from([0.0, 0.5, -0.5]),
            st.sampled_from([1.0, 2.0]),
            st.one_of(st.none(), st.floats(0, 20)),
        ),
        min_size=0,
        max_size=40,
    ),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_packed_key_sort_equals_a_four_column_sort(
    rows: list[tuple[int, int, float, float, float | None]], rng: random.Random, whole: bool
) -> None:
    rows = [(m, t // 10**5 * 10**5 if rng.random() < 0.5 else t, y, x, v) for m, t, y, x, v in rows]
    if whole:
        # Whole seconds everywhere: the sorted times are rebuilt from the sort keys.
        rows = [(m, t // 10**6 * 10**6, y, x, v) for m, t, y, x, v in rows]
    frame = pl.DataFrame(
        rows,
        schema={
            "mmsi": pl.UInt32(),
            "timestamp_utc": pl.Int64(),
            "lat": pl.Float64(),
            "lon": pl.Float64(),
            "sog_kn": pl.Float64(),
        },
        orient="row",
    ).with_columns(pl.col("timestamp_utc").cast(pl.Datetime("us", "UTC")))
    expected = frame.sort("mmsi", "timestamp_utc", "lat", "lon")
    got = sort_by_vessel_and_time(frame.sample(fraction=1.0, shuffle=True, seed=rng.randint(0, 99)))
    assert got.select("mmsi", "timestamp_utc", "lat", "lon").equals(
        expected.select("mmsi", "timestamp_utc", "lat", "lon")
    )
    assert got.schema == frame.schema


def test_split_among_threads_gives_the_same_result() -> None:
    tracks = [
        Track(30 + i).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 1 + i).sail(SEA_EAST, 2)
        for i in range(5)
    ]
    tracks.append(Track(41).fix(*SEA_WEST, 12).sail(SEA_EAST, 2, sog=12))
    tracks.append(Track(42).stay(IN_Q, 0.5, sog=3))
    frame = positions(*tracks)
    one = detect_all(frame, ZONES, S, workers=1)
    for workers in (2, 3):
        split = detect_all(frame, ZONES, S, workers=workers)
        assert split.calls.equals(one.calls)
        assert split.transits.equals(one.transits)
        assert split.pending.equals(one.pending)
        assert split.events.equals(one.events)
        assert (split.n_positions, split.n_dropped) == (one.n_positions, one.n_dropped)
        assert split.tracks.equals(one.tracks)


def test_a_spoofed_burst_into_a_port_is_no_call() -> None:
    ship = Track(50).fix(*SEA_WEST, 10, 2).sail((-0.6, 0.05), 3, every_min=2)
    for row in ship.rows[30:40]:  # 20 minutes of fixes stopped inside port Q
        row["lon"], row["lat"], row["sog_kn"] = IN_Q[0], IN_Q[1], 0.0
    found = detect_all(positions(ship), ZONES, S)
    assert found.calls.is_empty() and found.transits.is_empty()
    assert found.n_dropped == 10
    assert found.jumps["n_positions"].to_list() == [10]


def test_two_ships_on_one_mmsi_each_make_their_own_calls() -> None:
    # Without tracks the vessel would jump between P and Q every few minutes, each jump a call.
    at_p = Track(51).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 8).sail(SEA_WEST, 2)
    at_q = Track(51, T0 + timedelta(seconds=30)).fix(*SEA_EAST, 10).sail(IN_Q, 3).stay(IN_Q, 9)
    found = detect_all(positions(at_p, at_q), ZONES, S)
    calls = found.calls.sort("port_id")
    assert calls["port_id"].to_list() == ["P", "Q"]
    assert calls["track_id"].to_list() == ["51-20240301T000000Z", "51-20240301T000030Z"]
    assert calls["status"].to_list() == ["departed", "in_port"]
    assert calls["arrival_observed"].to_list() == [True, True]
    assert found.tracks.height == 2
    assert found.multi_track["track_id"].n_unique() == 2
