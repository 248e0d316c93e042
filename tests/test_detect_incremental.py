"""Incremental detection from restart points: any split of the feed, late rows, compactions and
retention give exactly the calls of one run over everything, while a cycle re-reads only the new
positions and the current stay of the vessels that have some."""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracks_portcalls import (
    ANCHOR,
    BERTH,
    IN_P,
    IN_Q,
    SEA_EAST,
    SEA_WEST,
    T0,
    Track,
    positions,
    statics,
    zones_geojson,
)

from monitor.config import GeofenceSettings, Settings, StoreSettings
from monitor.pipeline.detect import DetectSummary, detect_calls
from monitor.store.calls import PENDING, RAW_CALLS, TRANSITS, load_calls
from monitor.store.parquet import Store


def _tracks() -> list[Track]:
    """Vessels that exercise every rule a restart point depends on."""
    shuttle = Track(273_000_001).fix(*SEA_WEST, 10)
    for _ in range(3):  # port P and port Q in turn, with long legs at sea between
        shuttle.sail(BERTH, 2).stay(BERTH, 4).sail(SEA_EAST, 3).sail(IN_Q, 3).stay(IN_Q, 3)
        shuttle.sail(SEA_EAST, 3).sail(SEA_WEST, 4)
    no_sog = Track(412_000_002).fix(*SEA_EAST, None)
    for _ in range(2):  # speeds implied by neighbouring fixes only
        no_sog.sail(IN_P, 3, sog=None).stay(IN_P, 3, sog=None).sail(SEA_EAST, 5, sog=None)
    jumpy = Track(538_000_003).fix(*SEA_WEST, 10).sail(SEA_EAST, 3)
    jumpy.fix(5.0, 5.0, 10).fix(SEA_EAST[0], SEA_EAST[1], 10)  # a GPS jump: an outlier
    jumpy.sail(IN_P, 2).fix(IN_P[0], IN_P[1] + 3, 0.0).stay(IN_P, 4).sail(SEA_WEST, 6)
    slow = Track(636_000_004).fix(*SEA_WEST, 0.3)
    slow.sail(SEA_EAST, 8, sog=0.35).sail(IN_P, 2, sog=0.35).stay(IN_P, 2).sail(SEA_WEST, 6)
    anchor = Track(352_000_005).fix(*SEA_EAST, 10)
    for _ in range(2):  # anchorage, then the berth: one call; then a new one much later
        anchor.sail(ANCHOR, 2).stay(ANCHOR, 3).sail(BERTH, 1).stay(BERTH, 2).sail(SEA_EAST, 6)
    dark = Track(445_000_006).fix(*SEA_WEST, 10).sail(IN_Q, 6).stay(IN_Q, 2).silence(7)
    dark.stay(IN_Q, 2).sail(SEA_EAST, 5).silence(10).sail(IN_P, 3).stay(IN_P, 5)
    return [shuttle, no_sog, jumpy, slow, anchor, dark]


FEED = positions(*_tracks()).sort("timestamp_utc")
IDENTITY = statics(
    [
        {"mmsi": m, "timestamp_utc": T0 + timedelta(hours=h), "vessel_name": f"V{m}-{h}"}
        for m in (273_000_001, 412_000_002, 445_000_006)
        for h in (0, 20, 45)
    ]
)


def _settings(root: Path) -> Settings:
    geo = root / "zones.geojson"
    geo.write_text(json.dumps(zones_geojson()), encoding="utf-8")
    return Settings(
        store=StoreSettings(path=root / "store"), geofences=GeofenceSettings(files=[geo])
    )


def _tables(root: Path) -> dict[str, pl.DataFrame]:
    store = root / "store"
    frames = {
        "calls": load_calls(store),
        "raw": RAW_CALLS.read(store),
        "transits": TRANSITS.read(store),
        "pending": PENDING.read(store),
    }
    return {k: v.sort(v.columns) for k, v in frames.items()}


