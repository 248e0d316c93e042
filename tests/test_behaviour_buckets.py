"""Dark periods, encounters and loitering in vessel buckets and space-time partitions: exactly
what one run over every position at once finds."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from test_engines import FLEET
from tracks_events import bystanders, near
from tracks_portcalls import T0, ZONES, Track, positions

from monitor.analyse.behaviour import Behaviour, behaviour_tracks, find_behaviour
from monitor.config import Settings
from monitor.pipeline.behaviour_buckets import (
    BehaviourJob,
    behaviour_parts,
    merge_behaviour,
)
from monitor.pipeline.buckets import buckets_of
from monitor.pipeline.space_time import SpaceTimeGrid, partitions_of

#: On the edge of two 5-degree blocks (longitude 5) and of two half-degree ones.
MEET = (5.0, 0.5)
A, B = 310_000_001, 412_000_002


def _meeting() -> list[Track]:
    """Return two vessels lying 111 m apart across longitude 5 from 22:00 to 09:00 next day,
    the second silent for seven hours of it, vessels heard around them, and one loitering."""
    start = T0 + timedelta(hours=18)
    a = Track(A, start).fix(*near(MEET, -0.3), 10).sail(near(MEET, -0.0005), 4)
    a.stay(near(MEET, -0.0005), 11, sog=0.3).sail(near(MEET, 0.3), 2)
    b = Track(B, start).fix(*near(MEET, 0.3, 0.001), 10).sail(near(MEET, 0.0005, 0.0005), 4)
    b.stay(near(MEET, 0.0005, 0.0005), 2, sog=0.2).silence(7)
    b.stay(near(MEET, 0.0005, 0.0005), 2, sog=0.2).sail(near(MEET, -0.3), 2)
    others = bystanders(20, at=near(MEET, -0.1), first_mmsi=500_000_001)
    for other in others:
        other.t = start
    loiterer = Track(600_000_009, start).stay(near(MEET, 0.4, 0.2), 6, sog=0.5)
    return [a, b, loiterer, *others]


POSITIONS = pl.concat([FLEET, positions(*_meeting())]).sort("timestamp_utc")
SETTINGS = Settings()


def _job(frame: pl.DataFrame) -> BehaviourJob:
    t_us = frame["timestamp_utc"].dt.epoch("us")
    return BehaviourJob(
        zones=tuple(ZONES),
        settings=SETTINGS,
        data_end_us=int(t_us.max()),  # type: ignore[arg-type]
        data_start_us=int(t_us.min()),  # type: ignore[arg-type]
    )


def _one_run(frame: pl.DataFrame) -> Behaviour:
    """Return the behaviour found over every position at once, in one process."""
    found = behaviour_tracks(frame, SETTINGS.tracks)
    return find_behaviour(found, ZONES, SETTINGS, _job(frame).data_end)


def _in_buckets(frame: pl.DataFrame, n_buckets: int, space_time: SpaceTimeGrid) -> Behaviour:
    bucket = pl.Series(buckets_of(frame["mmsi"].to_numpy(), n_buckets))
    job = _job(frame)
    parts = [
        behaviour_parts(frame.filter(bucket == b), job)
        for b in range(n_buckets)
        if (bucket == b).any()
    ]
    return merge_behaviour(parts, job, space_time=space_time)


@pytest.fixture(scope="module")
def one_run() -> Behaviour:
    found = _one_run(POSITIONS)
    meeting = found.encounters.filter(pl.col("mmsi_a") == A, pl.col("mmsi_b") == B)
    assert meeting.height == 1, found.encounters
    start, end = meeting["start_utc"][0], meeting["end_utc"][0]
    assert isinstance(start, datetime) and isinstance(end, datetime)
    assert start.date() < end.date()  # across midnight
    assert meeting["partly_dark"][0] is True  # B was dark during it
    assert "dark" in found.gaps.filter(pl.col("mmsi") == B)["cause"].to_list()
    assert {"coverage", "dark"} <= set(found.gaps["cause"])
    assert found.loitering.height >= 1
    return found


@pytest.mark.parametrize("n_buckets", [1, 2, 3, 7, 40])
@pytest.mark.parametrize("block_deg", [5.0, 0.5])
def test_buckets_and_partitions_give_the_one_run(
    one_run: Behaviour, n_buckets: int, block_deg: float
) -> None:
    grid = SpaceTimeGrid(reach_m=1000.0, block_deg=block_deg, window_h=24.0)
    found = _in_buckets(POSITIONS, n_buckets, grid)
    assert found.gaps.equals(one_run.gaps)
    assert found.encounters.equals(one_run.encounters)
    assert found.loitering.equals(one_run.loitering)


def test_the_meeting_crosses_partition_edges_in_space_and_time() -> None:
    """The fixture's meeting puts its two vessels in different blocks of space, and spans two
    windows of time: the test above is no walk within one partition."""
    frame = POSITIONS.filter(pl.col("mmsi").is_in([A, B]))
    frame = frame.filter(pl.col("sog_kn") < 1)
    grid = SpaceTimeGrid(reach_m=0.0, block_deg=5.0, window_h=24.0)
    home = partitions_of(frame, grid).filter("home").sort("row")["partition"].to_numpy()
    by_vessel = {m: set(home[frame["mmsi"].to_numpy() == m]) for m in (A, B)}
    assert by_vessel[A].isdisjoint(by_vessel[B])
    assert min(len(p) for p in by_vessel.values()) == 2
    assert np.unique(home).size == 4
