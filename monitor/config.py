"""Settings: the TOML config file, validated on load, with documented defaults.

Every threshold carries its unit in its name. Paths in a config file are relative to that file.
"""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.core.geo import METRES_PER_DEG
from monitor.errors import ConfigError

log = logging.getLogger(__name__)
ZoneKind = Literal["port", "berth", "anchorage", "area"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    #: Root directory of the Parquet store.
    path: Path = Path("data/store")


class CsvColumns(_Section):
    """Column mapping for a CSV that is neither MarineCadastre nor DMA (header name per field)."""

    mmsi: str
    timestamp: str
    lat: str
    lon: str
    sog: str | None = None
    cog: str | None = None
    heading: str | None = None
    nav_status: str | None = None
    vessel_name: str | None = None
    imo: str | None = None
    callsign: str | None = None
    ship_type: str | None = None
    draught: str | None = None
    destination: str | None = None
    #: strptime-style format of the timestamp column; ISO 8601 is parsed when omitted.
    timestamp_format: str | None = None


class IngestSettings(_Section):
    #: A part of a multi-part message waits this long (message time) for its other parts. Parts
    #: of one message are sent back to back, so 10 s is generous; a stale part 1 must never be
    #: joined to an unrelated part 2 that reuses the same sequence id minutes later.
    fragment_timeout_s: float = Field(10.0, gt=0)
    #: Two receptions of the same message within this window are stored once.
    duplicate_window_s: float = Field(60.0, ge=0)
    csv_columns: CsvColumns | None = None
    #: Messages timed earlier are rejected ("time_out_of_range"): AIS was first standardised in
    #: 1998 (ITU-R M.1371-0), so an earlier time is a broken clock or a misread field, and one
    #: such row must not send reports and day partitions decades away.
    min_time_utc: datetime = datetime(1998, 1, 1, tzinfo=UTC)
    #: Messages timed more than this many hours after the wall clock at ingest are rejected
    #: ("time_out_of_range"). The only use of the clock outside bookkeeping: a feed cannot
    #: report the future, but a receiver clock a few hours fast or local time written as UTC
    #: (up to +14 h) should still be stored.
    max_future_h: float = Field(24.0, ge=0)

    @field_validator("min_time_utc")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # A time without a zone is UTC, like every time the monitor reads.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Circles stay clear of the poles (the northernmost ports, in Svalbard, lie near 79°N).
MAX_CIRCLE_LAT_DEG = 85.0


class CircleZone(_Section):
    """Quick geofence: a circle around a centre."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: ZoneKind = "port"
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0, le=200_000)
    port: str | None = None
    country: str | None = None

    @model_validator(mode="after")
    def _clear_of_the_poles(self) -> CircleZone:
        # A circle is drawn in a flat projection around its centre; near a pole, where the
        # meridians meet, its longitudes would blow up (1e14 at the pole itself).
        reach_deg = abs(self.lat) + self.radius_m / METRES_PER_DEG
        if reach_deg > MAX_CIRCLE_LAT_DEG:
            raise ValueError(
                f"a circle reaching beyond {MAX_CIRCLE_LAT_DEG:g}° latitude cannot be drawn "
                "(near a pole the meridians meet); draw the zone as a GeoJSON polygon instead"
            )
        return self


class GeofenceSettings(_Section):
    #: GeoJSON files with Polygon/MultiPolygon features (properties id, name, kind, port, country).
    files: list[Path] = Field(default_factory=list)
    circles: list[CircleZone] = Field(default_factory=list)


class DetectSettings(_Section):
    """Port-call thresholds. Defaults follow Global Fishing Watch's port-visit pipeline."""

    #: A vessel leaves a zone only once it is this far outside its polygon (GFW: enter at 3 km,
    #: leave at 4 km around an anchorage point; with polygons the 1 km hysteresis is a buffer).
    #: More than 50 km would merge neighbouring ports, so it is refused as a likely unit mistake.
    exit_buffer_m: float = Field(1000.0, ge=0, le=50_000)
    #: Below this speed a vessel is stopped (GFW: 0.2 kn). A ship at anchor or alongside reports
    #: 0-0.1 kn of GPS jitter, so 0.2 kn separates it from one manoeuvring slowly.
    stop_speed_kn: float = Field(0.2, ge=0, le=10)
    #: Above this speed a stopped vessel is moving again (GFW: 0.5 kn); the gap avoids flicker.
    move_speed_kn: float = Field(0.5, ge=0, le=10)
    #: Silence longer than this is a gap (GFW: 4 h). A gap inside a port does not end a call.
    max_gap_h: float = Field(4.0, gt=0)
    #: A visit without a stop counts as a call only if it lasts at least this long; shorter visits
    #: without a stop are transits (pilot boats, ships crossing an anchorage on their way).
    min_stay_h: float = Field(2.0, ge=0)
    #: Visits of one vessel to zones of the same port, with no other port in between and less than
    #: this long outside them, are one call. Outer anchorages often lie km away from the port
    #: polygon (Nampo's 15 km down the river, Vladivostok's Amur Bay): the hour or two from the
    #: anchorage to the berth must not split the call, nor make the pass through the anchorage a
    #: transit. 3 h covers 30 km at 5 kn; a ship that comes back later made a new call. 0: never.
    merge_gap_h: float = Field(3.0, ge=0)
    #: A stop lasts at least this long, from its first to its last stopped position. A ship
    #: alongside or at anchor stays for hours and reports every 3 minutes (ITU-R M.1371), so
    #: 10 min is four reports or more; one slow fix of a vessel turning or slowing for a pilot is
    #: not a stop. 0 makes any slow fix a stop (and turns off stops found from positions).
    min_stop_min: float = Field(10.0, ge=0, le=24 * 60)
    #: A vessel that stays within this distance of a position for ``min_stop_min`` is stopped,
    #: whatever its SOG says (SOG of a moored ship can be noise of a bad GPS, or missing). 100 m
    #: in 10 min is under 0.33 kn on average: a ship under way covers it in a minute or less,
    #: while GPS scatter of a moored ship stays within tens of metres.
    stop_radius_m: float = Field(100.0, gt=0, le=2000)
    #: A silence inside a port is one stay only if it is shorter than this. Ships stay alongside
    #: hours to three days; after a longer silence the data cannot tell a stay from a departure
    #: and return (two recordings of one port years apart would otherwise make calls lasting
    #: years), so the call ends at its last position, departure not observed.
    max_silent_stay_h: float = Field(72.0, gt=0)
    #: Visits of one port are merged only while the vessel stays within this distance of the
    #: port (the convex hull of its zones, which spans the water between a port and its outer
    #: anchorages) and stops nowhere in between: a ship shifting from anchorage to berth or
    #: round a breakwater stays close, while a crew boat running to a platform 5-20 km off or a
    #: ferry to an island makes a trip, and each return is a call of its own.
    merge_distance_m: float = Field(2000.0, ge=0, le=50_000)
    #: An open call whose vessel has not been heard for longer than this (before the newest
    #: position in the store) has status ``unknown``, not ``in_port``: a ship in port reports
    #: every 3 minutes, so a day of silence means its AIS is off, it is out of coverage or it
    #: left unheard, and "in port now" would be a guess.
    max_unheard_h: float = Field(24.0, gt=0)

    @model_validator(mode="after")
    def _speeds_ordered(self) -> DetectSettings:
        if self.move_speed_kn < self.stop_speed_kn:
            raise ValueError(
                "move_speed_kn must be >= stop_speed_kn (a vessel moves again only above the stop "
                "speed); raise move_speed_kn or lower stop_speed_kn"
            )
        return self


class TrackSettings(_Section):
    """Segmentation of each MMSI's positions into tracks, one per transmitter (gpsdio-segment)."""

    #: A position joins a track only if reaching it from the track's last position needs at most
    #: this speed: merchant ships make under 30 kn, so 50 kn leaves room for fast ferries but not
    #: for a second ship on the same MMSI, bad fixes or spoofed jumps.
    max_speed_kn: float = Field(50.0, gt=0)
    #: Time added (in quadrature) to the interval between two positions when judging that speed:
    #: logging clocks jitter by up to a minute and step back by minutes, and one message can be
    #: logged again minutes later, so two close fixes can look seconds apart and km apart.
    #: 300 s at 50 kn lets positions up to 7.7 km apart join at once.
    clock_slack_s: float = Field(300.0, ge=0, le=3600)
    #: A track silent this long is closed: it no longer competes for positions with tracks heard
    #: since, and takes a position only when no open track can (gpsdio-segment: 24 h).
    max_silence_h: float = Field(24.0, gt=0)
    #: A run of at most this many positions that jumps away from a longer track of its MMSI and
    #: comes back (GPS fault, spoofing burst) belongs to no track: it is dropped and reported as a
    #: position_jump event. 1 is a lone outlier; bursts seen in real feeds last tens of reports.
    max_jump_reports: int = Field(50, ge=0)
    #: ... and lasts at most this long; a longer run is a track of its own.
    max_jump_h: float = Field(3.0, ge=0)


class EventSettings(_Section):
    """Identity and spoofing events (shared MMSIs, position jumps, identity changes)."""

    #: Two tracks of one MMSI, active at the same time, are two transmitters (a shared_mmsi event)
    #: when they are farther apart than one ship could sail at tracks.max_speed_kn by this much.
    shared_min_distance_km: float = Field(10.0, gt=0)
    #: An event names the nearest configured port within this distance (port_id,
    #: port_distance_km); farther events name none.
    port_radius_km: float = Field(50.0, ge=0)


class GapSettings(_Section):
    """Dark periods: silences of a track, and why the vessel went unheard (README: Dark
    periods)."""

    #: A silence this long is a dark period candidate. Global Fishing Watch counts AIS gaps
    #: from 6 h: satellite AIS revisits a ship every one to three hours, so a shorter silence
    #: at sea is usually a missed pass, not a switch-off.
    min_gap_h: float = Field(6.0, gt=0)
    #: ... and this long when the vessel went silent or came back within near_port_km of a
    #: port: coastal receivers hear ports every few minutes, and hours unseen near a watched
    #: port are what an analyst looks for.
    near_port_min_gap_h: float = Field(2.0, gt=0)
    #: How near a port the shorter threshold (and the where "near_port") applies.
    near_port_km: float = Field(20.0, ge=0, le=500)
    #: A silence shorter than this many of the vessel's usual intervals is coverage: a ship
    #: heard every 1.5 h by passing satellites is not dark for missing one more pass.
    coverage_ratio: float = Field(3.0, ge=1)
    #: An outage when at least this share of the vessels heard near it fell silent with it.
    outage_share: float = Field(0.75, gt=0, le=1)
    #: The vessel's usual interval is measured over this long before and after a silence.
    window_h: float = Field(24.0, gt=0, le=168)
    #: Side of the cells of the reception grid; "near" is the 3 x 3 cells around a place:
    #: about the range of a shore receiver.
    neighbour_km: float = Field(25.0, gt=0, le=500)
    #: Side of the cells over which "anyone heard in the region" is asked: 3 x 3 of them span
    #: 300 km, what one satellite pass or a shore receiver at its best covers.
    region_km: float = Field(100.0, gt=0, le=1000)
    #: Time bins of the reception grid.
    bin_min: float = Field(10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> GapSettings:
        if self.near_port_min_gap_h > self.min_gap_h:
            raise ValueError(
                "near_port_min_gap_h must be <= min_gap_h (near ports shorter silences count, "
                "not longer ones); lower near_port_min_gap_h or raise min_gap_h"
            )
        return self


class EncounterSettings(_Section):
    """Ship-to-ship encounters (README: Encounters; Global Fishing Watch's definition)."""

    #: Two vessels at most this far apart are together (GFW: 500 m).
    max_distance_m: float = Field(500.0, gt=0, le=10_000)
    #: ... for at least this long (GFW: 2 h) ...
    min_duration_h: float = Field(2.0, gt=0)
    #: ... at a median speed under this (GFW: 2 kn): lying together, not sailing in company.
    max_speed_kn: float = Field(2.0, gt=0, le=50)
    #: Meetings of one pair less than this apart are one encounter (GFW: 4 h).
    merge_gap_h: float = Field(4.0, ge=0)
    #: Meetings inside port, berth and anchorage zones grown by this many metres are left
    #: out. GFW leaves out 10 km around anchorages, which would hide transfers at outer
    #: anchorages such as Nampo's, so by default only the zones themselves are.
    port_exclusion_m: float = Field(0.0, ge=0, le=50_000)
    #: Tracks are resampled every this many minutes (on the UTC clock).
    grid_min: float = Field(10.0, gt=0, le=60)
    #: A track is resampled across silences up to this long; longer ones only when it was
    #: seen at the same spot before and after (then an encounter may be partly_dark).
    max_interp_h: float = Field(1.0, gt=0)
    #: Runs of close samples of a pair with holes up to this long are one meeting.
    max_hole_min: float = Field(30.0, ge=0)


class LoiteringSettings(_Section):
    """Loitering: one vessel slow for hours outside port zones (the RFMO carrier definition)."""

    #: Slower than this (the median of five reports) is loitering speed (RFMO: 2 kn).
    max_speed_kn: float = Field(2.0, gt=0, le=50)
    #: ... for at least this long (RFMO: 4 h).
    min_duration_h: float = Field(4.0, gt=0)
    #: A silence longer than this ends a loitering.
    max_gap_h: float = Field(2.0, gt=0)
    #: As encounters.port_exclusion_m.
    port_exclusion_m: float = Field(0.0, ge=0, le=50_000)


class WatchlistSettings(_Section):
    """Vessels of interest (README: Watchlist)."""

    #: CSV with a header and columns mmsi, imo, name, list, note (relative to the config file);
    #: none by default.
    path: Path | None = None
    #: Match by name too (weaker: names are not unique; marked "name" in watch_match).
    match_names: bool = True


class ReportSettings(_Section):
    #: Directory that receives one folder per report and the reports index.
    output: Path = Path("reports")
    period: Literal["day", "week"] = "day"
    #: Inline every script and stylesheet so the report opens with no network.
    offline: bool = False
    #: Map tile URL template or a folium tile name; ignored when offline.
    tiles: str = "OpenStreetMap"
    #: Track points are thinned so that a report stays small: at most this many points per vessel.
    max_track_points_per_vessel: int = Field(500, gt=1)


class Settings(_Section):
    """The whole configuration."""

    #: Short title for reports and summaries.
    name: str = "monitor"
    store: StoreSettings = StoreSettings()
    ingest: IngestSettings = IngestSettings()
    geofences: GeofenceSettings = GeofenceSettings()
    detect: DetectSettings = DetectSettings()
    tracks: TrackSettings = TrackSettings()
    events: EventSettings = EventSettings()
    report: ReportSettings = ReportSettings()
    gaps: GapSettings = GapSettings()
    encounters: EncounterSettings = EncounterSettings()
    loitering: LoiteringSettings = LoiteringSettings()
    watchlist: WatchlistSettings = WatchlistSettings()
    #: The file this was loaded from, None for defaults.
    source_path: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: object) -> object:
        """Read ``detect.max_speed_kn`` (where configs before [tracks] set it) as tracks'."""
        if not isinstance(data, dict) or not isinstance(data.get("detect"), dict):
            return data
        if "max_speed_kn" not in data["detect"]:
            return data
        detect = dict(data["detect"])
        speed = detect.pop("max_speed_kn")
        tracks = data.get("tracks", {})
        if not isinstance(tracks, dict):
            return data
        if "max_speed_kn" in tracks and tracks["max_speed_kn"] != speed:
            raise ValueError(
                "detect.max_speed_kn and tracks.max_speed_kn differ; the speed limit is now "
                "tracks.max_speed_kn: remove detect.max_speed_kn"
            )
        log.warning("detect.max_speed_kn is now tracks.max_speed_kn; move it to [tracks]")
        return {**data, "detect": detect, "tracks": {**tracks, "max_speed_kn": speed}}


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """Return the settings model found at ``loc`` (a pydantic error location), if any."""
    model: type[BaseModel] = Settings
    annotation: object = Settings
    for part in loc:
        if isinstance(part, int):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if args else None
        else:
            field = model.model_fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        # Unwrap ``X | None`` to reach a model.
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        candidates = [annotation, *args]
        found = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if found:
            model = found[0]
        elif not isinstance(part, int):
            model = BaseModel
    return model if model is not BaseModel else None


def _key_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _unknown_key_message(loc: tuple[int | str, ...]) -> str:
    model = _model_at(loc[:-1])
    valid = [k for k in (model.model_fields if model else {}) if k != "source_path"]
    msg = "unknown key"
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    if valid:
        parent = _key_name(loc[:-1])
        if not loc[:-1]:
            section = "at the top level"
        elif any(isinstance(part, int) for part in loc):
            section = f"in {parent}"
        else:
            section = f"in [{parent}]"
        msg += f" (valid keys {section}: {', '.join(valid)})"
    return msg


def _format_errors(error: ValidationError, where: str) -> str:
    lines = [f"{where}: invalid configuration"]
    for err in error.errors():
        loc = tuple(err["loc"])
        key = _key_name(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = _unknown_key_message(loc)
        elif kind == "missing":
            msg = "required key is missing; add it"
        elif kind == "model_type":
            msg = f"must be a table ([{key}] or {{ ... }}), got {err.get('input')!r}"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if "input" in err and not isinstance(err["input"], dict):
                msg += f" (got {err['input']!r})"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def _resolve_paths(data: dict[str, object], base: Path) -> None:
    def resolve(value: object) -> object:
        return (
            os.path.normpath(base / Path(value).expanduser()) if isinstance(value, str) else value
        )

    store = data.get("store")
    if isinstance(store, dict) and "path" in store:
        store["path"] = resolve(store["path"])
    geofences = data.get("geofences")
    if isinstance(geofences, dict) and isinstance(geofences.get("files"), list):
        geofences["files"] = [resolve(f) for f in geofences["files"]]
    report = data.get("report")
    if isinstance(report, dict) and "output" in report:
        report["output"] = resolve(report["output"])
    watchlist = data.get("watchlist")
    if isinstance(watchlist, dict) and "path" in watchlist:
        watchlist["path"] = resolve(watchlist["path"])


def parse_config(text: str, path: Path | None = None) -> Settings:
    """Return the settings in TOML ``text``; relative paths are taken from ``path``'s folder."""
    where = str(path) if path else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    if "source_path" in data:
        raise ConfigError(f"{where}: source_path: unknown key; remove it")
    if path is not None:
        _resolve_paths(data, path.resolve().parent)
    try:
        return Settings.model_validate({**data, "source_path": path})
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, where)) from exc


