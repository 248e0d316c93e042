"""Vessel tracks for analysis: positions sorted by vessel and time, outliers dropped, speeds.

Pure functions on polars frames; every step works on all vessels at once.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from monitor.config import DetectSettings
from monitor.core.geo import METRES_PER_DEG, METRES_PER_NM

#: Receiver logging times jitter by up to about a minute; an interval shorter than this is
#: counted as this long when judging an implied speed, so jitter is not mistaken for an outlier.
_MIN_OUTLIER_DT_S = 60.0


def same_vessel(k: int) -> pl.Expr:
    return pl.col("mmsi").shift(k) == pl.col("mmsi")


def _neighbour(name: str, k: int) -> pl.Expr:
    """Return column ``name`` ``k`` rows away (negative: ahead) when it is the same vessel."""
    return pl.when(same_vessel(k)).then(pl.col(name).shift(k))


def _distance_m(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    """Equirectangular distance: exact enough for the few km between consecutive fixes."""
    dlon = ((lon2 - lon1 + 180.0) % 360.0) - 180.0
    coslat = ((lat1 + lat2) * (np.pi / 360.0)).cos()
    return ((dlon * coslat).pow(2) + (lat2 - lat1).pow(2)).sqrt() * METRES_PER_DEG


def _seconds(expr: pl.Expr) -> pl.Expr:
    return expr.dt.total_microseconds().cast(pl.Float64) / 1e6


def sort_by_vessel_and_time(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` sorted by mmsi, timestamp, lat, lon, whatever order it came in."""
    n = frame.height
    if n < 2:
        return frame
    # A filtered frame comes in many chunks, and a gather across chunks is several times slower.
    frame = frame.rechunk()
    micros = frame["timestamp_utc"].dt.epoch("us").to_numpy()
    seconds = micros // 1_000_000
    vessels = np.sort(frame["mmsi"].unique().to_numpy())
    offset = (seconds - seconds.min()).astype(np.uint64)
    row_bits = (n - 1).bit_length()
    time_bits = int(offset.max()).bit_length()
    vessel_bits = (len(vessels) - 1).bit_length()
    if row_bits + time_bits + vessel_bits > 64:
        return frame.sort("mmsi", "timestamp_utc", "lat", "lon")
    # Vessel rank, second and row number packed in one integer: sorting plain integers (SIMD in
    # numpy) is many times faster than an argsort or a multi-column sort, and the low bits of the
    # sorted keys are the permutation.
    rank = (
        frame["mmsi"]
        .replace_strict(vessels, np.arange(len(vessels)), return_dtype=pl.UInt64)
        .to_numpy()
    )
    key = (rank << np.uint64(time_bits + row_bits)) | (offset << np.uint64(row_bits))
    key |= np.arange(n, dtype=np.uint64)
    key.sort()
    order = (key & np.uint64((1 << row_bits) - 1)).astype(np.int64)
    group = key >> np.uint64(row_bits)
    same = group[1:] == group[:-1]
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():
        # Fixes of one vessel within one second: order them by exact time, then position, so
        # that the result does not depend on the order in which they were stored.
        slots = np.flatnonzero(tied)
        rows = order[slots]
        order[slots] = (
            frame[rows]
            .with_columns(__group=pl.Series(group[slots]), __row=pl.Series(rows))
            .sort("__group", "timestamp_utc", "lat", "lon")["__row"]
            .to_numpy()
        )
    # Gathering rows in a new order is memory-bound (a cache miss per row and column): rebuild
    # mmsi, and the times when they are whole seconds (AIS tag blocks and CSV exports), from the
    # sorted keys, and gather only the other columns.
    sorted_mmsi = vessels[(key >> np.uint64(time_bits + row_bits)).astype(np.int64)]
    rebuilt = [pl.Series("mmsi", sorted_mmsi, dtype=frame.schema["mmsi"])]
    time_dtype = frame.schema["timestamp_utc"]
    whole_seconds = (
        isinstance(time_dtype, pl.Datetime)
        and time_dtype.time_unit == "us"
        and frame["timestamp_utc"].null_count() == 0
        and not (micros % 1_000_000).any()
    )
    if whole_seconds:
        time_mask = np.uint64((1 << time_bits) - 1)
        sorted_s = ((key >> np.uint64(row_bits)) & time_mask).astype(np.int64) + seconds.min()
        stamps = pl.Series("timestamp_utc", sorted_s * 1_000_000, dtype=pl.Int64)
        rebuilt.append(stamps.cast(time_dtype))
    rest: pl.DataFrame = frame.drop(s.name for s in rebuilt)[order]
    return rest.with_columns(rebuilt).select(frame.columns)


