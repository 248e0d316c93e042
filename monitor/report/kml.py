"""The calls of a report as CSV, GeoJSON and KML files beside its HTML."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime

import polars as pl

from monitor.core.safe_text import csv_text
from monitor.report import fmt
from monitor.schema import CALLS_SCHEMA

KML_NS = "http://www.opengis.net/kml/2.2"
# XML 1.0 forbids most control characters; AIS names decoded from 6-bit text can carry them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def export_columns(calls: pl.DataFrame) -> pl.DataFrame:
    """Return the calls with CALLS_SCHEMA columns, marker lat/lon and in_port_at_end."""
    extra = [c for c in ("lat", "lon", "in_port_at_end") if c in calls.columns]
    return calls.select([*CALLS_SCHEMA, *extra])


def calls_csv(calls: pl.DataFrame) -> str:
    """Return the calls as CSV text (ISO 8601 UTC times)."""
    return csv_text(export_columns(calls))


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def calls_geojson(calls: pl.DataFrame) -> str:
    """Return the calls as a GeoJSON FeatureCollection of points (null geometry if unplaced)."""
    features = []
    for row in export_columns(calls).iter_rows(named=True):
        lat, lon = row.pop("lat", None), row.pop("lon", None)
        geometry = (
            {"type": "Point", "coordinates": [lon, lat]}
            if lat is not None and lon is not None
            else None
        )
        features.append(
            {
                "type": "Feature",
                "id": row["call_id"],
                "geometry": geometry,
                "properties": {k: _jsonable(v) for k, v in row.items()},
            }
        )
    return json.dumps(
        {"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1
    )


def _clean(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    node = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
    if text is not None:
        node.text = _clean(text)
    return node


def calls_kml(calls: pl.DataFrame, names: Mapping[str, str], title: str) -> str:
    """Return the calls as a KML document, one Placemark per placed call.

    ElementTree escapes XML. Google Earth shows ``description`` as HTML, so that field is
    HTML-escaped before it is XML-escaped: a ship name shows as the text it is.
    """
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = _sub(root, "Document")
    _sub(doc, "name", title)
    for key, colour in (("inport", "ff3939e5"), ("call", "ffc06515")):
        style = _sub(doc, "Style")
        style.set("id", key)
        icon_style = _sub(style, "IconStyle")
        _sub(icon_style, "color", colour)
        _sub(icon_style, "scale", "1.1")
    for row in calls.iter_rows(named=True):
        if row.get("lat") is None or row.get("lon") is None:
            continue
        placemark = _sub(doc, "Placemark")
        placemark.set("id", _clean(str(row["call_id"])))
        _sub(placemark, "name", fmt.vessel_title(row))
        lines = [f"{label}: {value}" for label, value in fmt.call_fields(row, names)]
        _sub(placemark, "description", "<br/>".join(html.escape(line) for line in lines))
        _sub(placemark, "styleUrl", "#inport" if row.get("in_port_at_end") else "#call")
        span = _sub(placemark, "TimeSpan")
        _sub(span, "begin", _stamp(row["arrival_utc"]))
        if row.get("departure_utc") is not None:
            _sub(span, "end", _stamp(row["departure_utc"]))
        extended = _sub(placemark, "ExtendedData")
        for key in ("mmsi", "imo", "port_id", "confidence", "status"):
            data = _sub(extended, "Data")
            data.set("name", key)
            _sub(data, "value", "" if row.get(key) is None else str(row[key]))
        point = _sub(placemark, "Point")
        _sub(point, "coordinates", f"{row['lon']:.6f},{row['lat']:.6f},0")
    ET.indent(root)
    body: str = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
