"""The report's folium map: land, geofences, port names, tracks, port calls, playback, controls.

Folium provides the map, the layer groups and the controls. The data goes into the page once,
as JSON in a ``<script type="application/json">`` element, and ``assets/report.js`` draws it:
folium's own Popup puts its HTML inside a JavaScript template literal, where a ship name such as
``${...}`` or a backquote would run as code, so untrusted text never goes through it.
"""

from __future__ import annotations

import html
import json
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import folium
import polars as pl
import shapely
from branca.element import MacroElement
from folium import plugins
from folium.template import Template
from shapely.geometry import mapping

from monitor.analyse.geofences import Zone
from monitor.errors import ReportError
from monitor.report import fmt
from monitor.report.data import ZONE_COLOURS
from monitor.report.offline import LEAFLET_CSS_URL, LEAFLET_JS_URL, data_uri

DATA_ELEMENT_ID = "report-data"
#: Layer names as the layer control shows them; keys are what report.js calls them.
LAYERS: dict[str, str] = {
    "land": "Land",
    "geofences": "Geofences",
    "labels": "Port names",
    "tracks": "Vessel tracks",
    "calls": "Port calls",
    "events": "Events",
    "gaps": "Dark periods",
    "encounters": "Encounters",
    "loitering": "Loitering",
    "inport": "In port at end of period",
    "playback": "Playback positions",
}
_COORD_DECIMALS = 5  # about 1 m


class ReportMap(folium.Map):
    """A folium Map that loads only Leaflet itself: no jQuery, Bootstrap or icon fonts."""

    # folium declares these as plain attributes; new lists here leave folium's own untouched.
    default_js = [("leaflet", LEAFLET_JS_URL)]  # noqa: RUF012
    default_css = [("leaflet_css", LEAFLET_CSS_URL)]  # noqa: RUF012


class _DrawLayers(MacroElement):
    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.Icon.Default.imagePath = "";
            L.Icon.Default.mergeOptions({{ this.icons }});
            window.monitorReport.build(
                {{ this.map_name }}, {{ this.groups }}, {{ this.data_id }}, {{ this.control_name }}
            );
        {% endmacro %}
        """
    )

    def __init__(self, map_name: str, groups: Mapping[str, str], control_name: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "DrawLayers"
        self.map_name = map_name
        # The layer control, so that the page can fold it away on a narrow screen.
        self.control_name = control_name
        # Values are folium's generated variable names (identifiers), keys are fixed words.
        self.groups = "{" + ", ".join(f"{key}: {name}" for key, name in groups.items()) + "}"
        self.data_id = json.dumps(DATA_ELEMENT_ID)
        # Leaflet finds its default marker images next to its stylesheet, which an inlined
        # stylesheet does not have; the measure tool uses them.
        self.icons = json.dumps(
            {
                "iconUrl": data_uri("leaflet/images/marker-icon.png"),
                "iconRetinaUrl": data_uri("leaflet/images/marker-icon-2x.png"),
                "shadowUrl": data_uri("leaflet/images/marker-shadow.png"),
            }
        )


def json_for_script(payload: object) -> str:
    """Return ``payload`` as JSON that is inert inside a <script> element.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, where their ``\\u`` escapes mean the
    same text, so a name containing ``</script>`` or ``<!--`` cannot end or alter the element.
    """
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def zones_payload(zones: Sequence[Zone], calls_per_port: Mapping[str, int]) -> dict[str, Any]:
    """Return the geofences as a GeoJSON FeatureCollection with name, kind, port and calls."""
    features = []
    for zone in zones:
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(zone.geometry),
                "properties": {
                    "id": zone.id,
                    "name": zone.name,
                    "kind": zone.kind,
                    "port": zone.port_id,
                    "colour": ZONE_COLOURS.get(zone.kind, "#455a64"),
                    "calls": int(calls_per_port.get(zone.port_id, 0)),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def labels_payload(
    zones: Sequence[Zone], names: Mapping[str, str], calls_per_port: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Return per port: ``name``, the top centre of its zones (``lat``, ``lon``) where the label
    sits, and ``calls`` in the period (labels of busier ports win where labels collide)."""
    by_port: dict[str, list[Zone]] = {}
    for zone in zones:
        if zone.kind != "area":
            by_port.setdefault(zone.port_id, []).append(zone)
    out = []
    for port_id, members in by_port.items():
        # The port polygon when there is one: its berths and anchorages may lie far out.
        own = [z for z in members if z.kind == "port"] or members
        west, _, east, north = shapely.union_all([z.geometry for z in own]).bounds
        out.append(
            {
                "name": names.get(port_id, port_id),
                "lat": round(north, _COORD_DECIMALS),
                "lon": round((west + east) / 2, _COORD_DECIMALS),
                "calls": int(calls_per_port.get(port_id, 0)),
            }
        )
    return out


