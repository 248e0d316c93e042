"""Segmentation into tracks: one per transmitter, displaced runs dropped, the feed's artefacts
(clock steps, jitter, stray fixes) kept out of the way."""

from __future__ import annotations

import random
from datetime import timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracks_portcalls import IN_P, IN_Q, SEA_EAST, SEA_WEST, T0, Track, positions

from monitor.analyse.tracks import Segmentation, concurrent_tracks, segment
from monitor.config import TrackSettings
from monitor.schema import CONCURRENT_SCHEMA, JUMPS_SCHEMA, TRACKS_SCHEMA

S = TrackSettings()
SHIP = 273_111_222
#: Moored in port P for a day, one fix every 3 minutes.
MOORED = Track(SHIP).stay(IN_P, 24, every_min=3)


def run(*tracks: Track, settings: TrackSettings = S) -> Segmentation:
    return segment(positions(*tracks), settings)


def with_fix(track: Track, at_minutes: float, lon: float, lat: float, sog: float = 0.0) -> Track:
    """Return a copy of ``track`` with one more fix ``at_minutes`` after T0."""
    copy = Track(track.mmsi)
    copy.rows = [*track.rows]
    copy.rows.append(
        {
            "mmsi": track.mmsi,
            "timestamp_utc": T0 + timedelta(minutes=at_minutes),
            "lon": lon,
            "lat": lat,
            "sog_kn": sog,
        }
    )
    return copy


def test_one_ship_is_one_track_named_by_its_mmsi_and_first_fix() -> None:
    found = run(MOORED)
    assert found.tracks.schema == pl.Schema(TRACKS_SCHEMA)
    assert found.tracks["track_id"].to_list() == [f"{SHIP}-20240301T000000Z"]
    assert found.tracks["n_positions"].to_list() == [480]
    assert found.jumps.is_empty() and found.jumps.schema == pl.Schema(JUMPS_SCHEMA)
    assert found.positions["track"].unique().to_list() == [0]


def test_two_ships_on_one_mmsi_are_two_tracks_and_concurrent() -> None:
    here = Track(SHIP).stay(IN_P, 12, every_min=3)
    there = Track(SHIP, T0 + timedelta(seconds=40)).stay(IN_Q, 12, every_min=5)
    found = run(here, there)
    assert found.tracks.height == 2
    assert found.tracks["n_positions"].sort().to_list() == [144, 240]
    assert found.n_dropped == 0
    pairs = concurrent_tracks(found.with_track_ids(), S, 10.0)
    assert pairs.schema == pl.Schema(CONCURRENT_SCHEMA)
    assert pairs.height == 1
    pair = pairs.row(0, named=True)
    assert pair["track_id"] == f"{SHIP}-20240301T000000Z"
    assert pair["other_track_id"] == f"{SHIP}-20240301T000040Z"
    assert pair["distance_km"] == pytest.approx(111.2, abs=1.0)
    # Nowhere near 10 km apart beyond what one ship could sail: no pair.
    assert concurrent_tracks(found.with_track_ids(), S, 150.0).is_empty()


def test_positions_come_back_grouped_by_track_in_time_order_with_all_columns() -> None:
    here = Track(SHIP).stay(IN_P, 6, every_min=3)
    there = Track(SHIP, T0 + timedelta(seconds=40)).stay(IN_Q, 6, every_min=5)
    other = Track(SHIP + 1).stay(IN_Q, 6, every_min=4)
    frame = positions(here, there, other).with_columns(
        note=pl.format("{}/{}", pl.col("lat").round(3), pl.col("timestamp_utc").dt.epoch("s"))
    )
    # A displaced fix, dropped: the rows kept still line up with their other columns.
    frame = pl.concat([frame, frame.head(1).with_columns(lat=pl.lit(0.0), note=pl.lit("bad"))])
    found = segment(frame.sample(fraction=1.0, shuffle=True, seed=3), S)
    kept = found.positions
    assert kept.height == frame.height - 1
    assert kept.columns == [*frame.columns, "track"]
    assert kept.equals(kept.sort("mmsi", "track", "timestamp_utc"))
    expected = pl.format("{}/{}", pl.col("lat").round(3), pl.col("timestamp_utc").dt.epoch("s"))
    assert (kept["note"] == kept.select(expected).to_series()).all()
    # Each track is one place: its rows were not mixed up with the other track's.
    assert kept.group_by("track").agg(pl.col("lat").n_unique())["lat"].max() == 1