def _outliers(frame: pl.DataFrame, max_speed_kn: float) -> np.ndarray:
    """Return, per row of a sorted frame, whether the fix is too far from both its neighbours."""
    n = frame.height
    if n < 3:
        return np.zeros(n, dtype=bool)
    lat = frame["lat"].to_numpy()
    lon = frame["lon"].to_numpy()
    mmsi = frame["mmsi"].to_numpy()
    t_s = frame["timestamp_utc"].dt.epoch("us").to_numpy() / 1e6
    dlat = np.diff(lat)
    step_lon = np.diff(lon)
    reach_deg = np.maximum(np.diff(t_s), _MIN_OUTLIER_DT_S) * (
        max_speed_kn * METRES_PER_NM / 3600.0 / METRES_PER_DEG
    )
    # Step i goes from row i to row i+1; comparing squares avoids a square root per step.
    reach2 = reach_deg * reach_deg
    # An upper bound of each step's length (cos(lat) <= 1, and wrapping the longitude difference
    # only shortens it, give or take rounding) clears almost every step without a cosine; the few
    # left are measured exactly.
    bound = np.abs(step_lon)
    bound += 1e-12
    bound *= bound
    bound += dlat * dlat
    maybe = np.flatnonzero(bound > reach2)
    fast = np.zeros(n - 1, dtype=bool)
    if maybe.size:
        dlon = (step_lon[maybe] + 180.0) % 360.0 - 180.0
        dlon *= np.cos(np.radians(lat[1:][maybe]))
        fast[maybe] = dlon * dlon + dlat[maybe] ** 2 > reach2[maybe]
    fast &= mmsi[1:] == mmsi[:-1]
    out = np.zeros(n, dtype=bool)
    out[1:-1] = fast[:-1] & fast[1:]
    return out


def prepare_positions(
    positions: pl.LazyFrame | pl.DataFrame, settings: DetectSettings
) -> tuple[pl.DataFrame, int]:
    """Return positions sorted by vessel and time with outliers dropped, and the outlier count.

    Columns: mmsi, timestamp_utc, lat, lon, speed_kn (SOG, or the speed implied by neighbouring
    fixes when SOG is missing).
    """
    frame = sort_by_vessel_and_time(
        positions.lazy()
        .select("mmsi", "timestamp_utc", "lat", "lon", "sog_kn")
        .filter(
            pl.col("lat").is_finite()
            & pl.col("lon").is_finite()
            & pl.col("mmsi").is_not_null()
            & pl.col("timestamp_utc").is_not_null()
        )
        .collect()
    )
    outliers = _outliers(frame, settings.max_speed_kn)
    kept = frame.filter(pl.Series(~outliers)) if outliers.any() else frame
    n_outliers = frame.height - kept.height
    if kept["sog_kn"].null_count() == 0:
        return kept.rename({"sog_kn": "speed_kn"}), n_outliers

    def far(name: str, sign: int) -> pl.Expr:
        # The farthest of up to 3 fixes on each side: noise of a few metres between close fixes
        # would otherwise read as speed when SOG is missing.
        return pl.coalesce(*(_neighbour(name, sign * k) for k in (3, 2, 1)), pl.col(name))

    back_t, ahead_t = far("timestamp_utc", 1), far("timestamp_utc", -1)
    implied = (
        _distance_m(far("lat", 1), far("lon", 1), far("lat", -1), far("lon", -1))
        / (_seconds(ahead_t - back_t)).replace(0.0, None)
        / METRES_PER_NM
        * 3600.0
    )
    kept = kept.with_columns(speed_kn=pl.coalesce(pl.col("sog_kn"), implied)).drop("sog_kn")
    return kept, n_outliers
