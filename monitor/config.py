"""Settings: the TOML config file, validated on load, with documented defaults.

Every threshold carries its unit in its name. Paths in a config file are relative to that file.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.core.geo import METRES_PER_DEG
from monitor.core.locations import is_url
from monitor.errors import ConfigError

log = logging.getLogger(__name__)
ZoneKind = Literal["port", "berth", "anchorage", "area"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    #: Root directory of the Parquet store, or the URL of a prefix in an S3-compatible object
    #: store (``s3://bucket/prefix``, with ``pip install 'monitor[s3]'``).
    path: Path | str = Path("data/store")

    @field_validator("path", mode="before")
    @classmethod
    def _folder_or_url(cls, value: object) -> object:
        return Path(value) if isinstance(value, str) and not is_url(value) else value

    def folder(self) -> Path:
        """Return the store's local folder, for files updated in place (the service's SQLite
        databases, its heartbeat), which an object store cannot hold."""
        if isinstance(self.path, Path):
            return self.path
        raise ConfigError(
            f"store.path {self.path}: the service and the alerts keep their run log, outbox and "
            "heartbeat in SQLite files beside the store, which need a local (or mounted) folder; "
            "run them on a local store, or ingest and detect into the object store without them"
        )


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
    #: An outage when at least this share of the vessels heard near it fell silent with it (or
    #: when those near it at both ends were heard as regularly as usual in under 1 - this share
    #: of the silence).
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


FeedType = Literal["tcp", "udp", "inbox"]
AlertKind = Literal[
    "arrival",
    "arrival_not_observed",
    "departure",
    "long_stay",
    "watchlist",
    "dark_near_port",
    "encounter",
    "shared_mmsi",
]
#: Alert kinds raised by events (the events table) rather than by port calls.
EVENT_ALERT_KINDS = frozenset({"dark_near_port", "encounter", "shared_mmsi"})
SinkType = Literal["log", "jsonl", "webhook", "smtp"]
#: Keys whose values are secrets: never shown in messages, not even when invalid.
SECRET_KEYS = frozenset({"password", "url"})


def parse_address(
    text: str, default_host: str = "127.0.0.1", *, any_port: bool = False
) -> tuple[str, int]:
    """Return (host, port) of ``host:port``, ``[v6]:port`` or ``:port`` (host ``default_host``).

    With ``any_port``, port 0 (a free port, for a listener) is accepted.
    """
    host, sep, port_text = text.strip().rpartition(":")
    lowest = 0 if any_port else 1
    if not sep or not port_text.isdigit() or not lowest <= int(port_text) < 65536:
        raise ValueError(
            f"address {text!r} must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:10110"
        )
    host = host.strip("[]") or default_host
    return host, int(port_text)


def _cron(text: str, key: str) -> str:
    if text.strip():
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(text, timezone="UTC")
        except ValueError as exc:
            raise ValueError(
                f"{key} {text!r} is not a crontab expression ({exc}); write five fields, "
                "minute hour day month weekday, e.g. '15 0 * * *', or '' to turn the job off"
            ) from exc
    return text


class FeedSettings(_Section):
    """One live feed of the service: a TCP server to read, a UDP port to listen on, or a folder."""

    #: Names the feed in logs and status, and its folder in the archive.
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    #: tcp: connect to ``address`` (AIS-catcher, rtl-ais, gpsd, providers); udp: listen on
    #: ``address``; inbox: ingest files dropped in ``path``.
    type: FeedType
    #: host:port. A UDP listener binds to 127.0.0.1 unless a host is given (":10110" too).
    address: str | None = None
    #: The inbox folder (``processed/`` and ``failed/`` are made inside it).
    path: Path | None = None
    #: NMEA 0183 sentences are at most 82 characters; with tag blocks a few hundred. A longer
    #: line is garbage or an attack and is dropped (counted), so a line is never held without end.
    max_line_bytes: int = Field(1024, ge=128, le=65536)
    #: Beyond this rate a TCP feed is read more slowly (TCP slows the sender down) and a UDP
    #: feed's lines are dropped and counted: a flood cannot fill the disk or memory. A busy
    #: regional feed sends a few hundred lines a second.
    max_lines_per_s: float = Field(20_000.0, gt=0)
    #: TCP: first wait before reconnecting; doubled (with jitter) after each failure ...
    reconnect_min_s: float = Field(1.0, gt=0, le=3600)
    #: ... up to this wait, so a server that is down for hours is not hammered.
    reconnect_max_s: float = Field(60.0, gt=0, le=3600)
    #: TCP: a connection silent for this long is dropped and made again (half-open sockets).
    idle_timeout_s: float = Field(300.0, gt=0)
    #: Inbox: a file is taken once its size has not changed for this long (a copy in progress).
    settle_s: float = Field(5.0, ge=0)

    @model_validator(mode="after")
    def _fields_of_type(self) -> FeedSettings:
        if self.type == "inbox":
            if self.path is None:
                raise ValueError('an inbox feed needs path = "FOLDER"')
            if self.address is not None:
                raise ValueError("an inbox feed reads a folder: remove address, keep path")
        else:
            if self.address is None:
                raise ValueError(f'a {self.type} feed needs address = "HOST:PORT"')
            if self.path is not None:
                raise ValueError(f"a {self.type} feed has no path: remove it, keep address")
            parse_address(self.address)
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self


class ServiceSettings(_Section):
    """``monitor serve``: feeds, the raw archive and the schedule of its jobs (UTC crontabs)."""

    #: Raw archive: every line received, one file per feed and hour, compressed once ingested.
    archive_dir: Path = Path("archive")
    #: New archive lines and inbox files are ingested, and calls detected, this often.
    ingest_interval_s: float = Field(60.0, ge=1)
    feeds: list[FeedSettings] = Field(default_factory=list)
    #: Lines received but not yet archived, all feeds together; beyond this they are dropped
    #: and counted (a disk slower than the feeds must not grow memory without bound).
    queue_lines: int = Field(200_000, ge=1000)
    #: The archive is flushed to the disk (fsync) at most this long after a line arrives; a
    #: killed process loses nothing it had written, a power cut up to this much.
    archive_sync_s: float = Field(1.0, ge=0)
    #: Refresh ``<report.output>/latest/`` (the last report.period of data).
    latest_report_cron: str = "5 * * * *"
    #: A report of the last full UTC day of data, after midnight.
    daily_report_cron: str = "15 0 * * *"
    #: A report of the last full week (Monday to Monday, UTC) of data.
    weekly_report_cron: str = "30 0 * * mon"
    #: Retention and compaction.
    retention_cron: str = "45 3 * * *"
    #: Archive files older than this are deleted; 0 keeps them for ever (they are the source
    #: of truth the store is rebuilt from).
    keep_archive_days: int = Field(0, ge=0)
    #: Positions older than this (message time, whole UTC days) are deleted; 0 keeps them.
    keep_positions_days: int = Field(0, ge=0)

    @field_validator("latest_report_cron", "daily_report_cron", "weekly_report_cron")
    @classmethod
    def _report_cron(cls, value: str) -> str:
        return _cron(value, "report schedule")

    @field_validator("retention_cron")
    @classmethod
    def _retention_cron(cls, value: str) -> str:
        return _cron(value, "retention schedule")

    @model_validator(mode="after")
    def _unique_feeds(self) -> ServiceSettings:
        names = [feed.name for feed in self.feeds]
        doubles = sorted({name for name in names if names.count(name) > 1})
        if doubles:
            raise ValueError(f"feed names must be unique: {', '.join(doubles)} used twice")
        return self


class AlertRule(_Section):
    """One alert rule: which call events make an alert."""

    name: str = Field(min_length=1, max_length=64)
    #: arrival: an observed arrival; arrival_not_observed: first seen already inside;
    #: departure; long_stay: a call longer than min_duration_h; watchlist: a vessel of the
    #: watchlist CSV arriving; dark_near_port: a dark period (cause dark) begun or ended near a
    #: port; encounter: two vessels meeting at sea; shared_mmsi: two transmitters on one MMSI.
    when: AlertKind
    #: Port ids (``port_id`` of the geofences); empty: every watched port.
    ports: list[str] = Field(default_factory=list)
    #: long_stay: hours in port that make a stay long.
    min_duration_h: float | None = Field(None, gt=0)
    #: watchlist: CSV with a header and columns mmsi, imo, name, list, note (any may be empty);
    #: dark_near_port, encounter, shared_mmsi: only the vessels of this CSV (optional).
    watchlist: Path | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> AlertRule:
        if self.when == "long_stay" and self.min_duration_h is None:
            raise ValueError("a long_stay rule needs min_duration_h (hours)")
        if self.when != "long_stay" and self.min_duration_h is not None:
            raise ValueError("min_duration_h is only for long_stay rules; remove it")
        if self.when == "watchlist" and self.watchlist is None:
            raise ValueError(
                'a watchlist rule needs watchlist = "FILE.csv" (mmsi, imo, name, list, note)'
            )
        if (
            self.when != "watchlist"
            and self.when not in EVENT_ALERT_KINDS
            and self.watchlist is not None
        ):
            raise ValueError(
                "watchlist is only for watchlist, dark_near_port, encounter and shared_mmsi "
                "rules; remove it"
            )
        return self


_SINK_KEYS: dict[str, frozenset[str]] = {
    "log": frozenset(),
    "jsonl": frozenset({"path"}),
    "webhook": frozenset(
        {"url", "url_env", "url_file", "timeout_s", "retries", "backoff_s", "ca_file"}
    ),
    "smtp": frozenset(
        {
            "host",
            "port",
            "starttls",
            "username",
            "password",
            "password_env",
            "password_file",
            "sender",
            "to",
            "timeout_s",
            "retries",
            "backoff_s",
            "ca_file",
        }
    ),
}


class AlertSink(_Section):
    """Where alerts go. Secrets come from ``*_env`` (a variable) or ``*_file`` (a file)."""

    #: Names the sink in the outbox; defaults to its type (give names to two sinks of one type).
    name: str | None = Field(None, min_length=1, max_length=64)
    type: SinkType
    #: jsonl: the file that receives one JSON object per line.
    path: Path | None = None
    #: webhook: the URL (it often carries a token: prefer url_env or url_file).
    url: SecretStr | None = None
    url_env: str | None = None
    url_file: Path | None = None
    #: webhook and smtp: seconds to wait for the server, attempts in one cycle, first backoff.
    timeout_s: float = Field(10.0, gt=0, le=300)
    retries: int = Field(3, ge=1, le=10)
    backoff_s: float = Field(1.0, ge=0, le=300)
    #: smtp: server, port (587: submission with STARTTLS), login, sender and recipients.
    host: str | None = None
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    password_file: Path | None = None
    sender: str | None = None
    to: list[str] = Field(default_factory=list)
    #: webhook and smtp: CA certificates (PEM) to trust besides the system's, for a server with
    #: a private certificate authority.
    ca_file: Path | None = None

    @property
    def key(self) -> str:
        """Return the sink's name in the outbox."""
        return self.name or self.type

    @model_validator(mode="after")
    def _fields_of_type(self) -> AlertSink:
        foreign = sorted(self.model_fields_set - _SINK_KEYS[self.type] - {"name", "type"})
        if foreign:
            raise ValueError(f"{foreign[0]} is not a key of {self.type} sinks; remove it")
        if self.type == "jsonl" and self.path is None:
            raise ValueError('a jsonl sink needs path = "FILE.jsonl"')
        if self.type == "webhook":
            given = [k for k in ("url", "url_env", "url_file") if getattr(self, k) is not None]
            if len(given) != 1:
                raise ValueError(
                    "a webhook sink needs exactly one of url_env (an environment variable), "
                    "url_file (a file holding the URL) or url"
                )
        if self.type == "smtp":
            for key in ("host", "sender"):
                if getattr(self, key) is None:
                    raise ValueError(f"an smtp sink needs {key}")
            if not self.to:
                raise ValueError('an smtp sink needs to = ["analyst@example.org", ...]')
            given = [k for k in ("password", "password_env", "password_file") if getattr(self, k)]
            if len(given) > 1:
                raise ValueError("give one of password_env, password_file or password")
            if given and self.username is None:
                raise ValueError("a password needs a username to log in with")
        return self


