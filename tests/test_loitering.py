"""Loitering: one vessel slow for hours outside port zones."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from tracks_events import SEA, near, tracks_frame
from tracks_portcalls import IN_P, T0, ZONES, Track

from monitor.analyse.loitering import loitering
from monitor.config import LoiteringSettings
from monitor.schema import LOITERING_SCHEMA

SETTINGS = LoiteringSettings()
MMSI = 273_000_009


def test_hours_of_slow_drift_at_sea_are_loitering() -> None:
    track = Track(MMSI).fix(*near(SEA, -0.3), 10).sail(SEA, 2).stay(SEA, 5, sog=0.8)
    track.sail(near(SEA, 0.3), 2)
    found = loitering(tracks_frame(track), ZONES, SETTINGS)
    assert found.columns == list(LOITERING_SCHEMA)
    assert found.height == 1
    row = found.row(0, named=True)
    assert row["start_utc"] == T0 + timedelta(hours=2, minutes=10)
    assert row["duration_h"] == pytest.approx(5 - 1 / 6)
    assert row["median_speed_kn"] == pytest.approx(0.8)
    assert (row["lon"], row["lat"]) == pytest.approx(SEA)


def test_short_stops_fast_vessels_and_ports_are_not_loitering() -> None:
    short = Track(MMSI).stay(SEA, 3, sog=0.5)
    fast = Track(MMSI + 1).fix(*SEA, 10).sail(near(SEA, 1.0), 6, sog=2.5)
    in_port = Track(MMSI + 2).stay(IN_P, 8, sog=0.0)
    assert loitering(tracks_frame(short, fast, in_port), ZONES, SETTINGS).is_empty()
    assert loitering(tracks_frame(in_port), [], SETTINGS).height == 1


def test_one_noisy_speed_does_not_split_a_loitering_and_a_long_silence_does() -> None:
    track = Track(MMSI).stay(SEA, 3, sog=0.5).fix(*SEA, 5.0).stay(SEA, 3, sog=0.5)
    assert loitering(tracks_frame(track), ZONES, SETTINGS).height == 1
    broken = Track(MMSI).stay(SEA, 3, sog=0.5).silence(3).stay(SEA, 3, sog=0.5)
    assert loitering(tracks_frame(broken), ZONES, SETTINGS).is_empty()
    longer = SETTINGS.model_copy(update={"max_gap_h": 4.0})
    assert loitering(tracks_frame(broken), ZONES, longer).height == 1


def test_a_loitering_is_settled_at_the_third_position_after_its_end() -> None:
    """Its end depends on the speeds of the next positions (smoothed over two each side): it
    is settled once the third after it is heard, and not before."""
    track = Track(MMSI).fix(*near(SEA, -0.3), 10).sail(SEA, 2).stay(SEA, 5, sog=0.8)
    track.sail(near(SEA, 0.3), 2)
    whole = tracks_frame(track)
    found = loitering(whole, ZONES, SETTINGS, settled=True)
    assert found.columns == [*LOITERING_SCHEMA, "settled_utc", "lead_utc"]
    end, settled = found.row(0, named=True)["end_utc"], found.row(0, named=True)["settled_utc"]
    after = whole.filter(pl.col("timestamp_utc") > end)["timestamp_utc"]
    assert settled == after[2]
    # Until then, later positions may still move its end.
    cut = whole.filter(pl.col("timestamp_utc") < settled)
    assert loitering(cut, ZONES, SETTINGS, settled=True)["settled_utc"].to_list() == [None]
    assert loitering(whole, ZONES, SETTINGS).columns == list(LOITERING_SCHEMA)


def test_a_loitering_starts_where_it_did_from_its_lead_on() -> None:
    """Its start depends on the speeds of the positions before it (smoothed over two each side):
    from the third before it on, the positions give the same loitering; its lead is that
    position, and none where the track has fewer before it."""
    track = Track(MMSI).fix(*near(SEA, -0.3), 10).sail(SEA, 2).stay(SEA, 5, sog=0.8)
    track.sail(near(SEA, 0.3), 2)
    whole = tracks_frame(track)
    found = loitering(whole, ZONES, SETTINGS, settled=True).row(0, named=True)
    before = whole.filter(pl.col("timestamp_utc") < found["start_utc"])["timestamp_utc"]
    assert found["lead_utc"] == before[-3]
    late = loitering(
        whole.filter(pl.col("timestamp_utc") >= found["lead_utc"]), ZONES, SETTINGS, settled=True
    )
    assert late.row(0, named=True) == found
    later = loitering(
        whole.filter(pl.col("timestamp_utc") > found["lead_utc"]), ZONES, SETTINGS, settled=True
    )
    assert later["lead_utc"].to_list() == [None]
