"""Column schemas of every table the monitor stores or exchanges, and the decoded-batch container.

All timestamps are ``Datetime("us", "UTC")``. Units are in column names. "Not available" AIS values
(lat 91, lon 181, SOG 102.3, COG 360, heading 511) are stored as null, never as numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import polars as pl

UTC_US = pl.Datetime("us", "UTC")
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

#: One row per position report (AIS types 1, 2, 3, 18, 19, 27 or a CSV row).
POSITIONS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "timestamp_utc": UTC_US,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "sog_kn": pl.Float64(),
    "cog_deg": pl.Float64(),
    "heading_deg": pl.UInt16(),
    "nav_status": pl.UInt8(),
    "msg_type": pl.UInt8(),
    # Hash of the message itself (armoured payload for NMEA, the row's values for CSV): the same
    # message received twice, by two receivers or from overlapping files, has the same key.
    "msg_key": pl.UInt64(),
    "source": pl.String(),
    # The receiver that heard it (NMEA tag block ``s:``, or the US Coast Guard ``,r<id>``
    # field); null when the input does not say (CSV, older stores).
    "station": pl.String(),
}

#: One row per static/voyage report (AIS types 5, 19, 24A, 24B or CSV identity columns).
#: Fields a message does not carry (a 24A has only the name) are null.
STATICS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "timestamp_utc": UTC_US,
    "msg_type": pl.UInt8(),
    "imo": pl.UInt32(),
    "callsign": pl.String(),
    "vessel_name": pl.String(),
    "ship_type": pl.UInt8(),
    "to_bow_m": pl.UInt16(),
    "to_stern_m": pl.UInt16(),
    "to_port_m": pl.UInt16(),
    "to_starboard_m": pl.UInt16(),
    "draught_m": pl.Float64(),
    "destination": pl.String(),
    # Declared ETA as sent ("MM-DD HH:MM", no year), null when not available.
    "eta": pl.String(),
    "msg_key": pl.UInt64(),
    "source": pl.String(),
}

#: One row per input file read (identified by its fingerprint), updated at each checkpoint
#: (``manifest.parquet``).
MANIFEST_SCHEMA: dict[str, pl.DataType] = {
    # Path as given on the command line ("stdin" for standard input).
    "input": pl.String(),
    # SHA-256 (hex) of the first ``fingerprint_bytes`` raw bytes: the file's identity.
    "fingerprint": pl.String(),
    "fingerprint_bytes": pl.UInt32(),
    # SHA-256 of the 4 KiB of decompressed text just before ``bytes_consumed``: a grown file is
    # resumed only if these bytes are unchanged.
    "tail_fingerprint": pl.String(),
    "format": pl.String(),
    # Raw file size when last read.
    "size_bytes": pl.UInt64(),
    # Decompressed bytes read so far, always at a line boundary.
    "bytes_consumed": pl.UInt64(),
    # Whether the file was read to its end (False after an interrupted run).
    "complete": pl.Boolean(),
    # Counts summed over every run that read this file; positions and statics are rows stored.
    "n_lines": pl.UInt64(),
    "n_messages": pl.UInt64(),
    "n_positions": pl.UInt64(),
    "n_statics": pl.UInt64(),
    "n_rejected": pl.UInt64(),
    "first_utc": UTC_US,
    "last_utc": UTC_US,
    # Wall-clock time of the last checkpoint (bookkeeping only, never used in analysis).
    "ingested_at_utc": UTC_US,
    # In a log whose AIS lines are timed by other lines, what times the lines just after
    # ``bytes_consumed``: a $PGHP or tag-block line still waiting for its sentence (source
    # "pghp" or "tag_block"), and the last $xxZDA/$xxRMC clock sentence ("zda" or "rmc").
    "pending_utc": UTC_US,
    "pending_source": pl.String(),
    "clock_utc": UTC_US,
    "clock_source": pl.String(),
    # True from just before this input's rows are written until the row recording them: left
    # true, it says a run died mid-write, and the next run counts the input's stored rows anew.
    "writing": pl.Boolean(),
}
#: Manifest columns that manifests written by earlier versions lack (read as nulls).
MANIFEST_ADDED = ("pending_utc", "pending_source", "clock_utc", "clock_source", "writing")

#: What the detector measures of a stay in port, the same in raw and enriched calls.
_STAY_COLUMNS: dict[str, pl.DataType] = {
    "duration_h": pl.Float64(),
    "status": pl.String(),  # "in_port" | "departed" | "unknown"
    "confidence": pl.UInt8(),  # 1-4
    "arrival_observed": pl.Boolean(),
    "departure_observed": pl.Boolean(),
    "stopped": pl.Boolean(),
    "stop_observed": pl.Boolean(),
    "anchorage_h": pl.Float64(),
    "berth_h": pl.Float64(),
    "max_gap_h": pl.Float64(),
    "n_positions": pl.UInt32(),
}

#: The mean position of a vessel during a call (map markers, GeoJSON and KML points).
_MEAN_POSITION: dict[str, pl.DataType] = {"lat": pl.Float64(), "lon": pl.Float64()}

#: One row per port call as the detector finds it, before identity is joined
#: (``calls/raw_calls.parquet``).
RAW_CALLS_SCHEMA: dict[str, pl.DataType] = {
    "call_id": pl.String(),
    "mmsi": pl.UInt32(),
    "track_id": pl.String(),
    "port_id": pl.String(),
    "port_name": pl.String(),
    "arrival_utc": UTC_US,
    "departure_utc": UTC_US,
    "last_seen_utc": UTC_US,
    **_STAY_COLUMNS,
    **_MEAN_POSITION,
}

#: One row per visit without a stop shorter than ``min_stay_h`` (``calls/transits.parquet``), and
#: per such visit still under way, its last position so far as departure
#: (``calls/pending.parquet``).
TRANSITS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "track_id": pl.String(),
    "port_id": pl.String(),
    "arrival_utc": UTC_US,
    "departure_utc": UTC_US,
    "duration_h": pl.Float64(),
    "n_positions": pl.UInt32(),
}

#: One row per port call, as exported by ``monitor export calls``.
CALLS_SCHEMA: dict[str, pl.DataType] = {
    "call_id": pl.String(),
    "mmsi": pl.UInt32(),
    # The track (one transmitter) of the MMSI the call belongs to, see monitor.analyse.tracks.
    "track_id": pl.String(),
    "imo": pl.UInt32(),
    "vessel_name": pl.String(),
    "callsign": pl.String(),
    "ship_type": pl.String(),
    "flag": pl.String(),
    "port_id": pl.String(),
    "port_name": pl.String(),
    "arrival_utc": UTC_US,
    "departure_utc": UTC_US,
    "last_seen_utc": UTC_US,
    **_STAY_COLUMNS,
    "arrival_draught_m": pl.Float64(),
    "departure_draught_m": pl.Float64(),
    "destination": pl.String(),
    "prev_port_id": pl.String(),
    "prev_departure_utc": UTC_US,
    # The call's MMSI was in two places at once (a shared_mmsi event): check which ship it was.
    "shared_mmsi": pl.Boolean(),
}

#: The stored calls (``calls/calls.parquet``): CALLS_SCHEMA, then the call's mean position.
CALLS_WITH_POSITION_SCHEMA: dict[str, pl.DataType] = {**CALLS_SCHEMA, **_MEAN_POSITION}

#: The calls of a report: placed on the map, and whether still in port at the period's end.
REPORT_CALLS_SCHEMA: dict[str, pl.DataType] = {
    **CALLS_WITH_POSITION_SCHEMA,
    "in_port_at_end": pl.Boolean(),
}

#: Per vessel, the positions the last detection saw (``calls/checkpoint.parquet``): a vessel
#: whose row changed is detected again.
CALLS_CHECKPOINT_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "n_positions": pl.UInt32(),
    "first_utc": UTC_US,
    "last_utc": UTC_US,
}

#: Tracks: one transmitter's positions of an MMSI (``monitor.analyse.tracks``).
#: One row per track (``Segmentation.tracks``, ``calls/tracks.parquet``), in the order of ``track``.
TRACKS_SCHEMA: dict[str, pl.DataType] = {
    # "<mmsi>-<first position time>" (``366123456-20240301T061500Z``), ``-2``, ``-3`` appended
    # for further tracks of the MMSI starting in the same second: the same data gives the same id.
    "track_id": pl.String(),
    "mmsi": pl.UInt32(),
    "first_utc": UTC_US,
    "last_utc": UTC_US,
    "n_positions": pl.UInt32(),
    "first_lat": pl.Float64(),
    "first_lon": pl.Float64(),
    "last_lat": pl.Float64(),
    "last_lon": pl.Float64(),
}

#: Positions a detection worked on, with their track (``Detection.labelled``): a vessel's from
#: its restart point on (all of them when detected from the start).
LABELLED_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "track_id": pl.String(),
    "timestamp_utc": UTC_US,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "sog_kn": pl.Float64(),
    "cog_deg": pl.Float64(),
}

#: Restart points of detection (``calls/restarts.parquet``): per MMSI, the time from which it is
#: detected again when it has new positions, and segmentation's state there (the seeds: the last
#: fixes of each of its tracks, ``monitor.analyse.track_restarts``), one row per seed.
#: Port-call detection's state before a restart point: the state and the stop by speed of the
#: position before, and when the restart point is in port, the visit so far (null at sea).
CALL_STATE_SCHEMA: dict[str, pl.DataType] = {
    "prior_state": pl.Int8(),
    "by_speed": pl.Boolean(),
    "speed_since_us": pl.Int64(),
    "arrival_us": pl.Int64(),
    # The arrival of the visit's own part (it may be merged with earlier ones) and the time
    # inside the zones of the parts before it.
    "part_arrival_us": pl.Int64(),
    "inside_us": pl.Int64(),
    "n_positions": pl.UInt32(),
    "lat_e9": pl.Int64(),
    "lon_e9": pl.Int64(),
    "max_gap_us": pl.Int64(),
    "anchorage_us": pl.Int64(),
    "berth_us": pl.Int64(),
    "harbour": pl.Boolean(),
    "at_rest": pl.Boolean(),
    "entry": pl.Boolean(),
    "stop": pl.Boolean(),
    "bridged": pl.Boolean(),
    "apart": pl.Boolean(),
}

RESTARTS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "restart_utc": UTC_US,
    # The track the MMSI's positions from the restart point on belong to, and its first fix.
    "track_id": pl.String(),
    "first_utc": UTC_US,
    "first_lat": pl.Float64(),
    "first_lon": pl.Float64(),
    "slot": pl.UInt8(),
    "slot_count": pl.UInt32(),
    "active": pl.Boolean(),
    "kept": pl.Boolean(),
    "timestamp_utc": UTC_US,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "sog_kn": pl.Float64(),
    "joined": pl.Float64(),
    # The MMSI's first position.
    "since_utc": UTC_US,
    # Port-call detection's state at the restart point (the same on each row of the MMSI).
    "call_state": pl.Struct(CALL_STATE_SCHEMA),
}

#: One row per dropped run of displaced positions (``Segmentation.jumps``).
JUMPS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    # The track the positions jumped away from (and came back to).
    "track_id": pl.String(),
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    "n_positions": pl.UInt32(),
    # The first displaced position: where the track jumped to.
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    # The track's position just before the jump (just after, for a run before its first).
    "from_lat": pl.Float64(),
    "from_lon": pl.Float64(),
    "distance_km": pl.Float64(),
}

#: One row per pair of tracks of one MMSI active at the same time far apart
#: (``monitor.analyse.tracks.concurrent_tracks``).
CONCURRENT_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "track_id": pl.String(),
    "other_track_id": pl.String(),
    # First and last moment at which the two were too far apart to be one ship.
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    # Both positions at the first such moment, and how far apart they were.
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "other_lat": pl.Float64(),
    "other_lon": pl.Float64(),
    "distance_km": pl.Float64(),
    # Positions of either track that the other could not have reached.
    "n_positions": pl.UInt32(),
}


#: Positions of the MMSIs with several tracks: mmsi, track_id, timestamp_utc, lat, lon.
MULTI_TRACK_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "track_id": pl.String(),
    "timestamp_utc": UTC_US,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
}


class EventKind(StrEnum):
    """The kinds of event: the values of the events table's ``kind``."""

    SHARED_MMSI = "shared_mmsi"
    POSITION_JUMP = "position_jump"
    IDENTITY_CHANGE = "identity_change"
    IMO_REUSE = "imo_reuse"
    INVALID_MMSI = "invalid_mmsi"
    #: A silence of a track (monitor.analyse.gaps): its cause and where in ``details``.
    GAP = "gap"
    #: Two vessels together at sea (monitor.analyse.encounters).
    ENCOUNTER = "encounter"
    #: One vessel slow for hours outside ports (monitor.analyse.loitering).
    LOITERING = "loitering"


