"""What the grids told of each silence, kept between runs: taken again only where no row it
depends on may have changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
from test_calls import make_settings

from monitor.analyse.gap_evidence import KEPT_SCHEMA
from monitor.pipeline.behaviour_buckets import PREFIX, BehaviourJob
from monitor.pipeline.features_cycle import (
    CELLS,
    RHYTHM,
    KeptFeatures,
    changed_from_us,
    track_keys,
)

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
            "station_start": [1, 2, 3],
            "station_end": [1, 2, 0],
            "decider_start": [7, 8, 9],
            "decider_end": [7, 8, -1],
            "mine_start": [[7], [8], [9]],
            # Tracks near each end, by the numbers of the merge: d near a's start, e near b's
            # end and c's start.
            "near_tracks_start": [[3], [], [4]],
            "near_tracks_end": [[], [4], []],
        },
        schema=KEPT_SCHEMA,
    )
    kept.name_tracks(pl.DataFrame({"track": [0, 1, 2, 3, 4], "track_id": list("abcde")}))
    kept.keep(gaps, features)
    assert kept.found is not None
    return kept.found


def _kept(stored: pl.DataFrame, changed_us: int) -> KeptFeatures:
    """Return the features ``stored`` for a merge of the same tracks, rows changed from
    ``changed_us`` on, and a reach of 20 h."""
    kept = KeptFeatures(stored, changed_us=changed_us, reach_us=20 * _H)
    kept.name_tracks(pl.DataFrame({"track": [0, 1, 2, 3, 4], "track_id": list("abcde")}))
    return kept


def test_a_silence_is_asked_again_once_a_change_is_within_its_reach() -> None:
    gaps = _silences()
    stored = _stored(KeptFeatures(), gaps)
    kept = _kept(stored, 50 * _H)
    settled = kept.settled(gaps)
    assert settled["whole"].to_list() == [True, True, False]  # open: never whole
    assert settled["start"].to_list() == [True, True, True]
    assert settled["station_start"].to_list() == [1, 2, 3]
    kept = _kept(stored, 21 * _H)
    # Ended 19 h before the change: within the 20 h they reach, as is the open one's start
    # (11 h before); the others' starts (21 h before) are not.
    assert kept.settled(gaps)["whole"].to_list() == [False, False, False]
    assert kept.settled(gaps)["start"].to_list() == [True, True, False]
    # The same silence with another row (here where it began) is asked again.
    moved = gaps.with_columns(start_lat=pl.Series([1.5, 2.0, 3.0]))
    later = _kept(stored, _NEVER)
    assert later.settled(moved)["whole"].to_list() == [False, True, False]


def test_the_tracks_near_a_silence_are_kept_by_key_and_asked_by_the_merges_numbers() -> None:
    """Stored by key, the tracks near a silence are given back by the numbers of the merge at
    hand; a silence near a track the merge does not hold is asked again."""
    gaps = _silences()
    stored = _stored(KeptFeatures(), gaps)
    d, e = track_keys(pl.Series(["d", "e"]))
    assert stored["near_tracks_start"].to_list() == [[d], [], [e]]
    kept = KeptFeatures(stored, changed_us=_NEVER, reach_us=20 * _H)
    kept.name_tracks(pl.DataFrame({"track": [0, 1, 2, 3], "track_id": list("abce")}))
    settled = kept.settled(gaps)
    assert settled["whole"].to_list() == [False, True, False]
    assert settled["start"].to_list() == [False, True, True]
    assert settled["near_tracks_start"].to_list() == [None, [], [3]]
    assert settled["near_tracks_end"].to_list() == [[], [3], []]


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


def _part(
    usual_us: int, last_us: int, quiet: tuple[int, int] | None = None, place: int = 1 << 39
) -> dict[str, pa.Table]:
    """A part of one vessel's one track, heard in one cell (``place``: the code of its time
    bin and cell), silent over ``quiet`` (from, to)."""
    tables = {
        "tracks": pl.DataFrame({"track_id": ["t"], "mmsi": pl.Series([5], dtype=pl.UInt32)}),
        "times": pl.DataFrame(
            {"track": [0], "first_us": [_H], "last_us": [last_us], "usual_us": [usual_us]}
        ),
        "quiet": pl.DataFrame(
            [(0, *quiet)] if quiet else [],
            schema={"track": pl.Int64, "from_us": pl.Int64, "to_us": pl.Int64},
            orient="row",
        ),
        "near": pl.DataFrame(
            {"code": [place], "track": [0], "lat": [1.0], "lon": [1.0], "station": [-1]}
        ),
        "region": pl.DataFrame({"code": [place], "track": [0]}),
    }
    return {PREFIX + name: frame.to_arrow() for name, frame in tables.items()}


def test_only_a_row_of_where_a_track_was_heard_is_a_change(tmp_path: Path) -> None:
    """A track's times and intervals change what the grids tell from its times only, asked
    again of every silence: the rows are compared, from the time bin of the first that
    differs."""
    settings = make_settings(tmp_path)
    job = BehaviourJob(zones=(), settings=settings, data_end_us=0, data_start_us=0)
    mmsis = pl.Series([5], dtype=pl.UInt32)
    minute = 60_000_000
    old = _part(9 * minute, 9 * _H)
    assert changed_from_us(old, [_part(12 * minute, 11 * _H, (9 * _H, 10 * _H))], mmsis, job) == (
        _NEVER
    )
    moved = _part(9 * minute, 9 * _H, place=(3 << 39) | 1)
    spec = job.specs()[0]
    assert changed_from_us(old, [moved], mmsis, job) == spec.t0_us + spec.bin_us