class AlertSettings(_Section):
    """Alerts: rules on port calls, and the sinks that receive them."""

    rules: list[AlertRule] = Field(default_factory=list)
    #: Without sinks, alerts go to the log.
    sinks: list[AlertSink] = Field(default_factory=list)
    #: Calls whose event is older than this (message time, before the newest message) are
    #: history, not news: the first start over a full store does not send months of alerts.
    max_age_h: float = Field(24.0, gt=0)
    #: A vessel first seen inside a port this soon after the store's first message was there
    #: when the feed began: no ``arrival_not_observed`` alert for it.
    feed_start_grace_h: float = Field(1.0, ge=0)
    #: Where ``report.output`` is published (e.g. https://host/reports/): alerts link
    #: ``<report_url>latest/index.html``; without it they give the file path.
    report_url: str | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> AlertSettings:
        for what, names in (
            ("rule", [rule.name for rule in self.rules]),
            ("sink", [sink.key for sink in self.sinks]),
        ):
            doubles = sorted({name for name in names if names.count(name) > 1})
            if doubles:
                raise ValueError(
                    f"{what} names must be unique: {', '.join(doubles)} used twice"
                    + ("; give each sink a name" if what == "sink" else "")
                )
        return self


#: ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` of a running Dask scheduler, or ``local:N``.
_SCHEDULER = re.compile(r"^(?:(?:tcp|tls)://[^\s:/]+:\d{1,5}|local:[1-9]\d*)$")


