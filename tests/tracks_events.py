"""Builders for the event tests: a quiet stretch of sea with vessels heard around it."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from tracks_portcalls import T0, Track, positions

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


#: On the edge of two 5-degree blocks (longitude 5) and of two half-degree ones.
MEET = (5.0, 0.5)
MEETING_A, MEETING_B = 310_000_001, 412_000_002


def meeting_across_edges() -> list[Track]:
    """Return two vessels lying 111 m apart across longitude 5 from 22:00 to 09:00 next day,
    the second silent for seven hours of it, vessels heard around them, and one loitering."""
    start = T0 + timedelta(hours=18)
    a = Track(MEETING_A, start).fix(*near(MEET, -0.3), 10).sail(near(MEET, -0.0005), 4)
    a.stay(near(MEET, -0.0005), 11, sog=0.3).sail(near(MEET, 0.3), 2)
    b = Track(MEETING_B, start).fix(*near(MEET, 0.3, 0.001), 10).sail(near(MEET, 0.0005, 0.0005), 4)
    b.stay(near(MEET, 0.0005, 0.0005), 2, sog=0.2).silence(7)
    b.stay(near(MEET, 0.0005, 0.0005), 2, sog=0.2).sail(near(MEET, -0.3), 2)
    others = bystanders(40, at=near(MEET, -0.1), first_mmsi=500_000_001)
    loiterer = Track(600_000_009, start).stay(near(MEET, 0.4, 0.2), 6, sog=0.5)
    return [a, b, loiterer, *others]