EVENT_KINDS: tuple[str, ...] = tuple(kind.value for kind in EventKind)

#: One row per event (``events/events.parquet``, ``monitor events``, ``monitor export events``).
#: The columns up to ``port_distance_km`` mean the same for every kind; the typed columns after
#: them are shared by the kinds that need them (a kind leaves the others null), and ``details`` is
#: a JSON object for the rest, so that a new kind (dark period, encounter, loitering) adds rows,
#: not columns.
EVENTS_SCHEMA: dict[str, pl.DataType] = {
    # First 16 hex digits of the SHA-1 of kind, vessels, tracks, start and value: the same data
    # gives the same id.
    "event_id": pl.String(),
    # One of EventKind: shared_mmsi | position_jump | identity_change | imo_reuse |
    # invalid_mmsi | gap | encounter | loitering
    "kind": pl.String(),
    "mmsi": pl.UInt32(),
    "track_id": pl.String(),
    # The other vessel, for events about two (imo_reuse; encounters).
    "other_mmsi": pl.UInt32(),
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    # Where the vessel was (shared_mmsi: one track; position_jump: where it jumped to).
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    # The nearest configured port within events.port_radius_km, and how far (0 inside it).
    "port_id": pl.String(),
    "port_distance_km": pl.Float64(),
    # The other track, its position, and the distance between the two positions (shared_mmsi:
    # the other transmitter; position_jump: the track's position before the jump).
    "other_track_id": pl.String(),
    "other_lat": pl.Float64(),
    "other_lon": pl.Float64(),
    "distance_km": pl.Float64(),
    "duration_h": pl.Float64(),
    # Positions involved (position_jump: the displaced reports).
    "n_positions": pl.UInt32(),
    # A changed or shared identity field (vessel_name, imo, callsign, ship_type, mmsi) and its
    # value before and after (imo_reuse: the IMO; invalid_mmsi: why).
    "field": pl.String(),
    "old_value": pl.String(),
    "new_value": pl.String(),
    "details": pl.String(),
}
#: Where :func:`monitor.analyse.events.near_ports` found the nearest port of a point: lat, lon,
#: port_id, port_distance_km (null: none within the radius).
PORTS_NEAR_SCHEMA: dict[str, pl.DataType] = {
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "port_id": pl.String(),
    "port_distance_km": pl.Float64(),
}

