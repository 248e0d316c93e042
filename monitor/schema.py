"""Column schemas of every table the monitor stores or exchanges, and the decoded-batch container.

All timestamps are ``Datetime("us", "UTC")``. Units are in column names. "Not available" AIS values
(lat 91, lon 181, SOG 102.3, COG 360, heading 511) are stored as null, never as numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

UTC_US = pl.Datetime("us", "UTC")

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
    "duration_h": pl.Float64(),
    "status": pl.String(),  # "in_port" | "departed"
    "confidence": pl.UInt8(),  # 1-4
    "arrival_observed": pl.Boolean(),
    "departure_observed": pl.Boolean(),
    "stopped": pl.Boolean(),
    "anchorage_h": pl.Float64(),
    "berth_h": pl.Float64(),
    "max_gap_h": pl.Float64(),
    "n_positions": pl.UInt32(),
    "arrival_draught_m": pl.Float64(),
    "departure_draught_m": pl.Float64(),
    "destination": pl.String(),
    "prev_port_id": pl.String(),
    "prev_departure_utc": UTC_US,
}


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Return an empty frame with exactly ``schema``."""
    return pl.DataFrame(schema=schema)


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

    def merge(self, other: DecodedBatch) -> None:
        """Add ``other`` into this batch (frames are concatenated, counters summed)."""
        self.positions = pl.concat([self.positions, other.positions], how="vertical")
        self.statics = pl.concat([self.statics, other.statics], how="vertical")
        self.n_lines += other.n_lines
        self.n_messages += other.n_messages
        self.rejected.update(other.rejected)
        self.other_types.update(other.other_types)
        self.time_sources.update(other.time_sources)
