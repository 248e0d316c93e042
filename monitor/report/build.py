"""Writing a report: load a period's data, build the page and files, publish them atomically."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import shapely
from branca.element import Element

from monitor.analyse.behaviour import reportable
from monitor.analyse.geofences import Zone, load_zones
from monitor.analyse.portcalls.detect import prepare_positions
from monitor.analyse.watchlist import Watchlist, load_watchlist, mark_by_vessel
from monitor.config import Settings, TrackSettings
from monitor.core.times import iso_utc
from monitor.errors import ConfigError, ReportError
from monitor.report import coastline, data, fmt, mapview, tables
from monitor.report.exports import TextFormat, calls_text, events_csv
from monitor.report.index import update_index
from monitor.report.offline import (
    asset_text,
    inline_assets,
    pin_assets,
    script_block,
    style_block,
)
from monitor.report.thinning import thin_tracks
from monitor.report.window import (
    Period,
    newest_message_time,
    oldest_message_time,
    report_window,
)
from monitor.schema import EVENTS_SCHEMA, REPORT_CALLS_SCHEMA, empty_frame
from monitor.store.calls import load_calls
from monitor.store.events import load_events
from monitor.store.locks import writer_lock
from monitor.store.parquet import Store

log = logging.getLogger(__name__)

#: All vessels' track points together stay under this, whatever the per-vessel cap, so that a
#: report of a crowded area still opens quickly (about 30 bytes of page per point).
MAX_TOTAL_TRACK_POINTS = 300_000
#: Fewest points per vessel the total budget may leave.
MIN_POINTS_PER_VESSEL = 20

#: The calls files beside each report's page, by format, with the label the page gives them.
CALL_FILES: dict[TextFormat, str] = {
    "csv": "CSV",
    "geojson": "GeoJSON",
    "kml": "KML (Google Earth)",
}
FILES = {label: f"calls.{ext}" for ext, label in CALL_FILES.items()}


@dataclass
class ReportInputs:
    """Everything a report is built from (frames as the store and the detector give them)."""

    calls: pl.DataFrame
    positions: pl.DataFrame
    statics: pl.DataFrame
    zones: Sequence[Zone]
    since: datetime
    until: datetime
    title: str = "Port activity"
    max_gap_h: float = 4.0
    move_speed_kn: float = 0.5
    #: How positions are split into tracks (each is drawn on its own; displaced runs are not).
    tracks: TrackSettings = field(default_factory=TrackSettings)
    #: The detected events (EVENTS_SCHEMA); those of the period get a layer and a table.
    events: pl.DataFrame = field(default_factory=lambda: empty_frame(EVENTS_SCHEMA))
    #: Vessels of interest: their calls and events come first, highlighted.
    watchlist: Watchlist | None = None
    #: An open call counts as in port up to this long after its vessel's last position.
    max_unheard_h: float | None = None
    #: Newest message time in the store; None takes the newest of ``positions``.
    data_end: datetime | None = None
    #: Oldest message time in the store (where the data begins); None takes the oldest of
    #: ``positions``.
    data_start: datetime | None = None
    max_points_per_vessel: int = 500
    tiles: str | None = "OpenStreetMap"
    offline: bool = False
    written: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class ReportContent:
    """The files of one report folder and its headline figures."""

    files: dict[str, str]
    numbers: dict[str, Any]


def folder_name(since: datetime, until: datetime) -> str:
    """Return the report folder name for a period, e.g. ``20240503T1400Z_20240504T1400Z``."""
    return f"{since.astimezone(UTC):%Y%m%dT%H%MZ}_{until.astimezone(UTC):%Y%m%dT%H%MZ}"


def _track_cap(n_vessels: int, per_vessel: int) -> int:
    if n_vessels == 0:
        return per_vessel
    return max(MIN_POINTS_PER_VESSEL, min(per_vessel, MAX_TOTAL_TRACK_POINTS // n_vessels))


def _centre(zones: Sequence[Zone], positions: pl.DataFrame) -> tuple[float, float]:
    if zones:
        bounds = [z.geometry.bounds for z in zones]
        return (
            (min(b[1] for b in bounds) + max(b[3] for b in bounds)) / 2,
            (min(b[0] for b in bounds) + max(b[2] for b in bounds)) / 2,
        )
    if not positions.is_empty():
        return float(positions["lat"].mean()), float(positions["lon"].mean())  # type: ignore[arg-type]
    return 0.0, 0.0


def _land(inputs: ReportInputs, tracks: pl.DataFrame) -> dict[str, Any] | None:
    """Return the land around the ports and the tracks (GeoJSON), None where there is none."""
    per_port: dict[str, list[Any]] = {}
    for zone in inputs.zones:
        per_port.setdefault(zone.port_id, []).append(zone.geometry)
    ports = [shapely.union_all(parts).bounds for parts in per_port.values()]
    others = []
    if tracks.height:
        lon, lat = tracks["lon"], tracks["lat"]
        others.append((lon.min(), lat.min(), lon.max(), lat.max()))
    return coastline.land_payload(ports, others)  # type: ignore[arg-type]


def build_report(inputs: ReportInputs) -> ReportContent:
    """Return the files of a report (``index.html``, calls as CSV/GeoJSON/KML, summary numbers)."""
    since, until = inputs.since, inputs.until
    positions = inputs.positions.filter(pl.col("timestamp_utc").is_between(since, until))
    # The detector's tracks: two ships on one MMSI are drawn apart, and displaced runs (bad
    # fixes, spoofing) would be long spikes on the map.
    positions, segmentation = prepare_positions(positions, inputs.tracks)
    n_outliers = segmentation.n_dropped
    positions = positions.rename({"speed_kn": "sog_kn"})
    data_end, data_start = inputs.data_end, inputs.data_start
    if data_end is None and inputs.positions.height:
        data_end = inputs.positions["timestamp_utc"].max()  # type: ignore[assignment]
    if data_start is None and inputs.positions.height:
        data_start = inputs.positions["timestamp_utc"].min()  # type: ignore[assignment]
    calls = data.calls_in_window(inputs.calls, since, until, data_end, inputs.max_unheard_h)
    calls = data.place_calls(calls, positions, inputs.zones, until)
    names = data.port_names(inputs.zones, calls)
    identity = data.latest_identity(inputs.statics)
    events = data.events_in_window(reportable(inputs.events), identity, since, until)
    if inputs.watchlist is not None:
        calls, events = _watched_first(calls, events, inputs.statics, inputs.watchlist)

    n_vessels = positions["mmsi"].n_unique() if positions.height else 0
    tracks = thin_tracks(
        positions,
        max_gap_h=inputs.max_gap_h,
        max_points_per_vessel=_track_cap(n_vessels, inputs.max_points_per_vessel),
        move_speed_kn=inputs.move_speed_kn,
    )
    log.info(
        "tracks: %d positions of %d vessels (%d outliers dropped) thinned to %d",
        positions.height, n_vessels, n_outliers, tracks.height,
    )  # fmt: skip
    calls_per_port = dict(calls.group_by("port_id").len().iter_rows())
    span_s = int((until - since).total_seconds())
    payload = {
        "meta": {
            "since": iso_utc(since),
            "until": iso_utc(until),
            "span_s": span_s,
            "max_gap_h": inputs.max_gap_h,
            "categories": data.CATEGORY_COLOURS,
            "zone_colours": data.ZONE_COLOURS,
            "event_colours": data.EVENT_COLOURS,
            "event_titles": fmt.EVENT_TITLES,
            "land_attribution": coastline.ATTRIBUTION,
        },
        "land": _land(inputs, tracks) if inputs.offline else None,
        "zones": mapview.zones_payload(inputs.zones, calls_per_port),
        "labels": mapview.labels_payload(inputs.zones, names, calls_per_port),
        "tracks": mapview.tracks_payload(tracks, identity, since),
        "calls": mapview.calls_payload(calls, names),
        "events": mapview.events_payload(events, names),
    }
    tiles = None if inputs.offline else inputs.tiles
    fmap, data_element = mapview.build_map(
        payload, tiles=tiles, center=_centre(inputs.zones, positions)
    )
    numbers = {**tables.headline_numbers(calls, n_vessels), "events": events.height}
    summary = data.port_summary(calls, names)
    per_day = data.arrivals_per_day(calls, names, since, until)
    chart = tables.arrivals_chart_html(per_day)
    calls_table = tables.calls_table_html(calls, names, data_start, inputs.max_gap_h)
    sections = tables.sections_html(
        [
            ("Port calls in the period", calls_table),
            ("Per port", tables.summary_table_html(summary)),
            ("Events in the period", tables.events_table_html(events, names)),
            ("Arrivals per day", chart or '<p class="mr-empty">No arrivals.</p>'),
            ("Data files", tables.files_html(FILES)),
        ]
    )
    page = _page(fmap, data_element, inputs, numbers, sections)
    return ReportContent(
        files={
            "index.html": page,
            **{
                f"calls.{ext}": calls_text(
                    calls, ext, schema=REPORT_CALLS_SCHEMA, title=inputs.title, names=names
                )
                for ext in CALL_FILES
            },
            "events.csv": events_csv(events),
        },
        numbers=numbers,
    )


def _watched_first(
    calls: pl.DataFrame, events: pl.DataFrame, statics: pl.DataFrame, watchlist: Watchlist
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the calls and events marked with the watchlist, its vessels' first."""
    calls = watchlist.mark(calls, imo="imo", name="vessel_name")
    reported = statics.select(
        "mmsi",
        pl.col("imo") if "imo" in statics.columns else pl.lit(None, pl.UInt32).alias("imo"),
        "vessel_name",
    )
    events = mark_by_vessel(events, reported, watchlist, ["mmsi", "other_mmsi"])
    first = pl.col("watch_match").is_null()
    return calls.sort(first, maintain_order=True), events.sort(first, maintain_order=True)


