"""Partitions of space and time for analyses of pairs of vessels, exact across their edges.

Per-vessel analyses split by vessel (:mod:`monitor.pipeline.buckets`); a meeting of two vessels
does not, since the two may be in any two buckets. Pairs are found instead in blocks of
``block_deg`` of latitude and longitude and windows of ``window_h`` hours. Every sample belongs
to the block and window it lies in (its *home*), and is also copied into each neighbouring block
within ``reach_m`` of it and each window within ``overlap_h`` of it (the *halo*). Then:

* every pair of samples of two vessels within ``reach_m`` and ``overlap_h`` of each other is in
  at least one partition together: the home partition of either holds a copy of the other;
* a partition keeps a pair only when it is the home of the pair's first sample (the one of the
  lower vessel key), so each pair is found exactly once, whichever edges lie between the two.

Longitude wraps round at the antimeridian; the halo of a sample widens with its latitude (a
degree of longitude shrinks), up to every block of the band near a pole. What is made of the
pairs afterwards (runs of a pair over time, merged meetings) depends on the pairs only, so it is
the same as over all samples at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from monitor.core.geo import METRES_PER_DEG

_US_PER_H = 3_600_000_000


@dataclass(frozen=True)
class SpaceTimeGrid:
    """Blocks of space and windows of time, and how far pairs reach across their edges."""

    #: Pairs of samples up to this far apart must meet in a partition.
    reach_m: float
    #: Pairs up to this far apart in time must meet in a partition (0: same time only).
    overlap_h: float = 0.0
    #: Side of a block, in degrees; divides 180.
    block_deg: float = 5.0
    #: Length of a window of time.
    window_h: float = 24.0

    def __post_init__(self) -> None:
        if self.block_deg <= 0 or not math.isclose(
            180 / self.block_deg, round(180 / self.block_deg)
        ):
            raise ValueError(f"block_deg must divide 180, got {self.block_deg}")
        if self.window_h <= 0 or self.reach_m < 0 or self.overlap_h < 0:
            raise ValueError("window_h must be > 0, reach_m and overlap_h >= 0")

    @property
    def n_cols(self) -> int:
        return round(360 / self.block_deg)

    @property
    def n_rows(self) -> int:
        return round(180 / self.block_deg)


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, for every integer of each range ``lo[i]..hi[i]``, ``i`` and the integer."""
    counts = hi - lo + 1
    parent = np.repeat(np.arange(lo.size), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return parent, lo[parent] + (np.arange(parent.size) - starts)


def partitions_of(samples: pl.DataFrame, grid: SpaceTimeGrid) -> pl.DataFrame:
    """Return, for each sample of ``samples`` (lat, lon, timestamp_utc) and each partition it
    belongs to, a row: ``row`` (the sample's index), ``partition`` (an int64 code) and ``home``
    (true in the partition the sample lies in, false in its halo)."""
    lat = samples["lat"].to_numpy().astype(np.float64)
    lon = (samples["lon"].to_numpy().astype(np.float64) + 180.0) % 360.0 - 180.0
    t_us = samples["timestamp_utc"].dt.epoch("us").to_numpy().astype(np.int64)
    deg = grid.block_deg
    reach_lat = grid.reach_m / METRES_PER_DEG
    # A degree of longitude is shortest at the highest latitude the halo reaches.
    cos = np.cos(np.radians(np.minimum(np.abs(lat) + reach_lat, 90.0)))
    reach_lon = np.where(cos * 180.0 > reach_lat, reach_lat / np.maximum(cos, 1e-12), 180.0)
    window_us = int(grid.window_h * _US_PER_H)
    overlap_us = int(grid.overlap_h * _US_PER_H)

    def block(v: np.ndarray, origin: float) -> np.ndarray:
        return np.floor((v - origin) / deg).astype(np.int64)

    home_row = np.clip(block(lat, -90.0), 0, grid.n_rows - 1)
    home_col = block(lon, -180.0) % grid.n_cols
    home_win = t_us // window_us
    rows_lo = np.clip(block(lat - reach_lat, -90.0), 0, grid.n_rows - 1)
    rows_hi = np.clip(block(lat + reach_lat, -90.0), 0, grid.n_rows - 1)
    cols_lo = block(lon - reach_lon, -180.0)
    # Never round the whole band twice.
    cols_hi = np.minimum(block(lon + reach_lon, -180.0), cols_lo + grid.n_cols - 1)
    wins_lo = (t_us - overlap_us) // window_us
    wins_hi = (t_us + overlap_us) // window_us

    sample, row = _expand(rows_lo, rows_hi)
    parent, col = _expand(cols_lo[sample], cols_hi[sample])
    sample, row, col = sample[parent], row[parent], col % grid.n_cols
    parent, win = _expand(wins_lo[sample], wins_hi[sample])
    sample, row, col = sample[parent], row[parent], col[parent]
    home = (row == home_row[sample]) & (col == home_col[sample]) & (win == home_win[sample])
    return pl.DataFrame(
        {
            "row": sample.astype(np.int64),
            "partition": (win * grid.n_rows + row) * grid.n_cols + col,
            "home": home,
        }
    )


def split_partitions(samples: pl.DataFrame, grid: SpaceTimeGrid) -> list[pl.DataFrame]:
    """Return the samples of each partition (with their ``row`` in ``samples`` and ``home``),
    the partitions in code order."""
    copies = partitions_of(samples, grid)
    rows = samples.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    joined = copies.join(rows, on="row").sort("partition", "row")
    return joined.partition_by("partition", maintain_order=True)


def _metres(a: str, b: str) -> pl.Expr:
    """Return the distance between the ``lat``/``lon`` columns suffixed ``a`` and ``b``
    (equirectangular at their mean latitude: exact enough within a few kilometres)."""
    dlon = (pl.col(f"lon{b}") - pl.col(f"lon{a}") + 540.0) % 360.0 - 180.0
    x = dlon * ((pl.col(f"lat{a}") + pl.col(f"lat{b}")) / 2.0).radians().cos()
    y = pl.col(f"lat{b}") - pl.col(f"lat{a}")
    return (x * x + y * y).sqrt() * METRES_PER_DEG


def close_pairs(part: pl.DataFrame, grid: SpaceTimeGrid, key: str = "mmsi") -> pl.DataFrame:
    """Return the pairs of samples of one partition (from :func:`split_partitions`) of two
    vessels within ``grid.reach_m`` and ``grid.overlap_h`` of each other that this partition
    owns: row_a (the sample of the lower ``key``), row_b, distance_m. Over all partitions,
    every such pair of the whole input comes out exactly once."""
    columns = ["row", "home", key, "timestamp_utc", "lat", "lon"]
    window = pl.duration(microseconds=int(grid.overlap_h * _US_PER_H))
    left = (
        part.select(columns)
        .filter("home")
        .with_columns(_from=pl.col("timestamp_utc") - window, _to=pl.col("timestamp_utc") + window)
    )
    right = part.select(columns).rename(lambda c: f"{c}_b")
    pairs = left.join_where(
        right,
        pl.col(key) < pl.col(f"{key}_b"),
        pl.col("_from") <= pl.col("timestamp_utc_b"),
        pl.col("_to") >= pl.col("timestamp_utc_b"),
    )
    return (
        pairs.with_columns(distance_m=_metres("", "_b"))
        .filter(pl.col("distance_m") <= grid.reach_m)
        .select(row_a="row", row_b="row_b", distance_m="distance_m")
    )


def all_close_pairs(samples: pl.DataFrame, grid: SpaceTimeGrid, key: str = "mmsi") -> pl.DataFrame:
    """Return every pair of samples of two vessels within reach of each other (row_a, row_b,
    distance_m), found partition by partition."""
    found = [close_pairs(part, grid, key) for part in split_partitions(samples, grid)]
    schema = {"row_a": pl.Int64(), "row_b": pl.Int64(), "distance_m": pl.Float64()}
    return pl.concat([pl.DataFrame(schema=schema), *found]).sort("row_a", "row_b")
