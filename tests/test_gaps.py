"""Dark periods: silences, where they happened, and their cause."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from tracks_events import SEA, bystanders, near, tracks_frame
from tracks_portcalls import IN_P, IN_Q, T0, ZONES, Track

from monitor.analyse.gaps import dark_periods
from monitor.analyse.positions import sort_by_vessel_and_time
from monitor.config import GapSettings
from monitor.schema import GAPS_SCHEMA

SETTINGS = GapSettings()
DARK_MMSI = 412_000_001


def gaps_of(*tracks: Track, settings: GapSettings = SETTINGS) -> pl.DataFrame:
    frame = tracks_frame(*tracks)
    end = frame["timestamp_utc"].max()
    assert end is not None
    return dark_periods(frame, ZONES, settings, data_end=end)  # type: ignore[arg-type]


def one(gaps: pl.DataFrame, mmsi: int) -> dict[str, object]:
    rows = gaps.filter(pl.col("mmsi") == mmsi).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_a_vessel_silent_while_those_around_it_are_heard_went_dark() -> None:
    dark = Track(DARK_MMSI).stay(SEA, 12, sog=0.1).silence(8).stay(near(SEA, 0.1), 6, sog=0.1)
    gaps = gaps_of(dark, *bystanders(30))
    assert gaps.columns == list(GAPS_SCHEMA)
    gap = one(gaps, DARK_MMSI)
    assert gap["cause"] == "dark"
    assert gap["kind"] == "at_sea"
    assert gap["gap_start_utc"] == T0 + timedelta(hours=12) - timedelta(minutes=10)
    assert gap["gap_end_utc"] == T0 + timedelta(hours=20)
    assert gap["duration_h"] == pytest.approx(8 + 1 / 6)
    # 0.1 degree of longitude at latitude 0.3: 11.1 km, at 1.36 kn over 8 h 10 min.
    assert gap["distance_km"] == pytest.approx(11.12, abs=0.01)
    assert gap["implied_speed_kn"] == pytest.approx(11.12 / 1.852 / (8 + 1 / 6), abs=0.01)
    assert gap["usual_interval_h"] == pytest.approx(1 / 6)
    assert gap["others_heard_share"] == 1.0
    assert gap["near_port_id"] in {"P", "Q"}
    assert gap["open"] is False
    # The bystanders, heard all along, have no silences.
    assert gaps.height == 1


def test_a_vessel_heard_only_every_few_hours_is_not_dark_for_missing_one_more() -> None:
    sparse = Track(DARK_MMSI)
    for _ in range(6):
        sparse.fix(*SEA, 0.1, minutes=3 * 60)
    sparse.silence(4).fix(*SEA, 0.1, minutes=3 * 60).fix(*SEA, 0.1)
    gaps = gaps_of(sparse, *bystanders(30))
    gap = one(gaps, DARK_MMSI)
    assert gap["duration_h"] == pytest.approx(7)
    assert gap["cause"] == "coverage"


def test_vessels_falling_silent_together_are_behind_a_receiver_outage() -> None:
    group = [
        Track(DARK_MMSI + k)
        .stay(near(SEA, 0.02 * k), 10, sog=0.1)
        .silence(8)
        .stay(near(SEA, 0.02 * k), 6, sog=0.1)
        for k in range(4)
    ]
    gaps = gaps_of(*group)
    assert gaps.height == 4
    assert set(gaps["cause"]) == {"outage"}


def one_neighbour(regular: bool) -> list[Track]:
    """Return a vessel heard every 3 minutes, silent for 7 hours, and one neighbour 4 km off
    heard as often before and after; during the silence the neighbour is heard all along
    (``regular``) or only twice in passing (a satellite pass every 2.5 hours)."""
    here, there = SEA, near(SEA, 0.036)
    silent = Track(DARK_MMSI).stay(here, 10, sog=0.1, every_min=3).silence(7)
    silent.stay(here, 6, sog=0.1, every_min=3)
    neighbour = Track(DARK_MMSI + 1).stay(there, 10, sog=0.1, every_min=3)
    if regular:
        neighbour.stay(there, 7, sog=0.1, every_min=3)
    else:
        for _ in range(2):
            neighbour.silence(2.5).stay(there, 6 / 60, sog=0.1, every_min=3)
        neighbour.silence(7 - 2 * 2.6)
    return [silent, neighbour.stay(there, 6, sog=0.1, every_min=3)]


def test_a_vessel_silent_while_its_only_neighbour_is_heard_only_in_passing_is_an_outage() -> None:
    # The one vessel near it fell silent with it and came back with it: heard twice in 7 hours
    # by something else (a satellite passing), not at its usual every 3 minutes.
    gap = one(gaps_of(*one_neighbour(regular=False)), DARK_MMSI)
    assert isinstance(gap["others_heard_share"], float) and gap["others_heard_share"] > 0
    assert gap["cause"] == "outage"


def test_a_vessel_silent_while_its_only_neighbour_is_heard_as_usual_went_dark() -> None:
    gap = one(gaps_of(*one_neighbour(regular=True)), DARK_MMSI)
    assert gap["cause"] == "dark"


def test_a_vessel_silent_where_nobody_is_ever_heard_left_the_receivers_range() -> None:
    # It sails from the bystanders 300 km out to the east, silent most of the way.
    far = (3.3, 0.3)
    leaving = Track(DARK_MMSI).stay(SEA, 4, sog=0.1).sail(near(SEA, 0.5), 3, sog=10).silence(14)
    leaving.here = far
    leaving.stay(far, 2, sog=0.1)
    gaps = gaps_of(leaving, *bystanders(23))
    gap = one(gaps, DARK_MMSI)
    assert gap["cause"] == "range"
    assert gap["kind"] == "at_sea"


def test_a_vessel_sailing_on_silent_to_the_end_where_nobody_is_heard_is_out_of_range() -> None:
    # It passes the bystanders at 9 kn heading east and is never heard again: twelve hours on
    # its course it is 200 km away, where nothing is heard.
    leaving = Track(DARK_MMSI).fix(*near(SEA, -0.2), 9).sail(near(SEA, 0.1), 2, sog=9)
    gap = one(gaps_of(leaving, *bystanders(20)), DARK_MMSI)
    assert gap["open"] is True
    assert gap["cause"] == "range"
    # Lying still where it fell silent, it would be dark: others were heard there all along.
    staying = Track(DARK_MMSI).fix(*near(SEA, -0.2), 9).sail(near(SEA, 0.1), 2, sog=9)
    staying.stay(near(SEA, 0.1), 1, sog=0.0)
    gap = one(gaps_of(staying, *bystanders(20)), DARK_MMSI)
    assert gap["open"] is True
    assert gap["cause"] == "dark"


def test_a_silence_lasting_to_the_end_of_the_data_is_open() -> None:
    quiet = Track(DARK_MMSI).stay(SEA, 6, sog=0.1)
    gaps = gaps_of(quiet, *bystanders(20))
    gap = one(gaps, DARK_MMSI)
    assert gap["open"] is True
    assert gap["gap_end_utc"] is None
    assert gap["end_lat"] is None
    assert gap["distance_km"] is None
    # Its last fix at 5:50, the data ends with the bystanders' last at 19:50.
    assert gap["duration_h"] == pytest.approx(14)
    assert gap["cause"] == "dark"


def test_shorter_silences_count_near_ports_only() -> None:
    in_port = Track(DARK_MMSI).stay(IN_P, 5, sog=0.0).silence(3).stay(IN_P, 5, sog=0.0)
    at_sea = Track(DARK_MMSI + 1).stay(SEA, 5, sog=0.1).silence(3).stay(SEA, 5, sog=0.1)
    gaps = gaps_of(in_port, at_sea, *bystanders(14), *bystanders(14, IN_P, 600_000_001))
    gap = one(gaps, DARK_MMSI)
    assert gap["kind"] == "near_port"
    assert gap["near_port_id"] == "P"
    assert gap["port_distance_km"] == 0.0
    assert gaps.filter(pl.col("mmsi") == DARK_MMSI + 1).is_empty()
    stricter = SETTINGS.model_copy(update={"near_port_min_gap_h": 4.0})
    assert gaps_of(in_port, at_sea, settings=stricter).is_empty()


def test_where_a_silence_began_and_ended() -> None:
    arrived = Track(DARK_MMSI).stay(SEA, 4, sog=0.1).silence(8)
    arrived.here = IN_Q
    arrived.stay(IN_Q, 3, sog=0.0)
    departed = Track(DARK_MMSI + 1).stay(IN_P, 4, sog=0.0).silence(8)
    departed.here = SEA
    departed.stay(SEA, 3, sog=0.1)
    gaps = gaps_of(arrived, departed, *bystanders(16))
    assert one(gaps, DARK_MMSI)["kind"] == "arrived_dark"
    assert one(gaps, DARK_MMSI)["near_port_id"] == "Q"
    assert one(gaps, DARK_MMSI + 1)["kind"] == "departed_dark"
    assert one(gaps, DARK_MMSI + 1)["near_port_id"] == "P"


def test_gaps_do_not_depend_on_the_order_of_rows() -> None:
    dark = Track(DARK_MMSI).stay(SEA, 12, sog=0.1).silence(8).stay(near(SEA, 0.1), 6, sog=0.1)
    frame = tracks_frame(dark, *bystanders(30))
    end = frame["timestamp_utc"].max()
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=3)
    a = dark_periods(frame, ZONES, SETTINGS, data_end=end)  # type: ignore[arg-type]
    b = dark_periods(sort_by_vessel_and_time(shuffled), ZONES, SETTINGS, data_end=end)  # type: ignore[arg-type]
    assert a.equals(b)
