"""What the grids told of each silence, kept between runs: taken again only where nothing it
depends on may have changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
from test_calls import make_settings

from monitor.analyse.gap_evidence import FEATURES_SCHEMA
from monitor.pipeline.behaviour_buckets import PREFIX, BehaviourJob
from monitor.pipeline.features_cycle import CELLS, RHYTHM, KeptFeatures, changed_from_us

_H = 3_600_000_000
_NEVER = np.iinfo(np.int64).max


def _silences() -> pl.DataFrame:
    """Two silences that ended long ago and one still open."""
    return pl.DataFrame(
        {
            "track_id": ["a", "b", "c"],
            "track": [0, 1, 2],
            "start_us": [0, 0, 10 * _H],
            "end_us": [2 * _H, 2 * _H, 99 * _H],
            "duration_h": [2.0, 2.0, 89.0],
            "open": [False, False, True],
            "start_lat": [1.0, 2.0, 3.0],
        }
    )


def _stored(kept: KeptFeatures, gaps: pl.DataFrame) -> pl.DataFrame:
    """Return the features a run that found these would store."""
    features = pl.DataFrame(
        {
            **{c: [1, 2, 3] for c in FEATURES_SCHEMA if FEATURES_SCHEMA[c] == pl.Int64()},
            "kept_start": [0.5] * 3,
            "kept_end": [0.5] * 3,
            "station_reach": [True] * 3,
            "mine_start": [[7], [8], [9]],
        }
    ).with_columns(decider_start=pl.Series([7, 8, 9]), decider_end=pl.Series([7, 8, -1]))
    kept.keep(gaps, features.select(pl.col(c).cast(t) for c, t in FEATURES_SCHEMA.items()))
    assert kept.found is not None
    return kept.found


def test_a_silence_is_asked_again_once_a_change_is_within_its_reach() -> None:
    gaps = _silences()
    stored = _stored(KeptFeatures(), gaps)
    kept = KeptFeatures(stored, changed_us=50 * _H, reach_us=20 * _H)
    settled = kept.settled(gaps)
    assert settled["whole"].to_list() == [True, True, False]  # open: never whole
    assert settled["start"].to_list() == [True, True, True]
    assert settled["near_start"].to_list() == [1, 2, 3]
    kept = KeptFeatures(stored, changed_us=21 * _H, reach_us=20 * _H)
    # Ended 19 h before the change: within the 20 h they reach, as is the open one's start
    # (11 h before); the others' starts (21 h before) are not.
    assert kept.settled(gaps)["whole"].to_list() == [False, False, False]
    assert kept.settled(gaps)["start"].to_list() == [True, True, False]
    # The same silence with another row (here where it began) is asked again.
    moved = gaps.with_columns(start_lat=pl.Series([1.5, 2.0, 3.0]))
    later = KeptFeatures(stored, changed_us=_NEVER, reach_us=20 * _H)
    assert later.settled(moved)["whole"].to_list() == [False, True, False]


def test_the_stations_rhythm_and_reach_join_the_stored_and_the_read_rows() -> None:
    """Rows are read from time bin 10 on: the stations' bins before come from the store (its
    later ones are the rows'), their cells from the store where first heard before, else from
    the rows."""
    old_active = pl.DataFrame(
        {"station": [7, 7, 7], "bin": [3, 9, 10], "n_tracks": [2, 1, 5]}, schema=RHYTHM.schema
    )
    old_cells = pl.DataFrame(
        {"station": [7, 7], "cell": [1, 2], "first_bin": [3, 10]}, schema=CELLS.schema
    )
    kept = KeptFeatures(loaded_bin=10, older=(old_active, old_cells))
    code = np.array([(10 << 39) | 2, (11 << 39) | 3, (11 << 39) | 3], dtype=np.int64)
    grid = kept.rhythm(code, np.array([0, 0, 1]), np.array([7, 7, 7]))
    assert grid["station_bins"].tolist() == [3, 9, 10, 11]
    assert grid["station_tracks"].tolist() == [2, 1, 1, 2]
    assert grid["station_cells"].tolist() == [1, 2, 3]
    assert kept.activity is not None
    assert kept.activity[1]["first_bin"].to_list() == [3, 10, 11]


def _part(usual_us: int, last_us: int) -> dict[str, pa.Table]:
    """A part of one vessel's one track, heard in one cell."""
    tables = {
        "tracks": pl.DataFrame({"track_id": ["t"], "mmsi": pl.Series([5], dtype=pl.UInt32)}),
        "times": pl.DataFrame(
            {"track": [0], "first_us": [_H], "last_us": [last_us], "usual_us": [usual_us]}
        ),
        "quiet": pl.DataFrame(schema={"track": pl.Int64, "from_us": pl.Int64, "to_us": pl.Int64}),
        "near": pl.DataFrame(
            {"code": [1 << 39], "track": [0], "lat": [1.0], "lon": [1.0], "station": [-1]}
        ),
        "region": pl.DataFrame({"code": [1 << 39], "track": [0]}),
    }
    return {PREFIX + name: frame.to_arrow() for name, frame in tables.items()}


def test_a_change_of_a_tracks_usual_interval_counts_where_it_is_asked_of(tmp_path: Path) -> None:
    """Three usual intervals are asked of only when over half an hour: a usual interval of 2
    minutes becoming 3 changes nothing, one of 9 becoming 12 changes all from the track's
    first time; a later last time changes what follows the old one."""
    settings = make_settings(tmp_path)
    job = BehaviourJob(zones=(), settings=settings, data_end_us=0, data_start_us=0)
    mmsis = pl.Series([5], dtype=pl.UInt32)
    minute = 60_000_000
    same = changed_from_us(_part(2 * minute, 9 * _H), [_part(3 * minute, 9 * _H)], mmsis, job)
    assert same == _NEVER
    longer = changed_from_us(_part(9 * minute, 9 * _H), [_part(12 * minute, 9 * _H)], mmsis, job)
    assert longer == _H
    heard_on = changed_from_us(_part(2 * minute, 9 * _H), [_part(2 * minute, 11 * _H)], mmsis, job)
    assert heard_on == 9 * _H
