"""Encounters: two vessels side by side at sea, found without comparing every pair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from shapely.geometry import Point, box
from tracks_events import SEA, near, tracks_frame
from tracks_portcalls import IN_P, T0, ZONES, Track

from monitor.analyse.encounters import close_pairs, encounters, resample
from monitor.analyse.geofences import Zone
from monitor.config import EncounterSettings
from monitor.schema import ENCOUNTERS_SCHEMA

SETTINGS = EncounterSettings()
A, B, C = 273_000_001, 412_000_002, 538_000_003
#: 0.002 degree of latitude: 222 m.
BESIDE = near(SEA, 0.0, 0.002)


def meet(hours: float, at: tuple[float, float] = SEA, start: datetime = T0) -> list[Track]:
    """Return two vessels arriving together at ``at`` and lying there ``hours``."""
    a = Track(A, start).fix(*near(at, -0.3), 10).sail(at, 2).stay(at, hours, sog=0.3)
    a.sail(near(at, 0.3), 2)
    b = Track(B, start).fix(*near(at, 0.3, 0.002), 10).sail(near(at, 0.0, 0.002), 2)
    b.stay(near(at, 0.0, 0.002), hours, sog=0.2).sail(near(at, -0.3), 2)
    return [a, b]


def found(*tracks: Track, settings: EncounterSettings = SETTINGS) -> pl.DataFrame:
    return encounters(tracks_frame(*tracks), ZONES, settings)


def test_two_vessels_lying_together_for_hours_meet() -> None:
    result = found(*meet(3))
    assert result.columns == list(ENCOUNTERS_SCHEMA)
    assert result.height == 1
    row = result.row(0, named=True)
    assert (row["mmsi_a"], row["mmsi_b"]) == (A, B)
    # Both arrive at 2:10 (first fix at 0:00, two hours under way, then the stay) and lie
    # there until their last fix at 4:50; the approach and the departure at 10 kn are no part.
    assert T0 + timedelta(hours=2) <= row["start_utc"] <= T0 + timedelta(hours=2, minutes=10)
    assert row["end_utc"] == T0 + timedelta(hours=4, minutes=50)
    assert row["median_distance_m"] == pytest.approx(222.4, abs=1)
    assert row["lat"] == pytest.approx(SEA[1] + 0.001, abs=1e-4)
    assert row["lon"] == pytest.approx(SEA[0], abs=1e-4)
    assert row["median_speed_kn"] < 2
    assert row["partly_dark"] is False


def test_a_short_meeting_is_no_encounter() -> None:
    assert found(*meet(1.5)).is_empty()


def test_vessels_too_far_apart_or_too_fast_do_not_meet() -> None:
    a = Track(A).stay(SEA, 4, sog=0.2)
    b = Track(B).stay(near(SEA, 0.0, 0.006), 4, sog=0.2)  # 667 m
    assert found(a, b).is_empty()
    # Sailing side by side at 10 kn for 4 hours is no encounter either.
    c = Track(A).fix(*SEA, 10).sail(near(SEA, 1.2), 4, sog=10)
    d = Track(B).fix(*BESIDE, 10).sail(near(BESIDE, 1.2), 4, sog=10)
    assert found(c, d).is_empty()


def test_meetings_in_port_zones_are_left_out_unless_the_exclusion_is_off() -> None:
    in_port = meet(4, at=IN_P)
    assert found(*in_port).is_empty()
    no_zones = encounters(tracks_frame(*in_port), [], SETTINGS)
    assert no_zones.height == 1


def test_vessels_at_berths_on_either_side_of_a_pier_do_not_meet_between_them() -> None:
    # A harbour shaped like a U (two quays, water between them left out of the zone): one
    # vessel lies at each quay, 222 m apart, and the point between them is outside the zone.
    x, y = SEA
    harbour = box(x - 0.01, y - 0.0005, x + 0.01, y + 0.0025).difference(
        box(x - 0.005, y + 0.0005, x + 0.011, y + 0.0015)
    )
    zones = [Zone("U", "U harbour", "port", "U", None, harbour)]
    assert not harbour.contains(Point(x, y + 0.001))
    tracks = tracks_frame(*meet(4))
    assert encounters(tracks, zones, SETTINGS).is_empty()
    assert encounters(tracks, [], SETTINGS).height == 1


def test_meetings_of_a_pair_hours_apart_merge_and_across_midnight_are_one() -> None:
    evening = datetime(2024, 3, 1, 20, tzinfo=UTC)
    a = Track(A, evening).stay(SEA, 3, sog=0.2).sail(near(SEA, 0.1), 1, sog=3)
    a.sail(SEA, 1, sog=3).stay(SEA, 3, sog=0.2)
    b = Track(B, evening).stay(BESIDE, 3, sog=0.2).stay(near(BESIDE, -0.2), 2, sog=0.2)
    b.stay(BESIDE, 3, sog=0.2)
    result = found(a, b)
    assert result.height == 1
    row = result.row(0, named=True)
    assert row["start_utc"].date() < row["end_utc"].date()
    assert row["duration_h"] == pytest.approx(8, abs=0.4)
    apart = SETTINGS.model_copy(update={"merge_gap_h": 1.0})
    assert found(a, b, settings=apart).height == 2


def test_a_partner_dark_at_the_spot_is_still_met_and_partly_dark() -> None:
    a = Track(A).stay(SEA, 10, sog=0.2)
    b = Track(B).stay(BESIDE, 1.5, sog=0.2).silence(6).stay(BESIDE, 2, sog=0.2)
    result = found(a, b)
    assert result.height == 1
    row = result.row(0, named=True)
    assert row["partly_dark"] is True
    assert row["duration_h"] == pytest.approx(9.5, abs=0.2)
    # Seen somewhere else after the silence, it is not taken to have stayed.
    c = Track(B).stay(BESIDE, 1.5, sog=0.2).silence(6)
    c.here = near(SEA, 0.2)
    c.stay(near(SEA, 0.2), 2, sog=0.2)
    assert found(a, c).is_empty()
    # Dark spans given by the caller decide partly_dark instead.
    dark = pl.DataFrame(
        {
            "mmsi": [A],
            "start_utc": [T0 + timedelta(hours=20)],
            "end_utc": [T0 + timedelta(hours=30)],
        },
        schema={
            "mmsi": pl.UInt32(),
            "start_utc": pl.Datetime("us", "UTC"),
            "end_utc": pl.Datetime("us", "UTC"),
        },
    )
    assert encounters(tracks_frame(a, b), ZONES, SETTINGS, dark=dark)["partly_dark"].to_list() == [
        False
    ]


def test_resampling_is_on_the_clock_grid_and_stops_at_long_silences() -> None:
    track = Track(A, T0 + timedelta(minutes=3)).stay(SEA, 1, sog=0.2).silence(3)
    track.here = near(SEA, 0.5)
    track.stay(near(SEA, 0.5), 1, sog=0.2)
    samples = resample(tracks_frame(track), "mmsi", SETTINGS)
    minutes = samples["slot"] * SETTINGS.grid_min
    assert (minutes % 10 == 0).all()
    t0 = int(T0.timestamp() / 60)
    # 0:03 .. 0:53, then 4:03 .. 4:53: grid times 0:10 .. 0:50 and 4:10 .. 4:50.
    assert (minutes - t0).to_list() == [10, 20, 30, 40, 50, 250, 260, 270, 280, 290]


def test_close_pairs_finds_exactly_the_pairs_within_the_distance() -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    n = 400
    samples = pl.DataFrame(
        {
            "track": np.arange(n),
            "slot": rng.integers(0, 3, n),
            "lat": 40 + rng.uniform(0, 0.05, n),
            "lon": 179.98 + rng.uniform(0, 0.04, n),
            "speed_kn": np.zeros(n),
            "dark": np.zeros(n, dtype=bool),
        }
    ).with_columns(lon=((pl.col("lon") + 180) % 360) - 180)
    pairs = close_pairs(samples, 500.0)
    got = set(zip(pairs["track_a"].to_list(), pairs["track_b"].to_list(), strict=True))
    rows = samples.to_dicts()
    want = set()
    for i in range(n):
        for j in range(i + 1, n):
            p, q = rows[i], rows[j]
            if p["slot"] != q["slot"]:
                continue
            dlon = (q["lon"] - p["lon"] + 540) % 360 - 180
            x = dlon * np.cos(np.radians((p["lat"] + q["lat"]) / 2))
            if np.hypot(x, q["lat"] - p["lat"]) * 111_195 <= 500:
                want.add((i, j))
    assert got == want
    assert len(want) > 20
