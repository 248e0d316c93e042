"""Port calls, events, dark periods and encounters as files: CSV, GeoJSON, KML and Parquet,
for ``monitor export`` and reports.

The one writer of calls: a report's ``calls.csv``, ``calls.geojson`` and ``calls.kml`` and the
command's output come from the same functions. Times in CSV and GeoJSON are ISO 8601 UTC
(:data:`~monitor.core.times.ISO_UTC_FORMAT`), nulls are empty cells or JSON nulls. AIS text
comes from strangers: CSV quotes it and neutralises cells a spreadsheet would run as formulas,
ElementTree escapes it in KML, and the KML description, which Google Earth shows as HTML, is
HTML-escaped first.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal, cast, get_args

import polars as pl

from monitor.core.atomic import atomic_write_text
from monitor.core.safe_csv import csv_text
from monitor.core.times import ISO_UTC_FORMAT, iso_utc
from monitor.errors import ConfigError
from monitor.report.data import port_names
from monitor.report.fmt import call_fields, vessel_title
from monitor.schema import (
    CALLS_SCHEMA,
    ENCOUNTERS_SCHEMA,
    EVENTS_SCHEMA,
    GAPS_SCHEMA,
    conform,
)
from monitor.store.table import atomic_write_parquet

ExportFormat = Literal["csv", "parquet", "geojson", "kml"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)
TextFormat = Literal["csv", "geojson", "kml"]
EventFormat = Literal["csv", "parquet", "geojson"]
EVENT_FORMATS: tuple[EventFormat, ...] = get_args(EventFormat)

KML_NS = "http://www.opengis.net/kml/2.2"
# XML 1.0 forbids most control characters; AIS names decoded from 6-bit text can carry them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: The columns that place a call on a map: a GeoJSON or KML point, not a property.
_POSITION = ("lat", "lon")


def calls_csv(calls: pl.DataFrame, schema: dict[str, pl.DataType] = CALLS_SCHEMA) -> str:
    """Return the calls as CSV text: the columns of ``schema`` in its order, ISO 8601 UTC times,
    safe to open in a spreadsheet (text cells that would run as formulas start with ``'``)."""
    return csv_text(calls.select(list(schema)), datetime_format=ISO_UTC_FORMAT)


def _jsonable(value: object) -> object:
    return iso_utc(value) if isinstance(value, datetime) else value


def _points_geojson(frame: pl.DataFrame, properties: list[str], id_column: str | None) -> str:
    """Return rows as a GeoJSON FeatureCollection of points at ``lat``/``lon`` (null geometry
    without them, as RFC 7946 allows), with ``properties`` and ``id_column`` as the id."""
    lat = frame["lat"].to_list() if "lat" in frame.columns else [None] * frame.height
    lon = frame["lon"].to_list() if "lon" in frame.columns else [None] * frame.height
    geometries = [
        None if y is None or x is None else {"type": "Point", "coordinates": [x, y]}
        for y, x in zip(lat, lon, strict=True)
    ]
    return _geojson(frame, properties, id_column, geometries)


def _geojson(
    frame: pl.DataFrame,
    properties: list[str],
    id_column: str | None,
    geometries: Sequence[Mapping[str, object] | None],
) -> str:
    """Return rows as a GeoJSON FeatureCollection of ``geometries`` with ``properties``."""
    features = [
        {
            "type": "Feature",
            **({"id": row[id_column]} if id_column is not None else {}),
            "geometry": geometry,
            "properties": {name: _jsonable(value) for name, value in row.items()},
        }
        for row, geometry in zip(
            frame.select(properties).iter_rows(named=True), geometries, strict=True
        )
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def calls_geojson(calls: pl.DataFrame, schema: dict[str, pl.DataType] = CALLS_SCHEMA) -> str:
    """Return the calls as a GeoJSON FeatureCollection of points at each call's mean position.

    Properties are the columns of ``schema`` but ``lat``/``lon``; a call without a position (no
    valid fix) gets a null geometry, as RFC 7946 allows.
    """
    properties = [name for name in schema if name not in _POSITION]
    return _points_geojson(calls, properties, "call_id")


def _clean(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    node = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
    if text is not None:
        node.text = _clean(text)
    return node


def calls_kml(calls: pl.DataFrame, names: Mapping[str, str], title: str) -> str:
    """Return the calls as a KML document, one Placemark per placed call.

    ``names`` gives port names by port id (the call's own ``port_name`` otherwise). A call is
    drawn as in port when ``in_port_at_end`` (a report's period) or, without that column, its
    status says so. ElementTree escapes XML. Google Earth shows ``description`` as HTML, so that
    field is HTML-escaped before it is XML-escaped: a ship name shows as the text it is.
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
        _sub(placemark, "name", vessel_title(row))
        lines = [f"{label}: {value}" for label, value in call_fields(row, names)]
        _sub(placemark, "description", "<br/>".join(html.escape(line) for line in lines))
        in_port = row.get("in_port_at_end", row.get("status") == "in_port")
        _sub(placemark, "styleUrl", "#inport" if in_port else "#call")
        span = _sub(placemark, "TimeSpan")
        _sub(span, "begin", iso_utc(row["arrival_utc"]))
        if row.get("departure_utc") is not None:
            _sub(span, "end", iso_utc(row["departure_utc"]))
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


def calls_text(
    calls: pl.DataFrame,
    fmt: TextFormat,
    *,
    schema: dict[str, pl.DataType] = CALLS_SCHEMA,
    title: str = "Port calls",
    names: Mapping[str, str] | None = None,
) -> str:
    """Return the calls as CSV, GeoJSON or KML text (``title`` and ``names`` are for KML)."""
    if fmt == "csv":
        return calls_csv(calls, schema)
    if fmt == "geojson":
        return calls_geojson(calls, schema)
    return calls_kml(calls, port_names([], calls) if names is None else names, title)


def export_calls(
    calls: pl.DataFrame,
    fmt: ExportFormat,
    output: Path | None = None,
    *,
    schema: dict[str, pl.DataType] = CALLS_SCHEMA,
    title: str = "Port calls",
    names: Mapping[str, str] | None = None,
) -> str | None:
    """Write ``calls`` to ``output`` in ``fmt``; return the text instead when ``output`` is None.

    Files are written atomically. Parquet has exactly the columns and types of ``schema``.
    """
    return _deliver(
        calls,
        fmt,
        output,
        EXPORT_FORMATS,
        schema,
        lambda: calls_text(calls, cast(TextFormat, fmt), schema=schema, title=title, names=names),
    )


def _deliver(
    frame: pl.DataFrame,
    fmt: str,
    output: Path | None,
    formats: Sequence[str],
    schema: dict[str, pl.DataType],
    text: Callable[[], str],
) -> str | None:
    """Write ``frame`` as Parquet of ``schema``, or ``text()`` in another of ``formats``, to
    ``output`` (atomically); return the text instead when ``output`` is None."""
    if fmt not in formats:
        raise ConfigError(f"format {fmt!r}: use one of {', '.join(formats)}")
    if fmt == "parquet":
        if output is None:
            raise ConfigError("--format parquet needs --output FILE (Parquet is not text)")
        atomic_write_parquet(conform(frame, schema), output)
        return None
    content = text()
    if output is None:
        return content
    atomic_write_text(output, content)
    return None


def events_csv(events: pl.DataFrame) -> str:
    """Return events as CSV text: EVENTS_SCHEMA columns in order, ISO 8601 UTC times, safe to
    open in a spreadsheet (text cells that would run as formulas start with ``'``)."""
    return csv_text(events.select(list(EVENTS_SCHEMA)), datetime_format=ISO_UTC_FORMAT)


def events_geojson(events: pl.DataFrame) -> str:
    """Return events as a GeoJSON FeatureCollection of points where each happened (the vessel's
    position; a position_jump's where it jumped to), every other column a property."""
    properties = [name for name in EVENTS_SCHEMA if name not in _POSITION]
    return _points_geojson(events, properties, "event_id")


def export_events(events: pl.DataFrame, fmt: EventFormat, output: Path | None = None) -> str | None:
    """Write ``events`` to ``output`` in ``fmt``; return the text instead when ``output`` is None.

    Files are written atomically. Parquet has exactly the columns and types of EVENTS_SCHEMA.
    """
    return _deliver(
        events,
        fmt,
        output,
        EVENT_FORMATS,
        EVENTS_SCHEMA,
        lambda: events_csv(events) if fmt == "csv" else events_geojson(events),
    )


def gaps_geojson(gaps: pl.DataFrame) -> str:
    """Return dark periods as a GeoJSON FeatureCollection: a LineString from the last position
    before each silence to the first after it, or a Point at the last while still silent."""
    geometries = [
        {"type": "Point", "coordinates": [lon0, lat0]}
        if lat1 is None or lon1 is None
        else {"type": "LineString", "coordinates": [[lon0, lat0], [lon1, lat1]]}
        for lat0, lon0, lat1, lon1 in gaps.select(
            "start_lat", "start_lon", "end_lat", "end_lon"
        ).iter_rows()
    ]
    return _geojson(gaps, list(GAPS_SCHEMA), None, geometries)


def export_gaps(gaps: pl.DataFrame, fmt: EventFormat, output: Path | None = None) -> str | None:
    """Write dark periods (:data:`GAPS_SCHEMA`) to ``output`` in ``fmt``; return the text
    instead when ``output`` is None."""
    return _deliver(
        gaps,
        fmt,
        output,
        EVENT_FORMATS,
        GAPS_SCHEMA,
        lambda: (
            csv_text(gaps.select(list(GAPS_SCHEMA)), datetime_format=ISO_UTC_FORMAT)
            if fmt == "csv"
            else gaps_geojson(gaps)
        ),
    )


def export_encounters(
    encounters: pl.DataFrame, fmt: EventFormat, output: Path | None = None
) -> str | None:
    """Write encounters (:data:`ENCOUNTERS_SCHEMA`) to ``output`` in ``fmt`` (GeoJSON: a Point
    where each pair met); return the text instead when ``output`` is None."""
    columns = list(ENCOUNTERS_SCHEMA)
    return _deliver(
        encounters,
        fmt,
        output,
        EVENT_FORMATS,
        ENCOUNTERS_SCHEMA,
        lambda: (
            csv_text(encounters.select(columns), datetime_format=ISO_UTC_FORMAT)
            if fmt == "csv"
            else _points_geojson(encounters, [c for c in columns if c not in _POSITION], None)
        ),
    )
