"""Dark periods, encounters and loitering in vessel buckets and space-time partitions: exactly
what one run over every position at once finds."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_calls import make_settings
from test_engines import FLEET, _with_engine, _write
from tracks_events import MEETING_A as A
from tracks_events import MEETING_B as B
from tracks_portcalls import ZONES

from monitor.analyse.behaviour import (
    Behaviour,
    behaviour_tracks,
    encounters_of,
    find_behaviour,
    gaps_of,
    loitering_of,
)
from monitor.analyse.geofences import load_zones
from monitor.config import Settings
from monitor.pipeline.behaviour_buckets import (
    BehaviourJob,
    behaviour_parts,
    merge_behaviour,
)
from monitor.pipeline.buckets import buckets_of
from monitor.pipeline.detect import detect_calls
from monitor.pipeline.space_time import SpaceTimeGrid, partitions_of
from monitor.store.events import EVENTS

POSITIONS = FLEET.sort("timestamp_utc")
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


def test_detect_finds_the_behaviour_of_one_run(tmp_path: Path) -> None:
    """``monitor detect`` (vessel buckets, then the merge) writes the dark periods, encounters
    and loitering that one run over every position finds."""
    settings = make_settings(tmp_path)
    _write(Path(settings.store.path), POSITIONS, files_per_day=3)
    detect_calls(_with_engine(settings, partitions=4))
    events = EVENTS.read(settings.store.path)
    zones = [zone for zone in load_zones(settings) if zone.kind != "area"]
    found = behaviour_tracks(POSITIONS, SETTINGS.tracks)
    one_run = find_behaviour(found, zones, SETTINGS, _job(POSITIONS).data_end)
    assert gaps_of(events).equals(one_run.gaps.sort("gap_start_utc", "mmsi"))
    assert encounters_of(events).equals(one_run.encounters)
    assert loitering_of(events).equals(one_run.loitering)


def test_a_buckets_parts_do_not_depend_on_when_the_data_ends() -> None:
    """What a bucket finds depends on its vessels' positions only: a later end of the data
    (other vessels heard since) leaves its parts as they are, and only the merge lengthens the
    silences still open, as one run up to that end finds them."""
    job = _job(POSITIONS)
    later = dataclasses.replace(job, data_end_us=job.data_end_us + 7 * 24 * 3_600_000_000)
    now, then = behaviour_parts(POSITIONS, job), behaviour_parts(POSITIONS, later)
    assert now.keys() == then.keys()
    # Compared as frames: NaN (the place after a silence still open) equals NaN.
    for name in now:
        before, after = pl.from_arrow(now[name]), pl.from_arrow(then[name])
        assert isinstance(before, pl.DataFrame) and isinstance(after, pl.DataFrame)
        assert before.equals(after), name
    gaps = merge_behaviour([then], later).gaps
    found = behaviour_tracks(POSITIONS, SETTINGS.tracks)
    assert gaps.equals(find_behaviour(found, ZONES, SETTINGS, later.data_end).gaps)
    still_open = gaps.filter("open")
    assert still_open.height >= 1 and (still_open["duration_h"] >= 7 * 24).all()
