"""The reception grid asks about other tracks' reception from their first and last times and
their long intervals only: the same answers as from every position."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from monitor.analyse.cells import col_of, pack, row_of
from monitor.analyse.reception import (
    ALONG_MAX_BINS,
    ONWARD,
    QUIET_MIN_US,
    STRAIGHT,
    along_bins,
    along_touched,
)
from monitor.analyse.reception_rows import (
    GridSpec,
    heard_cells,
    merged_grid,
    reception_grid,
    track_times,
)

MIN_US = 60_000_000


def _times(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    """Return sorted times with intervals from seconds to hours, some exactly 30 minutes and
    some repeated."""
    steps = rng.choice(
        [0, 10 * 1_000_000, 3 * MIN_US, QUIET_MIN_US, 45 * MIN_US, 3 * 60 * MIN_US], size=n
    )
    return np.cumsum(steps).astype(np.int64) + int(rng.integers(0, 120)) * MIN_US


def _heard_nowhere(times: npt.NDArray[np.int64], a: int, z: int) -> bool:
    j = int(np.searchsorted(times, a, side="right"))
    return j >= times.size or times[j] > z


def _covered(times: npt.NDArray[np.int64], a: int, z: int, regular: int) -> int:
    j = max(int(np.searchsorted(times, a, side="right")) - 1, 0)
    covered = 0
    while j + 1 < times.size and times[j] < z:
        if times[j + 1] - times[j] < regular:
            covered += max(min(int(times[j + 1]), z) - max(int(times[j]), a), 0)
        j += 1
    return covered


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_long_intervals_answer_as_every_position(seed: int) -> None:
    """Twelve tracks lying at one spot: each is near every other, so each query asks about all
    the others. Who fell silent with a track, and how regularly the others were heard over a
    span, come out as from every position of theirs."""
    rng = np.random.default_rng(seed)
    per_track = [_times(rng, int(rng.integers(2, 80))) for _ in range(12)]
    track = np.concatenate([np.full(t.size, k) for k, t in enumerate(per_track)]).astype(np.int64)
    t_us = np.concatenate(per_track)
    lat = np.full(t_us.size, 10.0)
    lon = np.full(t_us.size, 20.0)
    grid = reception_grid(
        track, t_us, lat, lon, bin_s=600.0, cell_km=25.0, max_interval_us=6 * 60 * MIN_US
    )
    usual = grid.track_usual_us
    asked = {"quiet": 0, "irregular": 0}
    for own, times in enumerate(per_track):
        at = times[rng.integers(0, times.size, 6)]
        own_arr = np.full(at.size, own, dtype=np.int64)
        lats, lons = np.full(at.size, 10.0), np.full(at.size, 20.0)
        for before in (True, False):
            heard = grid.near_tracks(
                own_arr, at, lats, lons, lookback_us=30 * MIN_US, before=before
            )
            near = heard[0]
            quiet = grid.silent_among(
                heard, at, quiet_us=(10 * MIN_US, QUIET_MIN_US), before=before
            )
            span = (at + 10 * MIN_US, at + int(rng.integers(0, 400)) * MIN_US)
            kept = grid.kept_among(heard, span, min_regular_us=QUIET_MIN_US)
            heard_by = np.split(heard[1], np.cumsum(near)[:-1])
            for g, when in enumerate(at.tolist()):
                at_bin = (when - grid.t0_us) // grid.bin_us
                lookback = range(at_bin - 3, at_bin + 1) if before else range(at_bin, at_bin + 4)
                others = [
                    k
                    for k, ts in enumerate(per_track)
                    if k != own and np.isin((ts - grid.t0_us) // grid.bin_us, lookback).any()
                ]
                assert near[g] == len(others)
                assert sorted(heard_by[g].tolist()) == others
                expected_quiet = 0
                for k in others:
                    length = max(QUIET_MIN_US, 3 * int(usual[k]))
                    a, z = (when + 10 * MIN_US, when + 10 * MIN_US + length)
                    if not before:
                        a, z = when - 10 * MIN_US - length, when - 10 * MIN_US
                    expected_quiet += _heard_nowhere(per_track[k], a, z)
                assert quiet[g] == expected_quiet
                asked["quiet"] += expected_quiet
                a, z = int(span[0][g]), int(span[1][g])
                if z <= a:
                    assert kept[g] == 0
                    continue
                covered = sum(
                    _covered(per_track[k], a, z, max(QUIET_MIN_US, 3 * int(usual[k])))
                    for k in others
                )
                assert kept[g] == covered / (z - a)
                asked["irregular"] += covered < len(others) * (z - a)
    # Both answers were asked where they are not trivial.
    assert asked["quiet"] > 5 and asked["irregular"] > 5


@pytest.mark.parametrize("days", [2, 10, 90])
def test_a_long_silence_is_read_on_bins_spread_over_it(days: int) -> None:
    """A vessel lies silent for ``days`` where a neighbour is heard every ten minutes for the
    first 40% of the silence. A silence of up to ALONG_MAX_BINS bins is read bin by bin; a longer
    one on at most that many, spread evenly: the share heard and the longest quiet run stay what
    every bin gives, within the bins one read bin stands for."""
    bin_us = 10 * MIN_US
    span_us = days * 24 * 60 * MIN_US
    heard_until = int(0.4 * span_us)
    neighbour = np.arange(0, heard_until, bin_us, dtype=np.int64)
    track = np.concatenate([[0, 0], np.ones(neighbour.size)]).astype(np.int64)
    t_us = np.concatenate([[0, span_us], neighbour]).astype(np.int64)
    lat, lon = np.full(t_us.size, 10.0), np.full(t_us.size, 20.0)
    grid = reception_grid(track, t_us, lat, lon, bin_s=600.0, cell_km=25.0, max_interval_us=span_us)
    n_bins, n_heard, longest, _ = grid.quiet_along(
        np.array([0]), np.array([0]), np.array([span_us]),
        np.array([[10.0, 20.0, 10.0, 20.0]]), np.zeros((1, 4)), np.array([STRAIGHT]),
    )  # fmt: skip
    inside = span_us // bin_us - 1
    heard = neighbour.size - 1  # bins 1.. of the neighbour's, inside the silence
    step = -(-inside // ALONG_MAX_BINS)
    assert n_bins[0] == -(-inside // step) <= ALONG_MAX_BINS
    if inside <= ALONG_MAX_BINS:
        assert (n_heard[0], longest[0]) == (heard, inside - heard)
    assert abs(n_heard[0] / n_bins[0] - heard / inside) <= step / n_bins[0]
    assert abs(longest[0] - (inside - heard)) <= step


@pytest.mark.parametrize("days", [2, 5, 40])
def test_a_silence_still_open_is_read_on_every_bin_and_read_on_as_the_data_goes_on(
    days: int,
) -> None:
    """A vessel falls silent where a neighbour is heard every ten minutes for its first day,
    and is still silent ``days`` later. Its silence is read on every bin, however long; read
    up to an earlier end of the data, then read on from there, it reads the same."""
    bin_us = 10 * MIN_US
    day_us = 24 * 60 * MIN_US
    neighbour = np.arange(0, day_us, bin_us, dtype=np.int64)
    track = np.concatenate([[0], np.ones(neighbour.size)]).astype(np.int64)
    t_us = np.concatenate([[0], neighbour]).astype(np.int64)
    lat, lon = np.full(t_us.size, 10.0), np.full(t_us.size, 20.0)
    grid = reception_grid(track, t_us, lat, lon, bin_s=600.0, cell_km=25.0, max_interval_us=day_us)
    place = np.array([[10.0, 20.0, 10.0, 20.0]]), np.zeros((1, 4)), np.array([ONWARD])
    own, start = np.array([0]), np.array([0])
    at_once = grid.quiet_along(own, start, np.array([days * day_us]), *place)
    inside = days * day_us // bin_us - 1
    heard = neighbour.size - 1
    assert [a[0] for a in at_once] == [inside, heard, inside - heard, inside - heard]
    for earlier_us in (day_us // 2, day_us + 7 * bin_us):
        before = grid.quiet_along(own, start, np.array([earlier_us]), *place)
        read_to = earlier_us // bin_us - 1
        since = (np.array([read_to + 1]), *before)
        on = grid.quiet_along(own, start, np.array([days * day_us]), *place, since=since)
        assert [a[0] for a in on] == [a[0] for a in at_once]


def test_who_heard_a_vessel_last_does_not_depend_on_the_order_of_the_rows() -> None:
    """A vessel heard by two receiver stations in its last bin falls silent; station 1 goes on
    hearing the 40 vessels around it, station 2 hears nobody. Which station decides depends on
    the order of the vessel's own rows in that bin and cell only, never on the order the
    tracks' rows come in (one run over all positions, or parts of a cycle)."""
    minute = MIN_US
    spec = GridSpec.of(bin_s=600.0, cell_km=25.0, t0_us=0)
    tracks, times, stations = [0, 0], [351 * minute, 353 * minute], [1, 2]
    for other in range(1, 41):
        for b in range(36):
            tracks += [other, other]
            times += [b * 10 * minute + minute, b * 10 * minute + 2 * minute]
            stations += [1, 2]
        for b in range(36, 48):
            tracks.append(other)
            times.append(b * 10 * minute + minute)
            stations.append(1)
    track, t_us = np.array(tracks), np.array(times)
    lat, lon = np.full(track.size, 10.0), np.full(track.size, 20.0)
    rows = heard_cells(spec, track, t_us, lat, lon, station=np.array(stations))
    found = []
    for order in (rows, rows.sort("track", descending=True, maintain_order=True)):
        heard = {c: order[c].to_numpy() for c in order.columns}
        grid = merged_grid(spec, heard, *track_times(track, t_us, 6 * 60 * minute))
        status, decider = grid.stations_stopped(
            np.array([0]), np.array([353 * minute]), np.array([10.0]), np.array([20.0]),
            lookback_us=60 * minute, before=True,
            during=(np.array([363 * minute]), np.array([480 * minute])),
            activity_us=6 * 60 * minute, chance=0.05,
        )  # fmt: skip
        found.append((int(status[0]), int(decider[0])))
    assert found[0] == found[1]


