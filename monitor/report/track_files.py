"""Vessel tracks as files: positions as CSV or Parquet, tracks as GeoJSON LineStrings or KML.

For ``monitor export positions``: one vessel's track or a period's tracks. A track is one vessel's
positions in time order; GeoJSON and KML draw one line per vessel (a vessel with a single
position gets a Point), with its name, MMSI, first and last time and number of positions, and
GeoJSON lists each point's time in ``times`` (ISO 8601 UTC), as tracks exported by GPS tools do.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Literal, get_args

import polars as pl

from monitor.core.atomic import atomic_write_text
from monitor.core.safe_csv import csv_text
from monitor.core.times import ISO_UTC_FORMAT
from monitor.errors import ConfigError
from monitor.store.table import atomic_write_parquet

TrackFormat = Literal["csv", "parquet", "geojson", "kml"]
TRACK_FORMATS: tuple[TrackFormat, ...] = get_args(TrackFormat)
_KML_NS = "http://www.opengis.net/kml/2.2"


def _tracks(positions: pl.DataFrame) -> pl.DataFrame:
    """Return one row per vessel: name, times, coordinates, in time order."""
    name = (
        pl.col("vessel_name").drop_nulls().last()
        if "vessel_name" in positions.columns
        else pl.lit(None, pl.String)
    )
    return (
        positions.sort("mmsi", "timestamp_utc")
        .group_by("mmsi", maintain_order=True)
        .agg(
            vessel_name=name,
            times=pl.col("timestamp_utc").dt.strftime(ISO_UTC_FORMAT),
            lon=pl.col("lon").round(6),
            lat=pl.col("lat").round(6),
        )
    )


def tracks_geojson(positions: pl.DataFrame) -> str:
    """Return a FeatureCollection with one LineString (a Point for one position) per vessel."""
    features = []
    for row in _tracks(positions).iter_rows(named=True):
        coords = [[x, y] for x, y in zip(row["lon"], row["lat"], strict=True)]
        geometry: dict[str, Any] = (
            {"type": "LineString", "coordinates": coords}
            if len(coords) > 1
            else {"type": "Point", "coordinates": coords[0]}
        )
        features.append(
            {
                "type": "Feature",
                "id": str(row["mmsi"]),
                "geometry": geometry,
                "properties": {
                    "mmsi": row["mmsi"],
                    "vessel_name": row["vessel_name"],
                    "first_utc": row["times"][0],
                    "last_utc": row["times"][-1],
                    "n_positions": len(coords),
                    "times": row["times"],
                },
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    node = ET.SubElement(parent, f"{{{_KML_NS}}}{tag}")
    if text is not None:
        # XML 1.0 forbids most control characters; decoded AIS text can carry them.
        node.text = "".join(c if c.isprintable() or c in "\t\n" else "\ufffd" for c in text)
    return node


def tracks_kml(positions: pl.DataFrame, title: str = "Vessel tracks") -> str:
    """Return a KML document with one Placemark per vessel: a LineString and its TimeSpan.

    ElementTree escapes the text; the name is the vessel's (AIS text from strangers).
    """
    ET.register_namespace("", _KML_NS)
    root = ET.Element(f"{{{_KML_NS}}}kml")
    doc = _sub(root, "Document")
    _sub(doc, "name", title)
    for row in _tracks(positions).iter_rows(named=True):
        placemark = _sub(doc, "Placemark")
        placemark.set("id", f"mmsi-{row['mmsi']}")
        _sub(placemark, "name", (row["vessel_name"] or "").strip() or f"MMSI {row['mmsi']}")
        _sub(
            placemark,
            "description",
            f"MMSI {row['mmsi']}, {len(row['times'])} positions, "
            f"{row['times'][0]} to {row['times'][-1]}",
        )
        span = _sub(placemark, "TimeSpan")
        _sub(span, "begin", row["times"][0])
        _sub(span, "end", row["times"][-1])
        coords = " ".join(f"{x},{y},0" for x, y in zip(row["lon"], row["lat"], strict=True))
        shape = _sub(placemark, "LineString" if len(row["times"]) > 1 else "Point")
        _sub(shape, "coordinates", coords)
    ET.indent(root)
    body: str = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def export_tracks(
    positions: pl.DataFrame, fmt: TrackFormat, output: Path | None = None
) -> str | None:
    """Write ``positions`` to ``output`` in ``fmt``; return the text instead without ``output``.

    CSV and Parquet keep one row per position with every column given; GeoJSON and KML one
    track per vessel. Files are written atomically; Parquet needs ``output``.
    """
    if fmt not in TRACK_FORMATS:
        raise ConfigError(f"format {fmt!r}: use one of {', '.join(TRACK_FORMATS)}")
    positions = positions.sort("timestamp_utc", "mmsi")
    if fmt == "parquet":
        if output is None:
            raise ConfigError("--format parquet needs --output FILE (Parquet is not text)")
        atomic_write_parquet(positions, output)
        return None
    if fmt == "csv":
        text = csv_text(positions, datetime_format=ISO_UTC_FORMAT)
    elif fmt == "geojson":
        text = tracks_geojson(positions)
    else:
        text = tracks_kml(positions)
    if output is None:
        return text
    atomic_write_text(output, text)
    return None