def _page(
    fmap: Any,
    data_element: str,
    inputs: ReportInputs,
    numbers: dict[str, Any],
    sections: str,
) -> str:
    figure = fmap.get_root()
    figure.header.add_child(Element(style_block(asset_text("report.css"))), name="report_css")
    figure.header.add_child(Element(script_block(asset_text("report.js"))), name="report_js")
    html = figure.render()
    map_div = re.compile(rf'<div class="folium-map" id="{re.escape(fmap.get_name())}"\s*>\s*</div>')
    if len(map_div.findall(html)) != 1:
        raise ReportError("folium's page layout changed: cannot place the report around the map")
    title = f"{inputs.title}: port activity"
    before = (
        tables.header_html(title, inputs.since, inputs.until, inputs.written)
        + tables.headline_html(numbers)
        + '<div class="mr-map-wrap" id="map-anchor">'
    )
    after = "</div>" + sections + data_element

    def place(match: re.Match[str]) -> str:
        return before + match.group(0) + after

    html = map_div.sub(place, html)
    html = html.replace("<html>", '<html lang="en">', 1).replace(
        "<head>", f"<head>\n<title>{tables.esc(title)}</title>", 1
    )
    return inline_assets(html) if inputs.offline else pin_assets(html)


#: Where the folders of published reports live; ``<root>/<folder>`` is a link to one of them.
VERSIONS = ".versions"
#: A second report run writing into the same folder waits this long for the first.
PUBLISH_WAIT_S = 600.0


