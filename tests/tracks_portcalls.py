"""Small synthetic tracks and zones for the port-call tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from shapely.geometry import box

from monitor.analyse.geofences import Zone
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA
from monitor.store.table import atomic_write_parquet

T0 = datetime(2024, 3, 1, tzinfo=UTC)

#: Port P (about 11 x 11 km) with a berth inside it and an anchorage just east of it; port Q far
#: to the east; an "area" zone that is not a port.
ZONES = [
    Zone("P", "Port P", "port", "P", "KP", box(0.0, 0.0, 0.1, 0.1)),
    Zone("P-berth", "Berth 1", "berth", "P", "KP", box(0.02, 0.02, 0.03, 0.03)),
    Zone("P-anch", "Outer anchorage", "anchorage", "P", "KP", box(0.12, 0.0, 0.17, 0.05)),
    Zone("Q", "Port Q", "port", "Q", "RU", box(1.0, 0.0, 1.1, 0.1)),
    Zone("W", "Watch area", "area", "W", None, box(2.0, 0.0, 2.5, 0.5)),
]
IN_P = (0.05, 0.05)
BERTH = (0.025, 0.025)
ANCHOR = (0.15, 0.02)
IN_Q = (1.05, 0.05)
SEA_WEST = (-0.3, 0.05)
SEA_EAST = (0.6, 0.05)


class Track:
    """One vessel's positions, built step by step in message time."""

    def __init__(self, mmsi: int, start: datetime = T0) -> None:
        self.mmsi = mmsi
        self.t = start
        self.rows: list[dict[str, object]] = []
        self.here: tuple[float, float] | None = None

    def fix(
        self,
        lon: float,
        lat: float,
        sog: float | None,
        minutes: float = 10,
        status: int | None = None,
    ) -> Track:
        """Add one position now (``status``: its navigational status), then advance the clock."""
        self.rows.append(
            {
                "mmsi": self.mmsi,
                "timestamp_utc": self.t,
                "lon": lon,
                "lat": lat,
                "sog_kn": sog,
                "nav_status": status,
            }
        )
        self.here = (lon, lat)
        self.t += timedelta(minutes=minutes)
        return self

    def stay(
        self, at: tuple[float, float], hours: float, sog: float | None = 0.0, every_min: float = 10
    ) -> Track:
        for _ in range(round(hours * 60 / every_min)):
            self.fix(at[0], at[1], sog, every_min)
        return self

    def sail(
        self, to: tuple[float, float], hours: float, sog: float | None = 10.0, every_min: float = 10
    ) -> Track:
        start = self.here or to
        steps = max(1, round(hours * 60 / every_min))
        for i in range(1, steps + 1):
            f = i / steps
            lon = start[0] + (to[0] - start[0]) * f
            lat = start[1] + (to[1] - start[1]) * f
            self.fix(lon, lat, sog, every_min)
        return self

    def silence(self, hours: float) -> Track:
        self.t += timedelta(hours=hours)
        return self


def positions(*tracks: Track) -> pl.DataFrame:
    """Return the tracks' positions as a POSITIONS_SCHEMA frame."""
    rows = [row for track in tracks for row in track.rows]
    frame = pl.DataFrame(
        rows,
        schema={
            "mmsi": pl.UInt32(),
            "timestamp_utc": pl.Datetime("us", "UTC"),
            "lat": pl.Float64(),
            "lon": pl.Float64(),
            "sog_kn": pl.Float64(),
            "nav_status": pl.UInt8(),
        },
    )
    return frame.with_columns(
        pl.lit(None, dtype).alias(name)
        for name, dtype in POSITIONS_SCHEMA.items()
        if name not in frame.columns
    ).select(list(POSITIONS_SCHEMA))


def statics(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Return static reports (any subset of STATICS_SCHEMA columns) as a full frame."""
    frame = pl.DataFrame(rows, schema={k: STATICS_SCHEMA[k] for k in rows[0]})
    return frame.with_columns(
        pl.lit(None, dtype).alias(name)
        for name, dtype in STATICS_SCHEMA.items()
        if name not in frame.columns
    ).select(list(STATICS_SCHEMA))


def write_store(
    root: Path | str,
    positions_frame: pl.DataFrame,
    part: str,
    statics_frame: pl.DataFrame | None = None,
) -> None:
    """Write one more positions file (and statics file) into a store laid out as Store reads it."""
    root = Path(root)
    if positions_frame.height:
        atomic_write_parquet(
            positions_frame, root / "positions" / "date=2024-03-01" / f"{part}.parquet"
        )
    if statics_frame is not None and statics_frame.height:
        atomic_write_parquet(statics_frame, root / "statics" / f"{part}.parquet")
