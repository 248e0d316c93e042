"""Loitering: one vessel slow for hours outside port zones (the RFMO carrier definition: under
2 kn for at least 4 h).

Per track, a run of consecutive positions whose speed (the median of each position and its two
neighbours on either side, so that one noisy report does not split a run) is under
``loitering.max_speed_kn``, outside every port, berth and anchorage zone, without a silence
longer than ``max_gap_h`` inside it, is one loitering when it lasts ``min_duration_h`` or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from monitor.analyse.geofences import Zone, zones_for_points
from monitor.schema import LOITERING_SCHEMA, UTC_US, conform

if TYPE_CHECKING:
    from monitor.config import LoiteringSettings

_US_PER_H = 3_600_000_000
#: Positions each side whose speeds the median takes with a position's own.
SMOOTH = 2
#: The positions of runs of slow positions (:func:`loitering_points`).
POINTS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "track_id": pl.String(),
    "run_utc": UTC_US,
    "timestamp_utc": UTC_US,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "speed_kn": pl.Float64(),
    "settled_utc": UTC_US,
    "lead_utc": UTC_US,
}


def loitering(
    tracks: pl.DataFrame,
    zones: Sequence[Zone],
    settings: LoiteringSettings,
    *,
    key: str = "mmsi",
    settled: bool = False,
) -> pl.DataFrame:
    """Return the loitering of the tracks of ``tracks`` (columns ``key``, mmsi, timestamp_utc,
    lat, lon, speed_kn; sorted by ``key`` and time), :data:`LOITERING_SCHEMA`; with
    ``settled``, and ``settled_utc``: the time of the last position its end depends on (the
    :data:`SMOOTH` + 1th after it; null while its track has fewer), after which later
    positions change nothing of it; and ``lead_utc``: the time of the first position its start
    depends on (the :data:`SMOOTH` + 1th before it; null where its track has fewer)."""
    return summarised(loitering_points(tracks, zones, settings, key=key), settings, settled=settled)


def loitering_points(
    tracks: pl.DataFrame, zones: Sequence[Zone], settings: LoiteringSettings, *, key: str = "mmsi"
) -> pl.DataFrame:
    """Return the positions of ``tracks`` (as :func:`loitering` takes them) in runs of slow
    positions (:data:`POINTS_SCHEMA`), whether long enough to be loitering or not; a run is
    named by its track and its first time (``run_utc``)."""
    frame = tracks.select(
        pl.col(key).alias("key"), "mmsi", "timestamp_utc", "lat", "lon", "speed_kn"
    ).with_columns(
        smooth_kn=pl.col("speed_kn")
        .rolling_median(2 * SMOOTH + 1, min_samples=1, center=True)
        .over("key"),
        settled_utc=pl.col("timestamp_utc").shift(-(SMOOTH + 1)).over("key"),
        lead_utc=pl.col("timestamp_utc").shift(SMOOTH + 1).over("key"),
    )
    slow = (pl.col("smooth_kn") < settings.max_speed_kn).fill_null(False)
    frame = frame.with_columns(slow=slow)
    ports = [zone for zone in zones if zone.kind != "area"]
    if ports and frame.height:
        candidates = frame.filter("slow")
        inside = (
            zones_for_points(
                ports,
                candidates["lon"].to_numpy(),
                candidates["lat"].to_numpy(),
                buffer_m=settings.port_exclusion_m,
            )
            >= 0
        )
        frame = _mark_slow(frame, pl.Series(inside))
    gap_us = int(settings.max_gap_h * _US_PER_H)
    runs = frame.with_columns(
        run=(
            (pl.col("key") != pl.col("key").shift())
            | (pl.col("slow") != pl.col("slow").shift())
            | (
                (pl.col("timestamp_utc") - pl.col("timestamp_utc").shift()).dt.total_microseconds()
                > gap_us
            )
        )
        .fill_null(True)
        .cum_sum()
    ).filter("slow")
    points = runs.with_columns(
        track_id=pl.col("key").cast(pl.String) if key != "mmsi" else pl.lit(None, pl.String),
        run_utc=pl.col("timestamp_utc").first().over("run"),
    )
    return conform(points, POINTS_SCHEMA)


def summarised(
    points: pl.DataFrame, settings: LoiteringSettings, *, settled: bool = False
) -> pl.DataFrame:
    """Return the loitering (as :func:`loitering`) of the runs of ``points``
    (:data:`POINTS_SCHEMA`, each run's in time order): those long enough."""
    found = (
        points.group_by("mmsi", "track_id", "run_utc", maintain_order=True)
        .agg(
            start_utc=pl.col("timestamp_utc").first(),
            end_utc=pl.col("timestamp_utc").last(),
            lat=pl.col("lat").median(),
            lon=pl.col("lon").median(),
            median_speed_kn=pl.col("speed_kn").median(),
            n_positions=pl.len().cast(pl.UInt32),
            settled_utc=pl.col("settled_utc").last(),
            lead_utc=pl.col("lead_utc").first(),
        )
        .with_columns(
            # Times the reciprocal, as polars divides a column of more than one row by a
            # number: the same hours for a track alone as among others.
            duration_h=(pl.col("end_utc") - pl.col("start_utc")).dt.total_microseconds()
            * (1.0 / _US_PER_H),
        )
        .filter(pl.col("duration_h") >= settings.min_duration_h)
    )
    times = {name: found.schema[name] for name in ("settled_utc", "lead_utc")}
    schema = LOITERING_SCHEMA | (times if settled else {})
    return conform(found, schema).sort("start_utc", "mmsi")


def _mark_slow(frame: pl.DataFrame, in_port: pl.Series) -> pl.DataFrame:
    """Return ``frame`` with ``slow`` false where its slow positions (in order) are in port."""
    slow_rows = frame.with_row_index("row").filter("slow")["row"]
    blocked = slow_rows.filter(in_port)
    return frame.with_columns(
        slow=pl.col("slow") & ~pl.int_range(pl.len()).is_in(blocked.implode())
    )