class EngineSettings(_Section):
    """Where detection runs: vessel bucket by vessel bucket in this process, or on Dask."""

    #: ``local``: buckets one after another in this process (memory bounded by one bucket);
    #: ``dask``: buckets as tasks on a Dask cluster (``pip install 'monitor[dask]'``).
    kind: Literal["local", "dask"] = "local"
    #: The Dask scheduler: ``tcp://HOST:8786`` of a running cluster, or ``local:N`` to start N
    #: worker processes on this machine for the run. Only read when ``kind`` is ``dask``.
    scheduler: str = "local:2"
    #: Vessels are split into buckets of about this many positions. A bucket's analysis (tracks
    #: and calls) holds about 700 bytes per position at its peak, so 1,000,000 keeps one under
    #: 1 GiB.
    partition_positions: int = Field(1_000_000, gt=0)
    #: A fixed number of vessel buckets instead (0: from ``partition_positions``).
    partitions: int = Field(0, ge=0, le=100_000)

    @field_validator("scheduler")
    @classmethod
    def _scheduler_address(cls, scheduler: str) -> str:
        if not _SCHEDULER.match(scheduler):
            raise ValueError(
                "must be tcp://HOST:PORT (a running Dask scheduler, usually port 8786) or local:N "
                "(N worker processes on this machine)"
            )
        return scheduler


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
    service: ServiceSettings = ServiceSettings()
    alerts: AlertSettings = AlertSettings()
    engine: EngineSettings = EngineSettings()
    #: The file this was loaded from, None for defaults.
    source_path: Path | None = None

    def with_engine(self, **changes: object) -> Settings:
        """Return these settings with the ``[engine]`` keys in ``changes`` that are not None
        replaced, checked as in a config file (ConfigError naming the option otherwise)."""
        given = {key: value for key, value in changes.items() if value is not None}
        if not given:
            return self
        try:
            engine = EngineSettings.model_validate({**self.engine.model_dump(), **given})
        except ValidationError as exc:
            raise ConfigError(_format_errors(exc, "[engine] options")) from exc
        return self.model_copy(update={"engine": engine})

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
            secret = bool(loc) and loc[-1] in SECRET_KEYS
            if "input" in err and not isinstance(err["input"], dict) and not secret:
                msg += f" (got {err['input']!r})"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def _resolve_paths(data: dict[str, object], base: Path) -> None:
    def resolve(value: object) -> object:
        return (
            os.path.normpath(base / Path(value).expanduser()) if isinstance(value, str) else value
        )

    store = data.get("store")
    if isinstance(store, dict) and "path" in store and not is_url(store["path"]):
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
    service = data.get("service")
    if isinstance(service, dict):
        if "archive_dir" in service:
            service["archive_dir"] = resolve(service["archive_dir"])
        _resolve_in_list(service.get("feeds"), ("path",), resolve)
    alerts = data.get("alerts")
    if isinstance(alerts, dict):
        _resolve_in_list(alerts.get("rules"), ("watchlist",), resolve)
        _resolve_in_list(
            alerts.get("sinks"), ("path", "url_file", "password_file", "ca_file"), resolve
        )


def _resolve_in_list(
    items: object, keys: tuple[str, ...], resolve: typing.Callable[[object], object]
) -> None:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                for key in keys:
                    if key in item:
                        item[key] = resolve(item[key])


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