def publish(root: Path, folder: str, content: ReportContent, entry: dict[str, Any]) -> Path:
    """Write the report folder under ``root``, update the index; return index.html.

    The report is written in full into ``<root>/.versions/`` and ``<root>/<folder>`` is then
    switched to it by renaming a symbolic link over the old one: a reader sees the old report
    or the new one, never a mix and never none, whenever the run is killed. What a killed run
    left behind is deleted by the next one (runs take turns on ``<root>/.lock``).
    """
    root.mkdir(parents=True, exist_ok=True)
    with writer_lock(root / ".lock", job="report", wait_s=PUBLISH_WAIT_S):
        _clean_leftovers(root)
        versions = root / VERSIONS
        versions.mkdir(exist_ok=True)
        fresh = versions / f"{folder}.{uuid.uuid4().hex}"
        tmp = fresh.with_name(f".{fresh.name}.tmp")
        tmp.mkdir()
        for name, text in content.files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / "summary.json").write_text(json.dumps(entry, indent=1), encoding="utf-8")
        tmp.chmod(0o755)
        os.rename(tmp, fresh)
        _switch(root / folder, fresh)
        _clean_leftovers(root)
        update_index(root, entry)
    return root / folder / "index.html"


def _switch(target: Path, fresh: Path) -> None:
    """Make ``target`` show the report folder ``fresh`` in one rename."""
    link = target.with_name(f".{target.name}.{uuid.uuid4().hex}.link")
    try:
        link.symlink_to(Path(fresh.parent.name) / fresh.name, target_is_directory=True)
    except (OSError, NotImplementedError):
        # No symbolic links here (Windows without the right to make them): the old folder goes
        # aside and the new one takes its place, two renames with a moment between them.
        old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
        if target.exists():
            os.rename(target, old)
        os.rename(fresh, target)
        return
    if target.is_dir() and not target.is_symlink():
        # A folder written before reports were linked: moved among the versions first (once,
        # and the only moment a reader can find no report there).
        os.rename(target, fresh.with_name(f"{target.name}.{uuid.uuid4().hex}"))
    os.replace(link, target)


