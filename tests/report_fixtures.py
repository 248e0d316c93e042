"""Small report inputs built in code: two ports, four vessels with hostile names, three calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from shapely.geometry import Polygon, box

from monitor.analyse.geofences import Zone
from monitor.report import ReportInputs
from monitor.schema import CALLS_SCHEMA, POSITIONS_SCHEMA, STATICS_SCHEMA

SINCE = datetime(2024, 5, 3, 0, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=1)

IMG_NAME = "<img src=x onerror=alert(1)>"
SCRIPT_NAME = "</script><script>alert(2)</script>"
QUOTE_NAME = 'O\'Brien & "Sons" ${alert(3)} `x`'
NAMES = {211000001: IMG_NAME, 211000002: SCRIPT_NAME, 211000003: QUOTE_NAME, 211000004: None}


def zones() -> list[Zone]:
    """Return a port with an anchorage, and a second port."""
    return [
        Zone("NAMPO", "Nampo", "port", "NAMPO", "KP", box(125.30, 38.70, 125.40, 38.76)),
        Zone(
            "NAMPO-A",
            "Nampo <b>anchorage</b>",
            "anchorage",
            "NAMPO",
            "KP",
            Polygon([(125.20, 38.65), (125.28, 38.65), (125.28, 38.70), (125.20, 38.70)]),
        ),
        Zone("SONGNIM", "Songnim", "port", "SONGNIM", "KP", box(125.60, 38.74, 125.66, 38.78)),
    ]


def positions(points_per_vessel: int = 200) -> pl.DataFrame:
    """Return POSITIONS_SCHEMA rows for four vessels over the day; vessel 2 is silent 6 h."""
    frames = []
    rng = np.random.default_rng(7)
    for k, mmsi in enumerate(NAMES):
        times = [SINCE + timedelta(minutes=7 * i) for i in range(points_per_vessel)]
        if mmsi == 211000002:
            times = [t if i < 60 else t + timedelta(hours=6) for i, t in enumerate(times)]
        lat = 38.60 + 0.0006 * np.arange(points_per_vessel) + 0.01 * k
        lon = (
            125.10
            + 0.0015 * np.arange(points_per_vessel)
            + rng.normal(0, 0.0003, points_per_vessel)
        )
        sog = np.where(np.arange(points_per_vessel) % 50 < 10, 0.0, 9.0)
        frames.append(
            pl.DataFrame(
                {
                    "mmsi": [mmsi] * points_per_vessel,
                    "timestamp_utc": times,
                    "lat": lat,
                    "lon": lon,
                    "sog_kn": sog,
                },
            )
        )
    frame = pl.concat(frames)
    return frame.with_columns(
        [pl.lit(None).alias(c) for c in POSITIONS_SCHEMA if c not in frame.columns]
    ).select([pl.col(c).cast(t) for c, t in POSITIONS_SCHEMA.items()])


def statics() -> pl.DataFrame:
    """Return one static report per vessel with its (hostile) name and ship type."""
    rows = [
        {"mmsi": m, "timestamp_utc": SINCE - timedelta(hours=1), "vessel_name": n, "ship_type": t}
        for (m, n), t in zip(NAMES.items(), (70, 80, 30, None), strict=True)
    ]
    frame = pl.DataFrame(rows)
    return frame.with_columns(
        [pl.lit(None).alias(c) for c in STATICS_SCHEMA if c not in frame.columns]
    ).select([pl.col(c).cast(t) for c, t in STATICS_SCHEMA.items()])


def call(**values: Any) -> dict[str, Any]:
    """Return a CALLS_SCHEMA row with defaults for what ``values`` leaves out."""
    row: dict[str, Any] = dict.fromkeys(CALLS_SCHEMA)
    row.update(
        status="departed",
        confidence=3,
        arrival_observed=True,
        departure_observed=True,
        stopped=True,
        n_positions=10,
    )
    row.update(values)
    return row


def calls() -> pl.DataFrame:
    """Return three calls in the period (one still in port) and one long before it."""
    rows = [
        call(
            call_id="c1", mmsi=211000001, imo=9123456, vessel_name=IMG_NAME, ship_type="Cargo",
            flag="KP", port_id="NAMPO", port_name="Nampo",
            arrival_utc=SINCE + timedelta(hours=2), departure_utc=SINCE + timedelta(hours=9),
            duration_h=7.0, arrival_draught_m=6.0, departure_draught_m=8.5,
            prev_port_id="SONGNIM", prev_departure_utc=SINCE - timedelta(days=2),
        ),
        call(
            call_id="c2", mmsi=211000002, vessel_name=SCRIPT_NAME, ship_type="Tanker",
            flag="PA", port_id="NAMPO", port_name="Nampo", status="in_port",
            arrival_utc=SINCE + timedelta(hours=12), departure_utc=None, duration_h=12.0,
            last_seen_utc=SINCE + timedelta(hours=24), confidence=2, arrival_observed=False,
        ),
        call(
            call_id="c3", mmsi=211000003, vessel_name=QUOTE_NAME, ship_type="Fishing",
            flag="CN", port_id="SONGNIM", port_name="Songnim",
            arrival_utc=SINCE + timedelta(hours=3), departure_utc=SINCE + timedelta(hours=20),
            duration_h=17.0, confidence=4,
        ),
        call(
            call_id="old", mmsi=211000004, port_id="SONGNIM", port_name="Songnim",
            arrival_utc=SINCE - timedelta(days=9), departure_utc=SINCE - timedelta(days=8),
            duration_h=24.0,
        ),
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=CALLS_SCHEMA)


def inputs(**overrides: Any) -> ReportInputs:
    """Return ReportInputs over the fixture day (offline, no tiles)."""
    values: dict[str, Any] = {
        "calls": calls(),
        "positions": positions(),
        "statics": statics(),
        "zones": zones(),
        "since": SINCE,
        "until": UNTIL,
        "title": "Test <watch> & co",
        "offline": True,
        "written": UNTIL,
    }
    values.update(overrides)
    return ReportInputs(**values)
