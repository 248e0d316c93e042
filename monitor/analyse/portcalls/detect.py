"""Port calls: a per-track state machine over positions, evaluated with polars expressions.

Each MMSI's positions are first split into tracks, one per transmitter
(:mod:`monitor.analyse.tracks`): two ships on one MMSI make two tracks, and runs of displaced
positions are dropped. Calls are found per track. Each vessel (track) is, at each of its
positions, in one of three states: ``at_sea``, ``in_port`` (inside a port's zones, or within its
exit buffer, moving) or ``stopped`` (stopped inside a zone). The states are computed for every
position at once (forward-filled hysteresis), then the transition table of
:mod:`monitor.analyse.portcalls.states` turns the few rows where the state changes into events, as
in Global Fishing Watch's port-visit pipeline:

* a vessel enters on its first position inside a zone of a port and leaves only once it is more
  than ``exit_buffer_m`` outside the port's zones, or inside another port (the buffer keeps a
  vessel that swings at anchor on the boundary from entering and leaving over and over);
* it is stopped by its speed or its positions, for at least ``min_stop_min``
  (:mod:`monitor.analyse.portcalls.stops`); a stop in the exit buffer does not count;
* silence longer than ``max_gap_h`` is a gap: inside a port it is one stay only if the vessel is
  next seen inside the same port and the data is consistent with staying
  (:mod:`monitor.analyse.portcalls.silences`); otherwise the visit ends at its last position
  and, if the vessel is next seen at sea, the departure was not observed.

The berths and anchorages of a port share its ``port_id``, so moving from an anchorage to a berth
is one visit; consecutive visits of a vessel to one port, less than ``merge_gap_h`` apart and
without a trip away between them (:mod:`monitor.analyse.portcalls.trips`), are merged
(:mod:`monitor.analyse.portcalls.visits`), so an anchorage away from the port polygon changes
nothing. A visit runs from the first position inside the port's zones to the last (the buffer only
decides that the vessel has left). A visit with a stop, or spending at least ``min_stay_h`` inside
the zones, is a call, except that a visit seen only in anchorages needs a stop or a report of
being at anchor or moored there; other visits are transits. Open calls are ``in_port``, or
``unknown`` when the vessel has not been heard for ``max_unheard_h``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import polars as pl
import shapely

from monitor.analyse.geofences import Zone, zones_for_points
from monitor.analyse.portcalls.hysteresis import port_hysteresis, zone_tables
from monitor.analyse.portcalls.restarts import (
    call_restarts,
    going_on,
    merged_before,
    resumed_stops,
    visits_before,
)
from monitor.analyse.portcalls.silences import unbridged_silences
from monitor.analyse.portcalls.states import (
    TRANSITIONS,
    CallStatus,
    Event,
    State,
    confidence,
    open_status,
    state_events,
    transition_events,
)
from monitor.analyse.portcalls.stops import stopped_rows
from monitor.analyse.portcalls.trips import visits_after_trips
from monitor.analyse.portcalls.visits import hours, merge_visits, visit_table
from monitor.analyse.positions import with_speeds
from monitor.analyse.track_restarts import CONTEXT, Resume
from monitor.analyse.tracks import Segmentation, segment
from monitor.config import DetectSettings, TrackSettings
from monitor.schema import (
    LABELLED_SCHEMA,
    MULTI_TRACK_SCHEMA,
    RAW_CALLS_SCHEMA,
    RESTARTS_SCHEMA,
    conform,
    empty_frame,
)

log = logging.getLogger(__name__)


_US_PER_H = 3_600_000_000.0
#: Below this many positions per thread, splitting the work costs more than it saves.
_PARALLEL_MIN_ROWS = 400_000
#: Position columns used when the input has them.
_OPTIONAL_COLUMNS = ("nav_status", "cog_deg")


def call_id(mmsi: int, track_id: str, port_id: str, arrival_us: int) -> str:
    """Return the id of a call: a hash of vessel, track, port and arrival (stable across runs)."""
    text = f"{mmsi}|{track_id}|{port_id}|{arrival_us}"
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


@dataclass
class Detection:
    """Everything one detection run finds."""

    #: Calls, :data:`RAW_CALLS_SCHEMA`, sorted by mmsi and arrival.
    calls: pl.DataFrame
    #: Visits that were transits, :data:`TRANSITS_SCHEMA`.
    transits: pl.DataFrame
    #: Events of the state machine: mmsi, timestamp_utc, port_id, event.
    events: pl.DataFrame
    #: Positions used, after displaced runs were dropped.
    n_positions: int
    #: Positions dropped as displaced (runs that jumped away from their track and came back).
    n_dropped: int
    #: Visits still under way that are not calls yet (no stop, shorter than ``min_stay_h``),
    #: :data:`TRANSITS_SCHEMA` with the last position so far as departure.
    pending: pl.DataFrame

    #: One row per track, :data:`monitor.schema.TRACKS_SCHEMA`.
    tracks: pl.DataFrame
    #: One row per dropped run, :data:`monitor.schema.JUMPS_SCHEMA`.
    jumps: pl.DataFrame
    #: Positions of the MMSIs with several tracks, :data:`monitor.schema.MULTI_TRACK_SCHEMA`.
    multi_track: pl.DataFrame
    #: Restart points found (when resuming), :data:`monitor.schema.RESTARTS_SCHEMA`.
    restarts: pl.DataFrame = field(default_factory=lambda: empty_frame(RESTARTS_SCHEMA))
    #: MMSIs that could not be resumed and were left out (column ``mmsi``).
    failed: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"mmsi": pl.UInt32}))
    #: When resuming: the positions worked on with their track ids, :data:`LABELLED_SCHEMA`.
    labelled: pl.DataFrame = field(default_factory=lambda: empty_frame(LABELLED_SCHEMA))


# ---------------------------------------------------------------------------------------------
# Vectorised steps


#: Navigational statuses of a ship that says it is not making way: at anchor, moored.
_AT_REST_STATUSES = (1, 5)
#: Zone kind codes of :func:`_zone_tables`.
_ANCHORAGE = 2


def classify(
    prepared: pl.DataFrame,
    zones: Sequence[Zone],
    settings: DetectSettings,
    context: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return ``prepared`` with per-position port, zone kind, state code, gap flag and visit id.

    ``port`` is the index of the port the vessel is in (after exit hysteresis) or -1; ``state`` is
    0 at sea, 1 in port, 2 stopped inside a zone of the port (a stop in the exit buffer does not
    count); ``visit`` numbers each stay in one port (null at sea); ``inside`` is true inside a
    zone proper (false at sea and in the exit buffer); ``stopped`` is true where the vessel is
    stopped, in port or not (:mod:`monitor.analyse.portcalls.stops`); ``at_rest`` where it
    reports being at anchor or moored and is not making way; ``split`` where a silence in port
    ends the visit (:mod:`monitor.analyse.portcalls.silences`); ``by_speed`` and ``since_us``
    the stop by speed before its length is judged, and when its run began.

    Rows with a ``_prior_state`` go on from a restart point: their stop by speed from
    ``_prior_by_speed`` and ``_prior_since_us``, and stops by position from the positions
    before them in ``context`` (track, timestamp_utc, lat, lon).
    """
    port_zones = [zone for zone in zones if zone.kind != "area"]
    _, _, zone_port, zone_kind = zone_tables(port_zones)
    n = prepared.height
    lon = prepared["lon"].to_numpy()
    lat = prepared["lat"].to_numpy()
    inside = zones_for_points(port_zones, lon, lat)
    # Index -1 picks the sentinel appended to the tables: no port, no kind.
    port_in = zone_port[inside]
    near_port = port_in.copy()
    outside = np.flatnonzero(inside < 0)
    if settings.exit_buffer_m > 0 and outside.size:
        near = zones_for_points(port_zones, lon[outside], lat[outside], settings.exit_buffer_m)
        near_port[outside] = zone_port[near]

    # Per-row states in numpy: each is a few passes over plain arrays.
    # Tracks are separate vessels here (``track``, else ``mmsi``, changes between them).
    unit = prepared["track" if "track" in prepared.columns else "mmsi"].to_numpy()
    first = np.ones(n, dtype=bool)
    first[1:] = unit[1:] != unit[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    port = port_hysteresis(
        lon, lat, port_in, near_port, first, port_zones, zone_port, settings.exit_buffer_m
    )
    speed = prepared["speed_kn"]
    speed_np = speed.to_numpy().astype(np.float64)
    micros = prepared["timestamp_utc"].dt.epoch("us").to_numpy()
    gap = np.zeros(n, dtype=bool)
    gap[1:] = np.diff(micros) > int(settings.max_gap_h * _US_PER_H)
    gap &= ~first
    stops = stopped_rows(
        lat,
        lon,
        micros,
        speed_np,
        speed.is_null().to_numpy(),
        first,
        gap,
        stop_speed_kn=settings.stop_speed_kn,
        move_speed_kn=settings.move_speed_kn,
        min_stop_min=settings.min_stop_min,
        stop_radius_m=settings.stop_radius_m,
        max_gap_us=int(settings.max_gap_h * _US_PER_H),
        resumed=resumed_stops(prepared, unit, first, context),
    )
    stopped = stops.stopped
    at_rest = np.zeros(n, dtype=bool)
    if "nav_status" in prepared.columns:
        # Statuses are set by hand and often left stale under way: only a ship not making way
        # is taken at its word.
        not_moving = ~(speed_np > settings.move_speed_kn)
        at_rest = prepared["nav_status"].is_in(_AT_REST_STATUSES).fill_null(False).to_numpy()
        at_rest &= not_moving
    kind = zone_kind[inside]
    is_inside = port_in >= 0
    in_port = port >= 0
    split = unbridged_silences(
        micros, port, gap, speed_np, stopped | at_rest, is_inside & (kind != _ANCHORAGE), settings
    )
    starts = in_port.copy()
    starts[1:] &= first[1:] | (port[1:] != port[:-1]) | split[1:]
    visit = np.cumsum(starts, dtype=np.uint32)
    state = np.where(in_port, np.where(stopped & is_inside, 2, 1), 0).astype(np.int8)
    return prepared.with_columns(
        kind=pl.Series(kind),
        first=pl.Series(first),
        port=pl.Series(port),
        stopped=pl.Series(stopped),
        at_rest=pl.Series(at_rest),
        gap=pl.Series(gap),
        split=pl.Series(split),
        state=pl.Series(state),
        visit=pl.Series(visit).set(pl.Series(~in_port), None),
        last=pl.Series(last),
        inside=pl.Series(is_inside),
        by_speed=pl.Series(stops.by_speed),
        since_us=pl.Series(stops.since_us),
    )


def prepare_positions(
    positions: pl.LazyFrame | pl.DataFrame,
    tracks: TrackSettings | None = None,
    resume: Resume | None = None,
    *,
    far_s: float = 0.0,
    keep_context: bool = False,
) -> tuple[pl.DataFrame, Segmentation]:
    """Return positions split into tracks with their speeds, and the segmentation.

    The frame has mmsi, timestamp_utc, lat, lon, track and speed_kn (SOG, or the speed implied
    by neighbouring fixes of the track when SOG is missing), then nav_status when ``positions``
    has it, sorted by mmsi, track and time. With ``resume`` (see :func:`segment`), it has
    ``_seq`` too, and the seeds that gave the speeds their context are left out (kept, marked
    in ``_context``, with ``keep_context``).
    """
    lazy = positions.lazy()
    optional = [c for c in _OPTIONAL_COLUMNS if c in lazy.collect_schema().names()]
    columns = ("mmsi", "timestamp_utc", "lat", "lon", "sog_kn", *optional)
    found = segment(lazy.select(*columns), tracks or TrackSettings(), resume, far_s=far_s)
    prepared = with_speeds(found.positions)
    if resume is not None and not keep_context:
        prepared = prepared.filter(~pl.col(CONTEXT)).drop(CONTEXT)
    return prepared, found


def detect_all(
    positions: pl.LazyFrame | pl.DataFrame,
    zones: Sequence[Zone],
    settings: DetectSettings,
    tracks: TrackSettings | None = None,
    *,
    workers: int | None = None,
    resume: Resume | None = None,
    far_s: float = 0.0,
) -> Detection:
    """Return the calls, transits and events found in ``positions`` inside ``zones``.

    With ``resume``, MMSIs with seeds are detected from their restart points on (``positions``
    holds theirs from there) and restart points are looked for
    (:mod:`monitor.analyse.track_restarts`).

    Positions are split into tracks with ``tracks`` (default settings when None) and calls are
    found per track. Vessels are independent, so large inputs are split by MMSI among ``workers``
    threads (default: one per CPU, one per 400,000 positions at most); the result does not depend
    on the split. Open calls are ``in_port`` or ``unknown`` as of the newest position of
    ``positions`` (:func:`monitor.analyse.portcalls.states.open_status`).
    """
    tracks = tracks or TrackSettings()
    lazy = positions.lazy()
    optional = [c for c in _OPTIONAL_COLUMNS if c in lazy.collect_schema().names()]
    frame = lazy.select("mmsi", "timestamp_utc", "lat", "lon", "sog_kn", *optional).collect()
    data_end: datetime | None = frame["timestamp_utc"].max()  # type: ignore[assignment]
    if workers is None:
        workers = min(os.cpu_count() or 1, frame.height // _PARALLEL_MIN_ROWS)
    if workers <= 1:
        found = _detect_part(frame, zones, settings, tracks, resume, far_s)
        return replace(found, calls=open_status(found.calls, data_end, settings.max_unheard_h))

    def run(part: int) -> Detection:
        # GEOS prepared geometries are not thread-safe: each thread prepares its own copies.
        own = [
            replace(zone, geometry=shapely.from_wkb(shapely.to_wkb(zone.geometry)))
            for zone in zones
        ]
        mine = pl.col("mmsi") % workers == part
        own_resume = None if resume is None else replace(resume, seeds=resume.seeds.filter(mine))
        return _detect_part(frame.filter(mine), own, settings, tracks, own_resume, far_s)

    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(run, range(workers)))

    # Each vessel is in one part, so a stable sort by vessel keeps each vessel's own order.
    def joined(name: str) -> pl.DataFrame:
        frames: list[pl.DataFrame] = [getattr(p, name) for p in parts]
        return pl.concat(frames).sort("mmsi", maintain_order=True)

    return Detection(
        calls=open_status(joined("calls"), data_end, settings.max_unheard_h),
        transits=joined("transits"),
        events=joined("events"),
        n_positions=sum(p.n_positions for p in parts),
        n_dropped=sum(p.n_dropped for p in parts),
        pending=joined("pending"),
        tracks=joined("tracks"),
        jumps=joined("jumps"),
        multi_track=joined("multi_track"),
        restarts=joined("restarts"),
        failed=joined("failed"),
        labelled=joined("labelled"),
    )


def _detect_part(
    positions: pl.DataFrame,
    zones: Sequence[Zone],
    settings: DetectSettings,
    tracks: TrackSettings,
    resume: Resume | None = None,
    far_s: float = 0.0,
) -> Detection:
    prepared, segmentation = prepare_positions(
        positions, tracks, resume, far_s=far_s, keep_context=True
    )
    context = None
    if resume is not None:
        context = prepared.filter(pl.col(CONTEXT)).select("track", "timestamp_utc", "lat", "lon")
        prepared = going_on(prepared.filter(~pl.col(CONTEXT)).drop(CONTEXT), context, resume)
    track_ids = segmentation.tracks["track_id"]
    port_zones = [zone for zone in zones if zone.kind != "area"]
    port_ids, port_names, zone_port, _ = zone_tables(port_zones)
    frame = classify(prepared, port_zones, settings, context)
    events = state_events(frame)
    flags = events.group_by("visit").agg(
        entry=(pl.col("event") == Event.ENTER).any(),
        exit=(pl.col("event") == Event.EXIT).any(),
        stop=(pl.col("event") == Event.STOP_BEGIN).any(),
        bridged=(pl.col("event") == Event.GAP_END).any(),
    )
    visit = frame["visit"].fill_null(0).to_numpy().astype(np.int64)
    apart = visits_after_trips(
        visit,
        frame["port"].to_numpy(),
        frame["first"].to_numpy(),
        frame["timestamp_utc"].dt.epoch("us").to_numpy(),
        frame["lon"].to_numpy(),
        frame["lat"].to_numpy(),
        frame["stopped"].to_numpy(),
        port_zones,
        zone_port,
        merge_gap_h=settings.merge_gap_h,
        merge_distance_m=settings.merge_distance_m,
    )
    # A visit opened by a silence that did not bridge never merges back into the one before.
    apart[visit[frame["split"].to_numpy() & (visit > 0)]] = True
    flags = flags.join(
        pl.DataFrame({"visit": np.arange(apart.size, dtype=np.uint32), "apart": apart}),
        on="visit",
        how="full",
        coalesce=True,
    )
    apart_frame = pl.DataFrame({"visit": np.arange(apart.size, dtype=np.uint32), "apart": apart})
    visits_unmerged = visit_table(frame, flags, settings.max_gap_h, visits_before(frame))
    visits = (
        merge_visits(visits_unmerged, settings.merge_gap_h)
        .with_columns(
            duration_h=hours(
                (
                    pl.when(pl.col("open"))
                    .then(pl.col("last_seen_utc"))
                    .otherwise(pl.col("last_in_utc"))
                    - pl.col("arrival_utc")
                ).dt.total_microseconds()
            ),
            port_id=pl.col("port").replace_strict(
                list(range(len(port_ids))), port_ids, return_dtype=pl.String
            ),
            port_name=pl.col("port").replace_strict(
                list(range(len(port_ids))), port_names, return_dtype=pl.String
            ),
        )
        .with_columns(
            # Seen only in anchorages, a vessel made a call there only if it anchored: crossing
            # an anchorage area under way, however long the silence after, is no call.
            is_call=pl.col("stop")
            | pl.when(pl.col("harbour"))
            .then(pl.col("inside_us") >= settings.min_stay_h * _US_PER_H)
            .otherwise(pl.col("at_rest")),
        )
    )
    calls = visits.filter("is_call").with_columns(
        departure_utc=pl.when(~pl.col("open")).then(pl.col("last_in_utc")),
        status=pl.when(pl.col("open"))
        .then(pl.lit(CallStatus.IN_PORT.value))
        .otherwise(pl.lit(CallStatus.DEPARTED.value)),
        confidence=confidence(pl.col("entry"), pl.col("exit"), pl.col("stop")),
        arrival_observed=pl.col("entry"),
        departure_observed=pl.col("exit"),
        # A silence bridged as one stay was spent stopped, though nobody saw it.
        stopped=pl.col("stop") | pl.col("bridged"),
        stop_observed=pl.col("stop"),
        anchorage_h=hours(pl.col("anchorage_us")),
        berth_h=hours(pl.col("berth_us")),
        max_gap_h=hours(pl.col("max_gap_us")),
    )
    calls = calls.with_columns(track_id=track_ids.gather(calls["track"]))
    ids = [
        call_id(m, t, p, a)
        for m, t, p, a in zip(
            calls["mmsi"].to_list(),
            calls["track_id"].to_list(),
            calls["port_id"].to_list(),
            calls["arrival_utc"].dt.epoch("us").to_list(),
            strict=True,
        )
    ]
    calls = conform(calls.with_columns(call_id=pl.Series(ids, dtype=pl.String)), RAW_CALLS_SCHEMA)
    visit_columns = (
        pl.col("mmsi"),
        pl.col("track").map_batches(track_ids.gather, return_dtype=pl.String).alias("track_id"),
        pl.col("port_id"),
        pl.col("arrival_utc"),
        pl.when(pl.col("open"))
        .then(pl.col("last_seen_utc"))
        .otherwise(pl.col("last_in_utc"))
        .alias("departure_utc"),
        pl.col("duration_h"),
        pl.col("n_positions"),
    )
    transits = visits.filter(~pl.col("is_call") & ~pl.col("open")).select(visit_columns)
    pending = visits.filter(~pl.col("is_call") & pl.col("open")).select(visit_columns)
    port_of_visit = visits.select("visit", "port_id").explode("visit")
    events_out = events.join(port_of_visit, on="visit", how="left").select(
        "mmsi", "timestamp_utc", "port_id", "event"
    )
    order = ("mmsi", "arrival_utc", "track_id")
    return Detection(
        calls=calls.sort(order),
        transits=transits.sort(order),
        events=events_out,
        n_positions=prepared.height,
        n_dropped=segmentation.n_dropped,
        pending=pending.sort(order),
        tracks=segmentation.tracks,
        jumps=segmentation.jumps,
        multi_track=segmentation.multi_track().select(list(MULTI_TRACK_SCHEMA)),
        restarts=call_restarts(
            frame,
            segmentation.candidates,
            port_zones,
            settings,
            merged_before(visits_unmerged, visits["visit"]),
            apart_frame,
        ),
        failed=segmentation.failed.to_frame(),
        labelled=_labelled(segmentation) if resume is not None else empty_frame(LABELLED_SCHEMA),
    )


def _labelled(segmentation: Segmentation) -> pl.DataFrame:
    """Return the positions worked on (seeds left out) with their track ids."""
    frame = segmentation.with_track_ids().filter(~pl.col(CONTEXT))
    missing = [pl.lit(None, t).alias(c) for c, t in LABELLED_SCHEMA.items() if c not in frame]
    return conform(frame.with_columns(missing), LABELLED_SCHEMA)


def detect(
    positions: pl.LazyFrame | pl.DataFrame, zones: Sequence[Zone], settings: DetectSettings
) -> pl.DataFrame:
    """Return the port calls (:data:`RAW_CALLS_SCHEMA`) found in ``positions`` inside ``zones``."""
    return detect_all(positions, zones, settings).calls


__all__ = [
    "TRANSITIONS",
    "Detection",
    "Event",
    "State",
    "call_id",
    "classify",
    "confidence",
    "detect",
    "detect_all",
    "prepare_positions",
    "transition_events",
]
