"""Small port configs and NMEA parsing functions for the simulator and demo tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from pyais import decode

#: Two Korean and two Russian ports as circles, with anchorages for two of them.
CIRCLES_TOML = """
name = "sim-test"
[[geofences.circles]]
id = "nampo"
name = "Nampo"
lat = 38.72
lon = 125.35
radius_m = 5000
country = "KP"
[[geofences.circles]]
id = "nampo_anchorage"
name = "Nampo anchorage"
kind = "anchorage"
port = "nampo"
lat = 38.69
lon = 125.18
radius_m = 3000
country = "KP"
[[geofences.circles]]
id = "rajin"
name = "Rajin"
lat = 42.24
lon = 130.30
radius_m = 4000
country = "KP"
[[geofences.circles]]
id = "rajin_anchorage"
name = "Rajin anchorage"
kind = "anchorage"
port = "rajin"
lat = 42.18
lon = 130.38
radius_m = 2500
country = "KP"
[[geofences.circles]]
id = "vostochny"
name = "Vostochny"
lat = 42.74
lon = 133.05
radius_m = 5000
country = "RU"
[[geofences.circles]]
id = "vladivostok"
name = "Vladivostok"
lat = 43.09
lon = 131.90
radius_m = 5000
country = "RU"
"""


def write_config(folder: Path) -> Path:
    """Return the path of a config with the test ports, written into ``folder``."""
    path = folder / "ports.toml"
    path.write_text(CIRCLES_TOML, encoding="utf-8")
    return path


def nmea_checksum(text: str) -> int:
    """Return the XOR checksum of ``text``."""
    value = 0
    for char in text.encode("ascii"):
        value ^= char
    return value


def split_line(line: str) -> tuple[str, str]:
    """Return (tag block content with checksum, sentence) of a tag-blocked line."""
    assert line.startswith("\\")
    end = line.index("\\", 1)
    return line[1:end], line[end + 1 :]


def decode_positions(paths: list[Path]) -> pl.DataFrame:
    """Return the single-part position reports of intact lines as first heard (not the copies
    of second receivers, ``rx2`` or ``<receiver>-2``) as (mmsi, t_s, lat, lon, ...)."""
    rows = []
    for path in paths:
        for line in path.read_text(encoding="ascii").splitlines():
            if line.count("\\") < 2:
                continue  # truncated on purpose
            tag, sentence = split_line(line)
            station = tag.split(",")[0]
            if station in ("s:rx2",) or station.endswith("-2"):
                continue
            if not sentence.startswith("!AIVDM,1,1"):
                continue
            try:
                msg: Any = decode(sentence)
            except Exception:
                continue  # damaged on purpose
            if msg.msg_type not in (1, 2, 3, 18):
                continue
            t_s = int(tag.split("c:")[1].split("*")[0])
            rows.append(
                (msg.mmsi, t_s, msg.lat, msg.lon, msg.speed, int(getattr(msg, "status", 15) or 0))
            )
    return pl.DataFrame(
        rows,
        schema={
            "mmsi": pl.Int64,
            "t_s": pl.Int64,
            "lat": pl.Float64,
            "lon": pl.Float64,
            "sog_kn": pl.Float64,
            "status": pl.Int64,
        },
        orient="row",
    )