def _run(
    parts: list[pl.DataFrame], statics_at: dict[int, pl.DataFrame]
) -> tuple[dict[str, pl.DataFrame], list[DetectSummary]]:
    root = Path(tempfile.mkdtemp(prefix="incremental-"))
    try:
        config = _settings(root)
        store = Store(config.store.path)
        summaries = []
        for i, part in enumerate(parts):
            with store.writer():
                store.add_positions(part, 60.0)
                if i in statics_at:
                    store.add_statics(statics_at[i], 60.0)
            summaries.append(detect_calls(config))
        return _tables(root), summaries
    finally:
        shutil.rmtree(root)


ALL_AT_ONCE, _ = _run([FEED], {0: IDENTITY})


def _split(cuts: list[int], late: list[int]) -> list[pl.DataFrame]:
    held = FEED.with_row_index("i").filter(pl.col("i").is_in(late)).drop("i")
    on_time = FEED.with_row_index("i").filter(~pl.col("i").is_in(late)).drop("i")
    bounds = [0, *sorted(c for c in cuts if c < on_time.height), on_time.height]
    parts = [on_time.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    parts[-1] = pl.concat([parts[-1], held])
    return parts


def test_the_feed_has_calls_transits_and_restart_points() -> None:
    assert ALL_AT_ONCE["calls"].height >= 12
    assert ALL_AT_ONCE["calls"]["mmsi"].n_unique() == 6


def test_cycles_re_read_only_new_positions_and_current_stays() -> None:
    step = FEED.height // 40
    parts = [FEED.slice(i, step) for i in range(0, FEED.height, step)]
    tables, summaries = _run(parts, {0: IDENTITY.head(3), 20: IDENTITY.slice(3)})
    for name, frame in ALL_AT_ONCE.items():
        assert tables[name].equals(frame), name
    later = summaries[5:]
    assert sum(s.vessels_from_restart for s in later) > 2 * len(later)
    # Late in the feed a cycle reads a small part of what the vessels with new data hold.
    assert max(s.positions_processed for s in summaries[-10:]) < FEED.height / 4


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(1, FEED.height - 1), min_size=1, max_size=12, unique=True),
    late=st.lists(st.integers(0, FEED.height - 1), max_size=8, unique=True),
    statics_part=st.integers(0, 12),
)
def test_any_split_with_late_rows_equals_one_run(
    cuts: list[int], late: list[int], statics_part: int
) -> None:
    parts = _split(cuts, late)
    tables, _ = _run(parts, {min(statics_part, len(parts) - 1): IDENTITY})
    for name, frame in ALL_AT_ONCE.items():
        assert tables[name].equals(frame), name


def test_retention_dropping_old_positions_recounts_and_stays_consistent(tmp_path: Path) -> None:
    config = _settings(tmp_path)
    store = Store(config.store.path)
    with store.writer():
        store.add_positions(FEED, 60.0)
    detect_calls(config)
    with store.writer():
        store.drop_positions_before((T0 + timedelta(days=1)).date())
    summary = detect_calls(config)
    assert not summary.full_run and summary.vessels_from_restart == 0
    expected = tmp_path / "expected"
    expected.mkdir()
    one = _settings(expected)
    with Store(one.store.path).writer():
        Store(one.store.path).add_positions(store.scan_positions().collect(), 60.0)
    detect_calls(one)
    assert load_calls(config.store.path).equals(load_calls(one.store.path))


#: Places a random track moves between: open sea, a port, its berth and anchorage, just outside
#: the port's exit buffer, inside the buffer, and a second port.
PLACES = [SEA_WEST, SEA_EAST, IN_P, BERTH, ANCHOR, IN_Q, (-0.02, 0.05), (-0.005, 0.05)]
SPEEDS = [None, 0.0, 0.3, 0.45, 3.0, 10.0]


