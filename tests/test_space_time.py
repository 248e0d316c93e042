"""Pairs of vessels found partition by partition of space and time: exactly the pairs of a
search over all samples at once, whichever block, window or antimeridian lies between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.geo import METRES_PER_DEG
from monitor.pipeline.space_time import (
    SpaceTimeGrid,
    all_close_pairs,
    partitions_of,
    split_partitions,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def samples_near_edges(seed: int, n: int = 600, spread_m: float = 1500.0) -> pl.DataFrame:
    """Return samples of 12 vessels crowded round block corners, the antimeridian, a high
    latitude and midnight, where partition edges cut through every meeting."""
    rng = np.random.default_rng(seed)
    spots = np.array([(0.0, 0.0), (180.0, 10.0), (-180.0, -5.0), (45.0, 80.0), (5.0, 60.0)])
    spot = spots[rng.integers(0, len(spots), n)]
    lat = spot[:, 1] + rng.normal(0, spread_m / METRES_PER_DEG, n)
    lon = spot[:, 0] + rng.normal(0, spread_m / METRES_PER_DEG, n) / np.cos(np.radians(lat))
    # Grid times 30 min apart, as resampled tracks have, round midnight.
    minutes = rng.integers(-3, 4, n) * 30
    return pl.DataFrame(
        {
            "mmsi": rng.integers(1, 13, n).astype(np.uint32),
            "timestamp_utc": [T0 + timedelta(minutes=int(m)) for m in minutes],
            "lat": np.clip(lat, -89.9, 89.9),
            "lon": (lon + 180.0) % 360.0 - 180.0,
        }
    )


def reference_pairs(samples: pl.DataFrame, grid: SpaceTimeGrid) -> pl.DataFrame:
    """Every pair of samples of two vessels within reach, by comparing every sample with every
    other (the plain search the partitions must reproduce)."""
    rows = samples.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    pairs = rows.join(rows, how="cross", suffix="_b").filter(pl.col("mmsi") < pl.col("mmsi_b"))
    dt_h = (pl.col("timestamp_utc_b") - pl.col("timestamp_utc")).dt.total_microseconds() / 3.6e9
    dlon = (pl.col("lon_b") - pl.col("lon") + 540.0) % 360.0 - 180.0
    x = dlon * ((pl.col("lat") + pl.col("lat_b")) / 2.0).radians().cos()
    metres = (x**2 + (pl.col("lat_b") - pl.col("lat")) ** 2).sqrt() * METRES_PER_DEG
    return (
        pairs.filter((dt_h.abs() <= grid.overlap_h) & (metres <= grid.reach_m))
        .select(row_a="row", row_b="row_b")
        .sort("row_a", "row_b")
    )


GRIDS = [
    SpaceTimeGrid(reach_m=500.0, overlap_h=0.0, block_deg=1.0, window_h=1.0),
    SpaceTimeGrid(reach_m=2000.0, overlap_h=0.5, block_deg=0.5, window_h=0.5),
    SpaceTimeGrid(reach_m=5000.0, overlap_h=2.0, block_deg=5.0, window_h=24.0),
]


@pytest.mark.parametrize("grid", GRIDS)
def test_partitioned_pairs_are_exactly_the_plain_pairs(grid: SpaceTimeGrid) -> None:
    samples = samples_near_edges(seed=3)
    expected = reference_pairs(samples, grid)
    found = all_close_pairs(samples, grid)
    assert expected.height > 50
    assert found.select("row_a", "row_b").equals(expected)
    # More than one partition took part, and pairs crossed their edges.
    assert len(split_partitions(samples, grid)) > 5


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    grid=st.builds(
        SpaceTimeGrid,
        reach_m=st.floats(100.0, 20_000.0),
        overlap_h=st.sampled_from([0.0, 0.25, 1.0]),
        block_deg=st.sampled_from([0.25, 0.5, 1.0, 3.0]),
        window_h=st.sampled_from([0.5, 1.0, 6.0]),
    ),
)
def test_any_grid_gives_the_plain_pairs(seed: int, grid: SpaceTimeGrid) -> None:
    samples = samples_near_edges(seed, n=200)
    assert (
        all_close_pairs(samples, grid)
        .select("row_a", "row_b")
        .equals(reference_pairs(samples, grid))
    )


def test_a_sample_is_home_in_one_partition_and_copied_only_near_edges() -> None:
    grid = SpaceTimeGrid(reach_m=1000.0, block_deg=1.0, window_h=6.0)
    samples = pl.DataFrame(
        {
            "lat": [0.5, 0.999, 10.5],
            "lon": [0.5, 179.999, -179.9999],
            "timestamp_utc": [T0 + timedelta(hours=3)] * 3,
        }
    )
    copies = partitions_of(samples, grid)
    assert copies.filter("home")["row"].sort().to_list() == [0, 1, 2]
    per_row = copies.group_by("row").len().sort("row")["len"].to_list()
    # Mid-block: one partition. Near a corner at the antimeridian: four. Near the antimeridian
    # only: two, one of them across it.
    assert per_row == [1, 4, 2]


def test_grids_that_cannot_tile_the_sphere_are_refused() -> None:
    with pytest.raises(ValueError, match="block_deg must divide 180"):
        SpaceTimeGrid(reach_m=500.0, block_deg=7.0)
