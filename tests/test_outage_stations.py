"""Receiver outages judged per receiver station, where the positions say which one heard them."""

from __future__ import annotations

import polars as pl
from tracks_events import SEA, bystanders, near, tracks_frame
from tracks_portcalls import ZONES, Track

from monitor.analyse.gaps import dark_periods
from monitor.config import GapSettings

VESSEL = 412_000_001
#: Heard by the same receiver as VESSEL, far from it (outside its neighbourhood).
ELSEWHERE = 412_000_009
#: Lying near VESSEL, heard by a second receiver all along.
BYSTANDERS = bystanders(30)


def closed_cause(frame: pl.DataFrame) -> str:
    """Return the cause of VESSEL's one silence that ended in ``frame``."""
    end = frame["timestamp_utc"].max()
    gaps = dark_periods(frame, ZONES, GapSettings(), data_end=end)  # type: ignore[arg-type]
    [cause] = gaps.filter((pl.col("mmsi") == VESSEL) & ~pl.col("open"))["cause"].to_list()
    return str(cause)


def causes(*, receiver_down: bool, stations: bool) -> str:
    """Return the cause of VESSEL's 8-hour silence: receiver "A" hears it and ELSEWHERE,
    receiver "B" the bystanders next to it; "A" is down during the silence or not."""
    vessel = Track(VESSEL).stay(SEA, 12, sog=0.1).silence(8).stay(near(SEA, 0.1), 6, sog=0.1)
    far = near(SEA, 2.0, 1.0)
    elsewhere = Track(ELSEWHERE).stay(far, 12, sog=0.1)
    if receiver_down:
        elsewhere.silence(8)
    else:
        elsewhere.stay(far, 8, sog=0.1)
    # Heard for days: the outage is a small share of the receiver's time.
    elsewhere.stay(far, 76, sog=0.1)
    frame = tracks_frame(vessel, elsewhere, *BYSTANDERS)
    if stations:
        receiver = pl.when(pl.col("mmsi").is_in([VESSEL, ELSEWHERE])).then(pl.lit("A"))
        frame = frame.with_columns(station=receiver.otherwise(pl.lit("B")))
    return closed_cause(frame)


def test_a_vessel_whose_receiver_heard_nobody_meanwhile_is_behind_an_outage() -> None:
    # Its neighbours were heard all along, by another receiver: without stations that reads
    # as a switch-off.
    assert causes(receiver_down=True, stations=True) == "outage"
    assert causes(receiver_down=True, stations=False) == "dark"


def test_a_vessel_whose_receiver_kept_hearing_others_went_dark() -> None:
    assert causes(receiver_down=False, stations=True) == "dark"


def alone_cause(*, stations: bool) -> str:
    """Return the cause of the 8-hour silence of VESSEL, alone at sea, heard by "S" (as a
    satellite feed hears ships far apart) before and after it, while "S" kept hearing
    ELSEWHERE, far away."""
    vessel = Track(VESSEL).stay(SEA, 12, sog=0.1).silence(8).stay(near(SEA, 0.1), 6, sog=0.1)
    far = near(SEA, 2.0, 1.0)
    elsewhere = Track(ELSEWHERE).stay(far, 26, sog=0.1)
    frame = tracks_frame(vessel, elsewhere)
    if stations:
        frame = frame.with_columns(station=pl.lit("S"))
    return closed_cause(frame)


def test_a_vessel_alone_within_a_working_receivers_reach_went_dark() -> None:
    # Nobody near it to compare with: without stations, out of reach.
    assert alone_cause(stations=False) == "range"
    assert alone_cause(stations=True) == "dark"


def steaming_cause(*, back: bool) -> str:
    """Return the cause of the 8-hour silence of VESSEL, alone, steaming east at 10 kn where
    nobody was ever heard, heard by "S" before and after it (S kept hearing ELSEWHERE, far
    away): it comes back on its way on (or, ``back``, near where it fell silent)."""
    vessel = Track(VESSEL).fix(*SEA, sog=10.0).sail(near(SEA, 0.667), 4)
    vessel.silence(8)
    if back:
        vessel.fix(*near(SEA, 0.7), sog=10.0).sail(near(SEA, 0.3), 2.4)
    else:
        vessel.fix(*near(SEA, 2.0), sog=10.0).sail(near(SEA, 2.667), 4)
    elsewhere = Track(ELSEWHERE).stay(near(SEA, -2.0, -1.0), 20, sog=0.1)
    frame = tracks_frame(vessel, elsewhere).with_columns(station=pl.lit("S"))
    return closed_cause(frame)


def test_a_vessel_heard_by_one_station_at_both_ends_of_a_straight_run_stayed_in_its_reach() -> None:
    # A chord of the station's reach (about a disc) stays inside it, even where nobody else
    # was ever heard; out and back, it may have left it.
    assert steaming_cause(back=False) == "dark"
    assert steaming_cause(back=True) == "range"