@st.composite
def random_track(draw: st.DrawFn, mmsi: int) -> Track:
    track = Track(mmsi).fix(*draw(st.sampled_from(PLACES)), draw(st.sampled_from(SPEEDS)))
    for _ in range(draw(st.integers(3, 9))):
        leg = draw(st.sampled_from(["sail", "stay", "jump", "silence"]))
        every = draw(st.sampled_from([5, 10, 20]))
        hours = draw(st.sampled_from([0.5, 1.0, 2.0, 3.5]))
        if leg == "sail":
            track.sail(draw(st.sampled_from(PLACES)), hours, draw(st.sampled_from(SPEEDS)), every)
        elif leg == "stay":
            track.stay(draw(st.sampled_from(PLACES)), hours, draw(st.sampled_from(SPEEDS)), every)
        elif leg == "jump" and track.here is not None:
            # One bad fix far away, then back where it was: an outlier.
            track.fix(track.here[0] + 3.0, track.here[1], 10.0, every).fix(*track.here, 10.0)
        else:
            track.silence(draw(st.sampled_from([1.0, 5.0])))
    return track


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tracks=st.lists(st.integers(0, 3), min_size=2, max_size=3).flatmap(
        lambda ids: st.tuples(
            *(random_track(200_000_000 + i * 1000 + n) for n, i in enumerate(ids))
        )
    ),
    cut_fractions=st.lists(st.floats(0.05, 0.95), min_size=1, max_size=8),
    late_fraction=st.floats(0.0, 0.05),
)
def test_random_tracks_any_split_equals_one_run(
    tracks: tuple[Track, ...], cut_fractions: list[float], late_fraction: float
) -> None:
    feed = positions(*tracks).sort("timestamp_utc")
    expected, _ = _run([feed], {})
    n = feed.height
    cuts = sorted({max(1, min(n - 1, int(f * n))) for f in cut_fractions})
    late = list(range(0, n, max(1, int(1 / late_fraction)))) if late_fraction > 0.005 else []
    held = feed.with_row_index("i").filter(pl.col("i").is_in(late)).drop("i")
    on_time = feed.with_row_index("i").filter(~pl.col("i").is_in(late)).drop("i")
    bounds = [0, *(c for c in cuts if c < on_time.height), on_time.height]
    parts = [on_time.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    parts[-1] = pl.concat([parts[-1], held])
    got, _ = _run(parts, {})
    for name, frame in expected.items():
        assert got[name].equals(frame), name


def _two_parts_equal_one(track: Track, first_rows: int) -> None:
    feed = positions(track)
    expected, _ = _run([feed], {})
    got, summaries = _run([feed.head(first_rows), feed.slice(first_rows)], {})
    assert summaries[1].vessels_from_restart == 1  # the case under test: a restart was used
    for name, frame in expected.items():
        assert got[name].equals(frame), name


def test_a_restart_point_needs_a_speed_that_settles_the_stop_state() -> None:
    # Stopped at sea, then drifting into port at 0.3 kn (between the stop and move speeds): the
    # vessel counts as stopped all along, so its call has a stop. A fix of the drift is no
    # restart point: it would forget that the vessel was stopped.
    drift = Track(211_000_001).stay((-0.05, 0.05), 2).sail(IN_P, 20, sog=0.3)
    drift.stay(IN_P, 2, sog=0.3)
    _two_parts_equal_one(drift, 12 + 40)


def test_a_restart_re_reads_the_fixes_before_it_that_its_implied_speed_needs() -> None:
    # Without SOG, speeds come from the fixes around: the last fix at rest reads 0.15 kn with
    # three fixes on each side (stopped), 0.3 kn from the fixes after it alone (not stopped).
    drift = Track(211_000_002).stay((-0.05, 0.05), 2, sog=None)
    drift.sail(IN_P, 20, sog=None).sail((0.08, 0.05), 5, sog=None)
    _two_parts_equal_one(drift, 12 + 6)


def test_late_positions_restart_from_an_earlier_point_not_the_whole_history() -> None:
    voyage = Track(273_000_009).fix(*SEA_WEST, 10)
    for _ in range(3):
        voyage.sail(BERTH, 2).stay(BERTH, 4).sail(SEA_EAST, 3).sail(SEA_WEST, 5)
    feed = positions(voyage)
    cut = feed.height - 20
    # Three fixes from about two hours before the cut arrive with the last part.
    late = feed.slice(cut - 12, 3)
    first = pl.concat([feed.head(cut - 12), feed.slice(cut - 9, 9)])
    last = pl.concat([feed.slice(cut), late])
    expected, _ = _run([feed], {})
    got, summaries = _run([first, last], {})
    assert summaries[1].vessels_from_restart == 1
    assert summaries[1].positions_processed < feed.height / 3
    for name, frame in expected.items():
        assert got[name].equals(frame), name
