"""Dark periods, encounters and loitering as rows of the events table, and back.

The events table (:data:`monitor.schema.EVENTS_SCHEMA`) has the columns every kind shares;
what only these kinds have goes into ``details`` as JSON, and comes back out typed for their
exports (:data:`GAPS_SCHEMA`, :data:`ENCOUNTERS_SCHEMA`, :data:`LOITERING_SCHEMA`).

- ``gap``: ``lat``/``lon`` the last position before the silence, ``other_lat``/``other_lon``
  the first after (null while still silent), ``port_id`` the port nearest to either;
  ``details``: cause, where (``kind`` of the export), open, implied_speed_kn,
  usual_interval_h, others_heard_share.
- ``encounter``: the first vessel is ``mmsi``/``track_id``, the second ``other_mmsi``/
  ``other_track_id``; ``lat``/``lon`` where they met, ``n_positions`` the grid times they were
  close; ``details``: median_distance_m, median_speed_kn, partly_dark.
- ``loitering``: ``lat``/``lon`` where, ``n_positions`` its positions; ``details``:
  median_speed_kn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from monitor.analyse.encounters import encounters
from monitor.analyse.gaps import dark_periods
from monitor.analyse.geofences import Zone
from monitor.analyse.loitering import loitering
from monitor.analyse.positions import with_speeds
from monitor.analyse.track_restarts import CONTEXT, SEQ, Resume
from monitor.analyse.tracks import segment
from monitor.config import Settings, TrackSettings
from monitor.schema import ENCOUNTERS_SCHEMA, GAPS_SCHEMA, LOITERING_SCHEMA, EventKind, conform

_GAP_DETAILS: dict[str, pl.DataType] = {
    "cause": pl.String(),
    "where": pl.String(),
    "open": pl.Boolean(),
    "implied_speed_kn": pl.Float64(),
    "usual_interval_h": pl.Float64(),
    "others_heard_share": pl.Float64(),
}
_ENCOUNTER_DETAILS: dict[str, pl.DataType] = {
    "median_distance_m": pl.Float64(),
    "median_speed_kn": pl.Float64(),
    "partly_dark": pl.Boolean(),
}
_LOITERING_DETAILS: dict[str, pl.DataType] = {"median_speed_kn": pl.Float64()}


def _details(fields: dict[str, pl.DataType]) -> pl.Expr:
    return pl.struct(list(fields)).struct.json_encode().alias("details")


def _decoded(events: pl.DataFrame, kind: EventKind, fields: dict[str, pl.DataType]) -> pl.DataFrame:
    rows = events.filter(pl.col("kind") == kind.value)
    decoded = (
        rows["details"].str.json_decode(pl.Struct(fields))
        if rows.height
        else pl.Series("details", [], dtype=pl.Struct(fields))
    )
    return rows.drop("details").with_columns(decoded.alias("details")).unnest("details")


#: The columns of positions the behaviour analyses read (``station`` where there is one).
POSITION_COLUMNS = ("mmsi", "timestamp_utc", "lat", "lon", "sog_kn", "cog_deg", "station")


@dataclass
class BehaviourTracks:
    """Positions split into tracks for the behaviour analyses (:func:`behaviour_tracks`)."""

    #: mmsi, track_id, timestamp_utc, lat, lon, sog_kn, cog_deg and speed_kn (SOG, else
    #: implied), each track's rows together in time order.
    positions: pl.DataFrame
    #: The runs of displaced reports left out of the tracks (JUMPS_SCHEMA).
    jumps: pl.DataFrame
    #: MMSIs that could not be resumed from their restart points (left out).
    failed: pl.Series = field(default_factory=lambda: pl.Series("mmsi", [], pl.UInt32()))

    def heard(self) -> pl.DataFrame:
        """Return the positions and, for each run of displaced reports, its first and last
        time at the track's position before it: the vessel was heard then, from wherever, so
        that is no silence of its transmitter."""
        if self.jumps.is_empty():
            return self.positions
        ends = pl.concat(
            [
                self.jumps.select(
                    "mmsi", "track_id", timestamp_utc=column, lat="from_lat", lon="from_lon"
                )
                for column in ("start_utc", "end_utc")
            ]
        )
        return (
            pl.concat([self.positions, ends], how="diagonal_relaxed")
            .select(self.positions.columns)
            .sort("mmsi", "track_id", "timestamp_utc", maintain_order=True)
        )


def behaviour_tracks(
    positions: pl.LazyFrame | pl.DataFrame, settings: TrackSettings, resume: Resume | None = None
) -> BehaviourTracks:
    """Return ``positions`` split into tracks (one per transmitter), with the runs of
    displaced reports the split left out; with ``resume``, the MMSIs with seeds go on from
    their restart points (``positions`` holds theirs from there on), as
    :func:`~monitor.analyse.tracks.segment` says."""
    names = positions.lazy().collect_schema().names()
    found = segment(
        positions.lazy().select(
            *(
                pl.col(c) if c in names else pl.lit(None, pl.String).alias(c)
                for c in POSITION_COLUMNS
            )
        ),
        settings,
        resume,
    )
    frame = with_speeds(found.positions.with_columns(reported_kn=pl.col("sog_kn")))
    frame = frame.rename({"reported_kn": "sog_kn"}).with_columns(
        track_id=found.tracks["track_id"].gather(frame["track"])
    )
    if resume is not None:
        # The remembered fixes before the restart point gave the speeds only.
        frame = frame.filter(~pl.col(CONTEXT)).drop(CONTEXT, SEQ)
    return BehaviourTracks(frame, found.jumps, found.failed)


@dataclass
class Behaviour:
    """What the behaviour analyses found over a set of tracks."""

    gaps: pl.DataFrame
    encounters: pl.DataFrame
    loitering: pl.DataFrame

    def events(self) -> list[pl.DataFrame]:
        """Return them as parts of the events table (see the module docstring)."""
        return [
            gap_events(self.gaps),
            encounter_events(self.encounters),
            loitering_events(self.loitering),
        ]


def find_behaviour(
    found: BehaviourTracks, zones: Sequence[Zone], settings: Settings, data_end: datetime
) -> Behaviour:
    """Return the dark periods, encounters and loitering of the tracks ``found`` up to
    ``data_end``, the newest message time."""
    tracks = found.positions
    gaps = dark_periods(found.heard(), zones, settings.gaps, data_end=data_end, key="track_id")
    dark = gaps.filter(pl.col("cause") == "dark").select(
        "track_id", "gap_start_utc", pl.col("gap_end_utc").fill_null(data_end)
    )
    return Behaviour(
        gaps=gaps,
        encounters=encounters(
            tracks, zones, settings.encounters, key="track_id",
            dark=dark.rename({"gap_start_utc": "start_utc", "gap_end_utc": "end_utc"}),
        ),
        loitering=loitering(tracks, zones, settings.loitering, key="track_id"),
    )  # fmt: skip


def gap_events(gaps: pl.DataFrame) -> pl.DataFrame:
    """Return dark periods (:data:`GAPS_SCHEMA`) as events-table columns."""
    return gaps.select(
        kind=pl.lit(EventKind.GAP.value),
        mmsi="mmsi",
        track_id="track_id",
        start_utc="gap_start_utc",
        end_utc="gap_end_utc",
        lat="start_lat",
        lon="start_lon",
        other_lat="end_lat",
        other_lon="end_lon",
        distance_km="distance_km",
        duration_h="duration_h",
        port_id="near_port_id",
        port_distance_km="port_distance_km",
        details=pl.struct(
            "cause",
            pl.col("kind").alias("where"),
            "open",
            "implied_speed_kn",
            "usual_interval_h",
            "others_heard_share",
        ).struct.json_encode(),
    )


def encounter_events(encounters: pl.DataFrame) -> pl.DataFrame:
    """Return encounters (:data:`ENCOUNTERS_SCHEMA`) as events-table columns."""
    return encounters.select(
        kind=pl.lit(EventKind.ENCOUNTER.value),
        mmsi="mmsi_a",
        track_id="track_id_a",
        other_mmsi="mmsi_b",
        other_track_id="track_id_b",
        start_utc="start_utc",
        end_utc="end_utc",
        lat="lat",
        lon="lon",
        duration_h="duration_h",
        n_positions="n_samples",
        details=_details(_ENCOUNTER_DETAILS),
    )


def loitering_events(loitering: pl.DataFrame) -> pl.DataFrame:
    """Return loitering (:data:`LOITERING_SCHEMA`) as events-table columns."""
    return loitering.select(
        kind=pl.lit(EventKind.LOITERING.value),
        mmsi="mmsi",
        track_id="track_id",
        start_utc="start_utc",
        end_utc="end_utc",
        lat="lat",
        lon="lon",
        duration_h="duration_h",
        n_positions="n_positions",
        details=_details(_LOITERING_DETAILS),
    )


def reportable(events: pl.DataFrame) -> pl.DataFrame:
    """Return the events an analyst reads in a report: all but the silences not caused by a
    switch-off (coverage, outage, range), which are many in any real feed."""
    cause = pl.col("details").str.json_path_match("$.cause")
    return events.filter((pl.col("kind") != EventKind.GAP.value) | (cause == "dark"))


def gaps_of(events: pl.DataFrame) -> pl.DataFrame:
    """Return the ``gap`` events as :data:`GAPS_SCHEMA` rows, in start order."""
    rows = _decoded(events, EventKind.GAP, _GAP_DETAILS)
    return conform(
        rows.with_columns(
            gap_start_utc="start_utc",
            gap_end_utc="end_utc",
            start_lat="lat",
            start_lon="lon",
            end_lat="other_lat",
            end_lon="other_lon",
            near_port_id="port_id",
            kind="where",
        ),
        GAPS_SCHEMA,
    ).sort("gap_start_utc", "mmsi")


def encounters_of(events: pl.DataFrame) -> pl.DataFrame:
    """Return the ``encounter`` events as :data:`ENCOUNTERS_SCHEMA` rows, in start order."""
    rows = _decoded(events, EventKind.ENCOUNTER, _ENCOUNTER_DETAILS)
    return conform(
        rows.with_columns(
            mmsi_a="mmsi",
            mmsi_b="other_mmsi",
            track_id_a="track_id",
            track_id_b="other_track_id",
            n_samples="n_positions",
        ),
        ENCOUNTERS_SCHEMA,
    ).sort("start_utc", "mmsi_a", "mmsi_b")


def loitering_of(events: pl.DataFrame) -> pl.DataFrame:
    """Return the ``loitering`` events as :data:`LOITERING_SCHEMA` rows, in start order."""
    rows = _decoded(events, EventKind.LOITERING, _LOITERING_DETAILS)
    return conform(rows, LOITERING_SCHEMA).sort("start_utc", "mmsi")
