"""Builders for the event tests: a quiet stretch of sea with vessels heard around it."""

from __future__ import annotations

import polars as pl
from tracks_portcalls import Track, positions

from monitor.analyse.positions import sort_by_vessel_and_time

#: Open sea, about 55 km east of port P and 55 km west of port Q (tracks_portcalls.ZONES).
SEA = (0.55, 0.3)


def tracks_frame(*tracks: Track) -> pl.DataFrame:
    """Return the tracks' positions sorted by vessel and time, with speed_kn (the SOG)."""
    frame = sort_by_vessel_and_time(positions(*tracks))
    return frame.with_columns(speed_kn=pl.col("sog_kn"))


def near(point: tuple[float, float], dlon: float, dlat: float = 0.0) -> tuple[float, float]:
    """Return ``point`` moved by ``dlon``, ``dlat`` degrees."""
    return (point[0] + dlon, point[1] + dlat)


def bystanders(
    hours: float, at: tuple[float, float] = SEA, first_mmsi: int = 500_000_001
) -> list[Track]:
    """Return three vessels lying within 10 km of ``at``, heard every 10 minutes for ``hours``."""
    return [
        Track(first_mmsi + k).stay(near(at, 0.03 * (k + 1), 0.02), hours, sog=0.1) for k in range(3)
    ]