def test_a_reading_is_touched_by_a_change_where_and_when_it_asks_only() -> None:
    """A vessel lies silent at 10 N 20 E for ten days (read on every other bin). A change of the
    grid in a bin it reads, in a cell next to it, touches its reading; one in a bin it skips,
    in a cell two cells away or before the bins it was read to does not."""
    day_us = 24 * 60 * MIN_US
    t_us = np.array([0, 10 * day_us])
    grid = reception_grid(
        np.array([0, 0]), t_us, np.full(2, 10.0), np.full(2, 20.0), bin_s=600.0, cell_km=25.0,
        max_interval_us=day_us,
    )  # fmt: skip
    place = np.array([[10.0, 20.0, 10.0, 20.0]]), np.zeros((1, 4)), np.array([STRAIGHT])
    start, end = np.array([0]), np.array([10 * day_us])
    bins = along_bins(grid.t0_us, grid.bin_us, start, end, place[2])
    assert bins[2][0] == 4  # ten days read on every fourth bin
    first = int(bins[0][0])
    row = row_of(10.0, grid.cell_deg)
    col = col_of(20.0, row, grid.cell_deg)

    def touched(b: int, d_col: int, read_to: int | None = None) -> bool:
        code = pack(b, row, col + d_col)
        last = bins[1] if read_to is None else np.array([read_to])
        return bool(
            along_touched(np.array([code]), grid, start, end, *place, (bins[0], last, bins[2]))[0]
        )

    assert touched(first + 40, 1)
    assert not touched(first + 41, 1)  # a bin not read
    assert not touched(first + 40, 3)  # too far
    assert not touched(first + 40, 0, read_to=first + 39)  # after what was read
