"""Track thinning: a week of positions down to a few hundred points per vessel, turns kept."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import shapely

from monitor.core.geo import METRES_PER_DEG
from monitor.schema import MAP_TRACK_SCHEMA

#: Douglas-Peucker tolerance of the first pass, in metres across the track.
BASE_TOLERANCE_M = 50.0
#: A vessel still over its point cap is simplified again with a doubled tolerance, at most this
#: many times, before the last resort of keeping every n-th point.
MAX_COARSENING_STEPS = 6


def _segments(positions: pl.DataFrame, max_gap_h: float, move_speed_kn: float) -> pl.DataFrame:
    """Return positions sorted per track (``_unit``, numbered from 0) with a global ``_seg`` id
    that breaks at silences."""
    gap = pl.duration(microseconds=int(max_gap_h * 3_600_000_000))
    if "track" not in positions.columns:
        positions = positions.with_columns(track=pl.lit(0, dtype=pl.UInt32))
    frame = (
        positions.filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
        .sort("mmsi", "track", "timestamp_utc")
        .with_columns(
            _first=(
                (pl.col("mmsi") != pl.col("mmsi").shift(1))
                | (pl.col("track") != pl.col("track").shift(1))
            ).fill_null(True),
            _stopped=(pl.col("sog_kn") < move_speed_kn).fill_null(False),
        )
        .with_columns(
            _new=pl.col("_first") | (pl.col("timestamp_utc").diff() > gap).fill_null(True),
            _unit=pl.col("_first").cum_sum().cast(pl.Int64) - 1,
        )
        .with_columns(_seg=pl.col("_new").cum_sum().cast(pl.Int64) - 1)
    )
    seg = pl.col("_seg")
    stopped = pl.col("_stopped")
    # Where a vessel stops or gets moving again is kept on both sides, so the playback shows how
    # long it stayed: Douglas-Peucker alone collapses a ten-hour stop into one vertex.
    return frame.with_columns(
        _edge=(seg != seg.shift(1)).fill_null(True) | (seg != seg.shift(-1)).fill_null(True),
        _turning=((stopped != stopped.shift(1)) | (stopped != stopped.shift(-1))).fill_null(False),
    )


def _douglas_peucker(
    x: np.ndarray, y: np.ndarray, seg: np.ndarray, rows: np.ndarray, tolerance_m: float
) -> np.ndarray:
    """Return the row numbers kept when each segment's line is simplified with ``tolerance_m``."""
    if rows.size == 0:
        return rows
    sizes = np.bincount(seg[rows])
    long_enough = sizes[seg[rows]] >= 2
    rows = rows[long_enough]
    if rows.size == 0:
        return rows
    coords = np.column_stack([x[rows], y[rows], rows.astype(np.float64)])
    _, indices = np.unique(seg[rows], return_inverse=True)
    lines = shapely.linestrings(coords, indices=indices)
    simplified = shapely.simplify(lines, tolerance_m, preserve_topology=False)
    kept: np.ndarray = shapely.get_coordinates(simplified, include_z=True)[:, 2]
    return kept.astype(np.int64)


def thin_tracks(
    positions: pl.DataFrame,
    *,
    max_gap_h: float,
    max_points_per_vessel: int,
    move_speed_kn: float = 0.5,
) -> pl.DataFrame:
    """Return MAP_TRACK_SCHEMA rows: at most ``max_points_per_vessel`` per track, turns kept.

    ``positions`` needs mmsi, timestamp_utc, lat, lon, sog_kn, and may have ``track`` (the tracks
    of one MMSI, as :func:`monitor.analyse.tracks.segment` numbers them, are drawn apart; 0
    without). ``segment`` counts from 0 per track and increases after every silence longer than
    ``max_gap_h``; the first and last point of each segment and the points where a vessel stops
    or moves off are always kept.
    """
    if positions.is_empty():
        return pl.DataFrame(schema=MAP_TRACK_SCHEMA)
    frame = _segments(positions, max_gap_h, move_speed_kn)
    lat = frame["lat"].to_numpy()
    lon = frame["lon"].to_numpy()
    lat0 = math.radians(float(np.nanmean(lat)))
    # Local metres: good to a fraction of a percent over the few hundred km a report covers.
    x = lon * METRES_PER_DEG * math.cos(lat0)
    y = lat * METRES_PER_DEG
    seg = frame["_seg"].to_numpy()
    unit = frame["_unit"].to_numpy()
    must = frame["_edge"].to_numpy()
    turning = frame["_turning"].to_numpy()

    keep = np.zeros(len(frame), dtype=bool)
    keep[_douglas_peucker(x, y, seg, np.arange(len(frame)), BASE_TOLERANCE_M)] = True
    keep |= must | turning

    for step in range(1, MAX_COARSENING_STEPS + 2):
        kept_unit, counts = np.unique(unit[keep], return_counts=True)
        over = kept_unit[counts > max_points_per_vessel]
        if over.size == 0:
            break
        rows = np.flatnonzero(np.isin(unit, over))
        keep[rows] = False
        if step <= MAX_COARSENING_STEPS:
            tolerance = BASE_TOLERANCE_M * 2.0**step
            keep[_douglas_peucker(x, y, seg, rows, tolerance)] = True
            keep[rows] |= must[rows]
        else:
            # Last resort, also when a vessel has more segments than the cap allows.
            keep[rows] = _stride(unit[rows], max_points_per_vessel)

    kept = frame.filter(pl.Series(keep))
    return kept.select(
        "mmsi",
        pl.col("track").cast(pl.UInt32),
        segment=(pl.col("_seg") - pl.col("_seg").min().over("_unit")).cast(pl.UInt32),
        timestamp_utc="timestamp_utc",
        lat="lat",
        lon="lon",
    )


def _stride(unit: np.ndarray, cap: int) -> np.ndarray:
    """Return a mask keeping at most ``cap`` evenly spaced rows per track (``unit`` sorted)."""
    frame = pl.DataFrame({"unit": unit}).with_columns(
        n=pl.len().over("unit"), rank=pl.int_range(pl.len()).over("unit")
    )
    frame = frame.with_columns(step=(pl.col("n") / max(cap - 2, 1)).ceil().cast(pl.Int64).clip(1))
    mask = (pl.col("rank") % pl.col("step") == 0) | (pl.col("rank") == pl.col("n") - 1)
    result: np.ndarray = frame.select(mask).to_series().to_numpy()
    return result