def read_utf8(path: Path, what: str, check: str) -> str:
    """Return the text of the UTF-8 file ``path`` (a byte-order mark is dropped).

    Raises ConfigError naming the file, and where it is not UTF-8; ``what`` names the file in
    the message ("config file") and ``check`` says what to check when it cannot be read.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror}); {check}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, column "
            f"{column}); save it as UTF-8 (in most editors: Save As, encoding UTF-8)"
        ) from exc


def load_config(path: Path | str | None) -> Settings:
    """Return the settings in the TOML file at ``path``, or the defaults when ``path`` is None."""
    if path is None:
        return Settings()
    path = Path(path)
    return parse_config(read_utf8(path, "config file", "check the path"), path)


def shipped_config_path(name: str = "korea") -> Path:
    """Return the path of a config shipped with the monitor (``configs/NAME.toml``)."""
    here = Path(__file__).resolve().parent
    for root in (here / "_configs", here.parent / "configs"):
        candidate = root / f"{name}.toml"
        if candidate.is_file():
            return candidate
    names = sorted(
        {
            p.stem
            for root in (here / "_configs", here.parent / "configs")
            for p in root.glob("*.toml")
        }
    )
    raise ConfigError(
        f"no shipped config named {name!r}; shipped: {', '.join(names) or '(none found)'}"
    )