#: The points of the thinned vessel tracks drawn on a report's map; ``track`` numbers the tracks
#: (transmitters) of the window's positions, ``segment`` breaks at silences.

#: Dark periods (``monitor.analyse.gaps``), one row per silence of a track, whatever its cause;
#: ``monitor export gaps`` writes these columns.
GAPS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "track_id": pl.String(),
    # Last position before the silence and first after it (null while still silent).
    "gap_start_utc": UTC_US,
    "gap_end_utc": UTC_US,
    # To the end of the data while still silent.
    "duration_h": pl.Float64(),
    "start_lat": pl.Float64(),
    "start_lon": pl.Float64(),
    "end_lat": pl.Float64(),
    "end_lon": pl.Float64(),
    # Straight-line distance between the two positions, and the speed it implies.
    "distance_km": pl.Float64(),
    "implied_speed_kn": pl.Float64(),
    # The configured port nearest to either end, and how far (0 inside; null without ports).
    "near_port_id": pl.String(),
    "port_distance_km": pl.Float64(),
    # near_port | arrived_dark | departed_dark | at_sea
    "kind": pl.String(),
    # dark | coverage | outage | range
    "cause": pl.String(),
    # Still silent at the end of the data.
    "open": pl.Boolean(),
    # What the cause was judged by: the vessel's usual interval around the silence, and the
    # share of the silence in which other vessels near it were heard.
    "usual_interval_h": pl.Float64(),
    "others_heard_share": pl.Float64(),
}