def test_a_displaced_burst_that_comes_back_is_dropped_and_reported() -> None:
    ship = Track(SHIP).stay(IN_P, 6, every_min=3)
    for _ in range(20):  # spoofed: 20 fixes about 111 km east
        ship.fix(IN_P[0] + 1.0, IN_P[1], 0.0, 3)
    ship.stay(IN_P, 6, every_min=3)
    found = run(ship)
    assert found.tracks.height == 1
    assert found.n_dropped == 20
    jump = found.jumps.row(0, named=True)
    assert jump["n_positions"] == 20
    assert jump["start_utc"] == T0 + timedelta(hours=6)
    assert jump["end_utc"] == T0 + timedelta(hours=6, minutes=57)
    assert jump["distance_km"] == pytest.approx(111.2, abs=0.5)
    assert (jump["from_lon"], jump["from_lat"]) == IN_P
    assert found.positions.height == 240


def test_a_displaced_burst_first_heard_after_a_pass_gap_does_not_split_the_ship() -> None:
    # Heard at satellite passes only: 4 fixes a minute apart every 90 minutes, sailing east at
    # 12 kn. The first 6 fixes of one pass are thrown 78 km north (a GPS fault keeps the ship's
    # course and speed): after 90 minutes unheard, a ship could have got there.
    ship = Track(SHIP)
    lon = 0.0
    for n in range(8):
        for k in range(10 if n == 4 else 4):
            lat = 0.7 if n == 4 and k < 6 else 0.0
            ship.fix(lon, lat, 12.0, 1)
            lon += 0.2 / 60
        ship.silence(1.5)
        lon += 0.2 * 1.5
    found = run(ship)
    assert found.tracks.height == 1
    assert found.n_dropped == 6
    assert found.jumps.row(0, named=True)["n_positions"] == 6
    assert found.positions.height == 7 * 4 + 4


def test_a_bad_fix_near_where_a_sparsely_heard_ship_was_does_not_split_it() -> None:
    # Heard every two hours, sailing west at 13 kn. Right after one pass's first two fixes, a
    # bad fix lands near where the ship was at the pass before: it fits that older fix better
    # than the ship's new ones fit it, but not the ship's reported speed.
    ship = Track(SHIP)
    lon = 1.0
    for n in range(6):
        for _ in range(3):
            ship.fix(lon, 0.0, 13.0, 1)
            lon -= 13 / 60 / 60
        if n == 3:
            ship.fix(lon + 0.45, 0.02, 13.0, 1)
        ship.silence(2.0)
        lon -= 13 / 60 * 2.0
    found = run(ship)
    assert found.tracks.height == 1
    assert found.jumps["n_positions"].to_list() == [1]


def test_a_bad_fix_first_after_a_long_silence_does_not_split_a_ship_come_to_anchor() -> None:
    # Under way at 12 kn, silent 7 h, then a bad fix 150 km off first, and the ship at anchor
    # 100 km on: the bad fix fits the speed before the silence, the ship its SOG now.
    ship = Track(SHIP).sail((0.5, 0.0), 2.0, sog=12.0, every_min=1).silence(7.0)
    ship.fix(0.5 + 1.35, 0.0, 0.3, 3)
    ship.stay((0.5 + 0.9, 0.0), 2.0, sog=0.2, every_min=3)
    found = run(ship)
    assert found.tracks.height == 1
    assert found.jumps["n_positions"].to_list() == [1]


def test_a_stray_fix_does_not_make_a_young_sparsely_heard_track_stale() -> None:
    # Lying still, heard at passes 90 minutes apart: five fixes, then 3 h unheard but for a
    # bad fix 250 km away; the ship heard again must go on in its track.
    ship = Track(SHIP)
    for _ in range(5):
        ship.fix(*SEA_WEST, 0.1, 90)
    ship.silence(0.2 - 1.5 + 1.7).fix(SEA_WEST[0] + 2.25, SEA_WEST[1], 0.1, 80)
    for _ in range(5):
        ship.fix(*SEA_WEST, 0.1, 90)
    found = run(ship)
    assert found.tracks.height == 1
    assert found.jumps["n_positions"].to_list() == [1]


def test_a_bad_fix_after_a_ship_came_back_from_a_long_silence_does_not_split_it() -> None:
    # Under way at 13.7 kn, silent 7.7 h, back at anchor 110 km on; minutes later a bad fix
    # nearer to where it went silent: the ship's new fixes are no excursion to cut off.
    ship = Track(SHIP).sail((0.0, 0.0), 2.0, sog=13.7, every_min=1).silence(7.7)
    ship.stay((1.0, 0.0), 0.2, sog=0.2, every_min=3)
    ship.fix(0.6, 0.1, 0.2, 3)
    ship.stay((1.0, 0.0), 2.0, sog=0.2, every_min=3)
    found = run(ship)
    assert found.tracks.height == 1
    assert found.jumps["n_positions"].to_list() == [1]