def tracks_payload(
    tracks: pl.DataFrame, identity: pl.DataFrame, since: datetime
) -> list[dict[str, Any]]:
    """Return per track: mmsi ``m``, name ``n``, category ``c``, points ``p`` as
    [lat, lon, seconds since ``since``], ``s``, the indexes where a segment after a silence
    starts, and ``t``, which of its MMSI's tracks it is when there are several (else empty)."""
    if tracks.is_empty():
        return []
    frame = (
        tracks.join(identity, on="mmsi", how="left")
        .with_columns(
            sec=((pl.col("timestamp_utc") - since).dt.total_microseconds() // 1_000_000),
            lat=pl.col("lat").round(_COORD_DECIMALS),
            lon=pl.col("lon").round(_COORD_DECIMALS),
            category=pl.col("category").fill_null("Unknown"),
            vessel_name=pl.col("vessel_name").fill_null(""),
        )
        .sort("mmsi", "track", "timestamp_utc")
    )
    frame = frame.with_columns(
        idx=pl.int_range(pl.len()).over("mmsi", "track"),
        new_seg=(pl.col("segment") != pl.col("segment").shift(1).over("mmsi", "track")).fill_null(
            False
        ),
    )
    grouped = frame.group_by("mmsi", "track", maintain_order=True).agg(
        pl.col("vessel_name").first(),
        pl.col("category").first(),
        pl.col("lat"),
        pl.col("lon"),
        pl.col("sec"),
        starts=pl.col("idx").filter(pl.col("new_seg")),
    )
    grouped = grouped.with_columns(
        k=pl.int_range(1, pl.len() + 1).over("mmsi"), of=pl.len().over("mmsi")
    )
    out = []
    for row in grouped.iter_rows(named=True):
        name = row["vessel_name"].strip() or f"MMSI {row['mmsi']}"
        out.append(
            {
                "m": row["mmsi"],
                "n": name,
                "c": row["category"],
                "p": [list(p) for p in zip(row["lat"], row["lon"], row["sec"], strict=True)],
                "s": row["starts"],
                "t": f"transmitter {row['k']} of {row['of']}" if row["of"] > 1 else "",
            }
        )
    return out


def calls_payload(calls: pl.DataFrame, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Return per call: id, marker position, category ``c``, ``inport``, popup title and fields."""
    out = []
    for row in calls.iter_rows(named=True):
        lat, lon = row.get("lat"), row.get("lon")
        out.append(
            {
                "id": row["call_id"],
                "lat": round(lat, _COORD_DECIMALS) if lat is not None else None,
                "lon": round(lon, _COORD_DECIMALS) if lon is not None else None,
                "c": row["category"],
                "inport": bool(row["in_port_at_end"]),
                "title": fmt.vessel_title(row),
                "fields": fmt.call_fields(row, names),
                "w": row.get("watchlist"),
            }
        )
    return out


def events_payload(events: pl.DataFrame, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Return per placed event: id, kind ``k``, position, the other position ``o`` (a shared
    MMSI's other transmitter, a jump's origin) or null, popup title and fields."""
    out = []
    for row in events.iter_rows(named=True):
        if row["lat"] is None or row["lon"] is None:
            continue
        kind = row["kind"]
        other = None
        if row["other_lat"] is not None and row["other_lon"] is not None:
            other = [
                round(row["other_lat"], _COORD_DECIMALS),
                round(row["other_lon"], _COORD_DECIMALS),
            ]
        out.append(
            {
                "id": row["event_id"],
                "k": kind,
                "lat": round(row["lat"], _COORD_DECIMALS),
                "lon": round(row["lon"], _COORD_DECIMALS),
                "o": other,
                "title": f"{fmt.EVENT_TITLES.get(kind, kind)}: {fmt.vessel_title(row)}",
                "fields": fmt.event_fields(row, names),
                "w": row.get("watchlist"),
            }
        )
    return out


_TILE_FIX = 'use a known name such as "OpenStreetMap" or "OpenTopoMap", or a URL template'
_TILE_PLACEHOLDERS = ("{z}", "{x}", "{y}")


def tile_layer(tiles: str) -> folium.TileLayer:
    """Return the base layer for ``report.tiles``: a folium tile name or a URL template.

    Raises ReportError naming the key and the fix for a name folium does not know, a template
    without ``{z}``, ``{x}`` and ``{y}`` or with an address scheme other than http, https or
    file, or a provider that needs an API key (its tiles would not load).
    """
    if "{" in tiles or "://" in tiles:
        parts = urlsplit(tiles)
        missing = [p for p in _TILE_PLACEHOLDERS if p not in tiles]
        if parts.scheme not in ("", "http", "https", "file") or missing:
            raise ReportError(
                f"report.tiles: {tiles!r} is not a tile URL template (an address with {{z}}, "
                "{x} and {y}, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png); " + _TILE_FIX
            )
        host = html.escape(parts.netloc or "local files")
        return folium.TileLayer(tiles, attr=f"Map tiles: {host}", name="Base map")
    try:
        layer = folium.TileLayer(tiles, name=tiles)
    except ValueError as exc:
        raise ReportError(
            f"report.tiles: {tiles!r} is neither a tile URL template nor a known tile name "
            f"({exc}); {_TILE_FIX}"
        ) from exc
    if "{apikey}" in str(layer.tiles).lower() or "{accesstoken}" in str(layer.tiles).lower():
        raise ReportError(
            f"report.tiles: {tiles!r} needs an API key; give its URL template with your key "
            f"in it instead, or {_TILE_FIX}"
        )
    return layer


def tile_warnings(tiles: str) -> list[str]:
    """Return what folium warns about ``report.tiles`` (raises ReportError when it is invalid)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tile_layer(tiles)
    return [f"report.tiles: {w.message}" for w in caught]


def build_map(
    payload: Mapping[str, Any], *, tiles: str | None, center: tuple[float, float]
) -> tuple[folium.Map, str]:
    """Return the folium map for ``payload`` and the <script> element holding its data.

    With ``tiles`` None the map has no base layer: the land of ``payload["land"]`` (if any),
    geofences, tracks and markers are drawn on a plain sea-coloured background (offline reports).
    """
    fmap = ReportMap(location=list(center), zoom_start=10, tiles=None, control_scale=True)
    if tiles:
        tile_layer(tiles).add_to(fmap)
    groups: dict[str, str] = {}
    for key, label in LAYERS.items():
        if key == "land" and not payload.get("land"):
            continue
        group = folium.FeatureGroup(name=label, show=True)
        group.add_to(fmap)
        groups[key] = group.get_name()
    plugins.Fullscreen(position="topleft").add_to(fmap)  # type: ignore[no-untyped-call]
    plugins.MeasureControl(  # type: ignore[no-untyped-call]
        position="topleft",
        primary_length_unit="kilometers",
        secondary_length_unit="nauticalmiles",
        primary_area_unit="sqkilometers",
        secondary_area_unit="hectares",
        units={
            "nauticalmiles": {"factor": 1 / 1852, "display": "nautical miles", "decimals": 2},
            "sqkilometers": {"factor": 1e-6, "display": "km\u00b2", "decimals": 2},
        },
    ).add_to(fmap)
    control = folium.LayerControl(collapsed=False, position="topright")
    control.add_to(fmap)
    fmap.add_child(_DrawLayers(fmap.get_name(), groups, control.get_name()))
    data_element = (
        f'<script type="application/json" id="{DATA_ELEMENT_ID}">'
        f"{json_for_script(payload)}</script>"
    )
    return fmap, data_element