#: Ship-to-ship encounters (``monitor.analyse.encounters``), one row per meeting of a pair.
ENCOUNTERS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi_a": pl.UInt32(),
    "mmsi_b": pl.UInt32(),
    "track_id_a": pl.String(),
    "track_id_b": pl.String(),
    # First and last grid time at which the two were close.
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    "duration_h": pl.Float64(),
    # Where they met: the median of the midpoints between them.
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "median_distance_m": pl.Float64(),
    "median_speed_kn": pl.Float64(),
    # Grid times at which they were close.
    "n_samples": pl.UInt32(),
    # One of the two was dark during the meeting, seen at the spot before and after.
    "partly_dark": pl.Boolean(),
}

#: Loitering (``monitor.analyse.loitering``), one row per slow stay of a track outside ports.
LOITERING_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "track_id": pl.String(),
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    "duration_h": pl.Float64(),
    # The median of its positions meanwhile.
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "median_speed_kn": pl.Float64(),
    "n_positions": pl.UInt32(),
}

#: The points of the thinned vessel tracks drawn on a report's map; ``segment`` breaks at
#: silences.
MAP_TRACK_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "track": pl.UInt32(),
    "segment": pl.UInt32(),
    "timestamp_utc": UTC_US,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
}

#: The simulator's ground truth (``truth/*.csv``): port calls timed by exact polygon crossings.
CALLS_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "vessel_name": pl.String(),
    "port_id": pl.String(),
    "arrival_utc": UTC_US,
    "departure_utc": UTC_US,
    "arrival_observable": pl.Boolean(),
    "departure_observable": pl.Boolean(),
    "kind": pl.String(),  # berth | anchorage_then_berth | anchorage_only
    "anchorage_h": pl.Float64(),
    "berth_h": pl.Float64(),
    # Hours of the call inside the period with AIS on: 0 means no detector can see it.
    "visible_h": pl.Float64(),
}
TRANSITS_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "port_id": pl.String(),
    "entry_utc": UTC_US,
    "exit_utc": UTC_US,
    "duration_h": pl.Float64(),
    "observable": pl.Boolean(),
}
SILENCES_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    "duration_h": pl.Float64(),
    "kind": pl.String(),
    "port_id": pl.String(),
}
MEETINGS_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "mmsi_a": pl.UInt32(),
    "mmsi_b": pl.UInt32(),
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    "duration_h": pl.Float64(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    # The vessel with AIS off during the meeting (null: both on).
    "dark_mmsi": pl.UInt32(),
    # visible (both on, across a midnight UTC) | partly_dark (one off between arriving at the
    # spot and leaving it: seen there before and after) | dark (one off throughout: invisible)
    "kind": pl.String(),
}
VESSELS_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "imo": pl.UInt32(),
    "vessel_name": pl.String(),
    "callsign": pl.String(),
    "ship_type": pl.UInt8(),
    "ais_class": pl.String(),
    "role": pl.String(),
}
#: Identity events the simulated fleet should raise (``truth/identity.csv``).
IDENTITY_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(),  # shared_mmsi | identity_change | imo_reuse | invalid_mmsi
    "mmsi": pl.UInt32(),
    "other_mmsi": pl.UInt32(),
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    "detail": pl.String(),
}
#: Runs of displaced positions (``truth/bursts.csv``).
BURSTS_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    # Reports sent displaced, and how many of them were heard.
    "n_reports": pl.UInt32(),
    "n_heard": pl.UInt32(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "distance_km": pl.Float64(),
    "kind": pl.String(),  # fault (shifted) | spoof (one point)
}
#: Coastal receiver outages (``truth/outages.csv``).
OUTAGES_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "port_id": pl.String(),
    "receiver": pl.String(),
    "start_utc": UTC_US,
    "end_utc": UTC_US,
}
#: Steps of the receiver's logging clock (``truth/clock.csv``).
CLOCK_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "start_utc": UTC_US,
    "end_utc": UTC_US,
    "offset_s": pl.Int64(),
}


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Return an empty frame with exactly ``schema``."""
    return pl.DataFrame(schema=schema)


def conform(frame: FrameT, schema: dict[str, pl.DataType]) -> FrameT:
    """Return ``frame``'s columns of ``schema``, in its order and cast to its types."""
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


@dataclass
class DecodedBatch:
    """What a decoder or CSV reader gives back for one chunk of input."""

    positions: pl.DataFrame = field(default_factory=lambda: empty_frame(POSITIONS_SCHEMA))
    statics: pl.DataFrame = field(default_factory=lambda: empty_frame(STATICS_SCHEMA))
    n_lines: int = 0
    #: Complete AIS messages (after reassembly) or CSV rows accepted.
    n_messages: int = 0
    #: Rejected lines or messages by reason: "bad_checksum", "truncated", "unknown_format",
    #: "no_time", "invalid_field", "invalid_mmsi", "invalid_position", "expired_fragment", ...
    rejected: Counter[str] = field(default_factory=Counter)
    #: Messages of types the monitor does not store, counted by type.
    other_types: Counter[int] = field(default_factory=Counter)
    #: Lines timed by each time source: "tag_block", "pghp", "trailing_epoch", "uscg", "zda",
    #: "rmc", "csv", ...
    time_sources: Counter[str] = field(default_factory=Counter)