def test_lone_bad_fixes_are_dropped_also_first_and_last() -> None:
    ship = with_fix(MOORED, -1, 5.0, 5.0)  # before the first real fix
    ship = with_fix(ship, 600.5, 3.0, -2.0)  # in the middle
    ship = with_fix(ship, 24 * 60 + 1, -4.0, 1.0)  # after the last
    found = run(ship)
    assert found.tracks["n_positions"].to_list() == [480]
    assert found.jumps["n_positions"].to_list() == [1, 1, 1]
    assert found.tracks["track_id"].to_list() == [f"{SHIP}-20240301T000000Z"]


def test_a_bad_fix_in_the_same_second_as_the_ship_returns_does_not_split_it() -> None:
    # Heard in port, silent 28 h, then a bad fix 500 km away and the real fix in one second
    # (366987070 in the SoCal week): the bad fix must not take the track over.
    ship = Track(SHIP).stay(IN_P, 1, every_min=3)
    back = 29 * 60.0
    ship = with_fix(ship, back, IN_P[0], IN_P[1] - 4.5)  # sorts first within the second
    ship = with_fix(ship, back, *IN_P)
    later = Track(SHIP, T0 + timedelta(minutes=back + 3)).stay(IN_P, 1, every_min=3)
    found = run(ship, later)
    assert found.tracks.height == 1
    assert found.jumps["n_positions"].to_list() == [1]


def test_stray_fixes_days_apart_do_not_join_into_a_track() -> None:
    ship = Track(SHIP).stay(IN_P, 72, every_min=10)
    ship = with_fix(ship, 5 * 60 + 1, IN_P[0] + 1.5, IN_P[1] + 1.0)
    ship = with_fix(ship, 50 * 60 + 1, IN_P[0] + 1.6, IN_P[1] + 1.2)
    found = run(ship)
    assert found.tracks.height == 1
    assert found.jumps["n_positions"].to_list() == [1, 1]


def displace(track: Track, first: int, count: int, lon: float, lat: float) -> Track:
    """Return ``track`` with ``count`` fixes from the ``first`` moved to ``lon``, ``lat``."""
    for row in track.rows[first : first + count]:
        row["lon"], row["lat"] = lon, lat
    return track


def test_a_stray_fix_and_a_burst_hours_later_are_two_excursions_not_a_ship() -> None:
    # Both report 14 kn, as the real ship does: reaching one from the other needs 30+ kn.
    ship = Track(SHIP).fix(-1.5, 0.05, 14, 1).sail((0.5, 0.05), 8, sog=14, every_min=1)
    displace(ship, 60, 1, 1.6, 1.7)
    displace(ship, 240, 12, 2.8, 0.5)
    found = run(ship)
    assert found.tracks.height == 1
    assert sorted(found.jumps["n_positions"].to_list()) == [1, 12]


def test_a_sparse_second_transmitter_heard_between_the_first_is_a_track() -> None:
    # 379867543 in the SoCal week: one ship dense at 2 kn, another 20 km off, heard every few
    # minutes at 8 kn, for an hour and a half.
    dense = Track(SHIP).sail((0.3, 0.05), 3, sog=2.3, every_min=0.5)
    sparse = Track(SHIP, T0 + timedelta(minutes=30, seconds=7)).sail(
        (0.15, 0.25), 1.5, sog=8.3, every_min=7
    )
    sparse.rows[0]["lat"] = 0.24  # it starts 20 km north of the other
    found = run(dense, sparse)
    assert found.tracks["n_positions"].sort().to_list() == [13, 360]
    assert concurrent_tracks(found.with_track_ids(), S, 10.0).height == 1


@pytest.mark.parametrize("speed_kn", [12.0, 20.0, 40.0])
def test_clock_steps_and_jitter_do_not_split_a_track(speed_kn: float) -> None:
    # The SoCal logging clock lags up to a minute and steps back 2 minutes for half an hour.
    rng = random.Random(7)
    hours = 4.0
    ship = Track(SHIP).fix(*SEA_WEST, speed_kn, 0.2)
    ship.sail((SEA_WEST[0] + speed_kn * 1.852 * hours / 111.2, SEA_WEST[1]), hours, speed_kn, 0.2)
    for row in ship.rows:
        t = row["timestamp_utc"]
        assert isinstance(t, type(T0))
        step = (
            timedelta(minutes=-2)
            if T0 + timedelta(hours=1) <= t < T0 + timedelta(hours=1.5)
            else timedelta(0)
        )
        row["timestamp_utc"] = t + step + timedelta(seconds=rng.uniform(0, 60))
    found = run(ship)
    assert found.tracks.height == 1
    assert found.n_dropped == 0