def _clean_leftovers(root: Path) -> None:
    """Delete what runs killed half way left: temp folders and links, and report versions that
    no folder links to."""
    versions = root / VERSIONS
    live = {
        os.path.realpath(path) for path in root.iterdir() if path.is_symlink() and path.is_dir()
    }
    stale = [
        *(
            p
            for p in root.iterdir()
            if p.name.startswith(".") and p.name.endswith((".tmp", ".old"))
        ),
        *(p for p in root.iterdir() if p.name.startswith(".") and p.name.endswith(".link")),
        *(
            p
            for p in (versions.iterdir() if versions.is_dir() else [])
            if os.path.realpath(p) not in live
        ),
    ]
    for path in stale:
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


def write_report(
    settings: Settings,
    period: Period | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    output: Path | None = None,
    offline: bool = False,
    folder: str | None = None,
) -> Path:
    """Return the path of the index.html of the report it wrote for one period.

    The period is [since, until] when both are given, else ``period`` (default
    ``settings.report.period``: the last day or week of data) from ``since``, up to ``until``, or
    ending at the newest message in the store (see :func:`report_window`). Reads positions,
    static reports and calls from the store and the zones from the config; writes
    ``<output>/<period>/`` (or ``<output>/<folder>/``, e.g. ``latest``, replaced by each new
    report) and updates ``<output>/index.html`` (default output ``settings.report.output``).
    """
    if period is not None and since is not None and until is not None:
        raise ConfigError("give a period, or since and until, not all three")
    store = Store(settings.store.path)
    since, until = report_window(
        store.scan_positions(), period or settings.report.period, since, until
    )
    data_end = newest_message_time(store.scan_positions())
    data_start = oldest_message_time(store.scan_positions())
    positions = (
        store.scan_positions()
        .filter(pl.col("timestamp_utc").is_between(since, until))
        .select("mmsi", "timestamp_utc", "lat", "lon", "sog_kn")
        .collect()
    )
    statics = store.scan_statics().select(
        "mmsi", "timestamp_utc", "imo", "vessel_name", "ship_type"
    )
    watch = settings.watchlist
    inputs = ReportInputs(
        calls=load_calls(settings.store.path),
        events=load_events(settings.store.path),
        watchlist=None
        if watch.path is None
        else load_watchlist(watch.path, match_names=watch.match_names),
        positions=positions,
        statics=statics.collect(),
        zones=load_zones(settings),
        since=since,
        until=until,
        title=settings.name,
        max_gap_h=settings.detect.max_gap_h,
        move_speed_kn=settings.detect.move_speed_kn,
        tracks=settings.tracks,
        max_unheard_h=settings.detect.max_unheard_h,
        data_end=data_end,
        data_start=data_start,
        max_points_per_vessel=settings.report.max_track_points_per_vessel,
        tiles=settings.report.tiles,
        offline=offline or settings.report.offline,
    )
    content = build_report(inputs)
    root = Path(output) if output is not None else settings.report.output
    folder = folder or folder_name(since, until)
    entry = {
        "folder": folder,
        "title": f"{settings.name}: {fmt.when(since)} to {fmt.when(until)}",
        "since": iso_utc(since),
        "until": iso_utc(until),
        "since_text": fmt.when(since),
        "until_text": fmt.when(until),
        "written": iso_utc(inputs.written),
        "offline": inputs.offline,
        "numbers": content.numbers,
    }
    try:
        return publish(root, folder, content, entry)
    except OSError as exc:
        raise ReportError(
            f"{root}: cannot write the report ({exc.strerror}); check the path"
        ) from exc