def test_without_clock_slack_the_same_feed_would_split() -> None:
    ship = Track(SHIP).fix(*SEA_WEST, 40.0, 0.2)
    ship.sail((SEA_WEST[0] + 1.0, SEA_WEST[1]), 1.5, 40.0, 0.2)
    for row in ship.rows[100:200]:
        row["timestamp_utc"] -= timedelta(minutes=2)  # type: ignore[operator]
    assert run(ship, settings=TrackSettings(clock_slack_s=0.0)).tracks.height > 1
    assert run(ship).tracks.height == 1


def test_a_ship_silent_for_days_keeps_its_track() -> None:
    ship = Track(SHIP).stay(IN_P, 2).silence(60).sail(SEA_EAST, 3).stay(IN_Q, 2)
    assert run(ship).tracks.height == 1


def test_without_jump_limits_every_displaced_run_stays_a_track() -> None:
    ship = with_fix(MOORED, 600.5, 3.0, -2.0)
    found = run(ship, settings=TrackSettings(max_jump_reports=0))
    assert found.tracks.height == 2 and found.jumps.is_empty()


def test_positions_without_a_valid_fix_are_left_out() -> None:
    frame = positions(MOORED).with_columns(
        lat=pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise(pl.col("lat"))
    )
    found = segment(frame, S)
    assert found.positions.height == 477 and found.n_dropped == 0


def test_empty_input_gives_empty_tables_with_their_schemas() -> None:
    found = segment(positions(), S)
    assert found.positions.is_empty() and found.tracks.is_empty() and found.jumps.is_empty()
    assert found.tracks.schema == pl.Schema(TRACKS_SCHEMA)
    assert concurrent_tracks(found.with_track_ids(), S, 10.0).is_empty()


FLEET = positions(
    with_fix(MOORED, 600.5, 3.0, -2.0),
    Track(SHIP).stay(IN_Q, 12, every_min=7),
    Track(412_000_002).fix(*SEA_WEST, 12).sail(SEA_EAST, 4, sog=12),
    Track(412_000_003).stay(IN_P, 2).silence(30).stay(IN_P, 2),
)
FLEET_RESULT = segment(FLEET, S)


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.booleans())
def test_any_row_order_and_other_vessels_give_the_same_tracks(
    rng: random.Random, drop_other: bool
) -> None:
    frame = FLEET.sample(fraction=1.0, shuffle=True, seed=rng.randint(0, 10_000))
    if drop_other:
        frame = frame.filter(pl.col("mmsi") == SHIP)
    found = segment(frame, S)
    expected = FLEET_RESULT
    if drop_other:
        keep = pl.col("mmsi") == SHIP
        assert found.tracks.equals(expected.tracks.filter(keep))
        assert found.jumps.equals(expected.jumps.filter(keep))
        return
    assert found.tracks.equals(expected.tracks)
    assert found.jumps.equals(expected.jumps)
    assert found.with_track_ids().drop("track").equals(expected.with_track_ids().drop("track"))


def _heard_at(mmsi: int, fixes: list[tuple[float, float]]) -> Track:
    """A vessel heard at (minutes after T0, longitude) on latitude 0.05, reporting 10 kn."""
    track = Track(mmsi)
    track.rows = [
        {
            "mmsi": mmsi,
            "timestamp_utc": T0 + timedelta(minutes=minutes),
            "lon": lon,
            "lat": 0.05,
            "sog_kn": 10.0,
        }
        for minutes, lon in fixes
    ]
    return track


def test_a_run_displaced_from_another_displaced_run_is_a_jump_of_the_track_kept() -> None:
    """Heard once in 20 minutes while going faster than its fixes allow, the vessel's first
    fixes are runs displaced from one another, the first of them from the track it keeps: every
    jump is of that track, whichever vessels are segmented with it (another's track ended
    before them)."""
    fast = _heard_at(
        SHIP,
        [(323, -0.3), (343, -0.160345), (363, 0.025862), (383, 0.212069), (403, 0.398276),
         (423, 0.584483), (443, 0.77069), (463, 0.956897), (834, 0.907143), (844, 0.764286),
         (864, 0.478571), (884, 0.192857), (904, 0.108824), (924, 0.226471), (944, 0.344118),
         (964, 0.461765), (984, 0.579412), (1004, 0.697059), (1024, 0.814706),
         (1044, 0.932353), (1064, 1.05)],
    )  # fmt: skip
    before = _heard_at(SHIP - 1, [(114, 0.05), (124, 0.13), (144, 0.29), (184, 0.6), (204, 0.6)])
    alone = run(fast)
    assert alone.tracks.height == 1 and alone.jumps.height > 3
    assert set(alone.jumps["track_id"]) == set(alone.tracks["track_id"])
    together = run(before, fast)
    assert together.jumps.filter(pl.col("mmsi") == SHIP).equals(alone.jumps)
