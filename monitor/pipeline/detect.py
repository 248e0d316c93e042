"""The detection job: tracks, port calls and events of the vessels with new positions, written
into the store.

Detection is incremental by vessel. A checkpoint keeps, per vessel, the number of stored positions
and their first and last time; a run re-detects, over its whole stored history, every vessel whose
checkpoint changed (new positions, however late they arrive) and keeps the stored calls of the
others. Detection of one vessel depends only on its own positions, so the result is exactly the
result of one run over all the data, whatever the order and the split of the ingests. A change of
geofences or detection thresholds re-runs every vessel.

Identity (name, IMO, call sign, ship type, destination, draughts) is joined from the static
reports, since a static report can arrive after the positions of a call: a call is enriched
again when it or its vessel's reports of the days it depends on changed
(:mod:`monitor.pipeline.call_identity`). Identity events follow from per-day summaries of the
static reports, of which only the days that changed are read again
(:mod:`monitor.pipeline.identity_cycle`), and are placed from the days that hold their vessels'
nearest positions (:mod:`monitor.pipeline.placing`). Events replace the store's events table.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
import shapely

from monitor.analyse.events import PortsNear, events_table, position_jump_events
from monitor.analyse.geofences import Zone, load_zones
from monitor.analyse.portcalls.states import CallStatus, open_status
from monitor.config import Settings
from monitor.errors import ConfigError, StoreError
from monitor.pipeline import behaviour_cycle, call_identity, identity_cycle, ledger, placing
from monitor.pipeline.behaviour_buckets import BehaviourJob, merge_behaviour
from monitor.pipeline.behaviour_cycle import CyclePart
from monitor.pipeline.buckets import BucketsFound, file_slices, merge_found
from monitor.pipeline.engines import (
    Engine,
    detect_in_buckets,
    open_engine,
)
from monitor.schema import (
    CALLS_CHECKPOINT_SCHEMA,
    RESTARTS_SCHEMA,
    conform,
    empty_frame,
)
from monitor.store.calls import (
    CALLS,
    RESTARTS,
    TRACKS,
    Detected,
    detected_with,
    detection_writes,
    load_calls,
    save_detection,
)
from monitor.store.events import PORTS_NEAR, load_events, save_events
from monitor.store.fs import StorePath, arrow_source
from monitor.store.fs import store_path as store_root
from monitor.store.locks import ANALYSIS_WAIT_S
from monitor.store.parquet import Store

log = logging.getLogger(__name__)

_PLACE_COLUMNS = ["mmsi", "timestamp_utc", "lat", "lon"]

#: Bumped when the detection logic changes, so that stored calls are re-detected.
DETECTOR_VERSION = 7


@dataclass
class DetectSummary:
    """What one ``detect`` run did."""

    vessels_processed: int = 0
    positions_processed: int = 0
    #: Positions dropped as displaced: runs that jumped away from their track and came back.
    positions_dropped: int = 0
    calls_total: int = 0
    calls_new: int = 0
    calls_open: int = 0
    #: Open calls of vessels not heard for longer than max_unheard_h (status unknown).
    calls_unknown: int = 0
    transits_total: int = 0
    #: Visits under way that are not calls yet (no stop, shorter than min_stay_h).
    visits_pending: int = 0
    #: True when every vessel was re-detected (first run, or geofences/thresholds changed).
    full_run: bool = True
    #: Vessels detected from their restart point on, not over their whole history.
    vessels_resumed: int = 0
    #: Vessels whose dark periods', encounters' and loitering's parts were found from their
    #: cut on, not over their whole history.
    behaviour_resumed: int = 0
    #: Calls per port id, all stored calls.
    calls_per_port: dict[str, int] = field(default_factory=dict)
    #: Transits per port id, all stored transits.
    transits_per_port: dict[str, int] = field(default_factory=dict)
    #: Tracks of all vessels (one per transmitter; an MMSI used by two ships has two).
    tracks_total: int = 0
    #: MMSIs with more than one track.
    mmsis_several_tracks: int = 0
    #: MMSIs with two tracks far apart at the same time (a shared_mmsi event).
    mmsis_shared: int = 0
    events_total: int = 0
    #: Events per kind, all stored events.
    events_per_kind: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready values."""
        return asdict(self)


def _fingerprint(zones: list[Zone], settings: Settings) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{DETECTOR_VERSION}|{settings.detect.model_dump_json()}".encode())
    digest.update(settings.tracks.model_dump_json().encode())
    digest.update(settings.events.model_dump_json().encode())
    # The dark periods', encounters' and loitering's stored parts depend on theirs.
    for section in (settings.gaps, settings.encounters, settings.loitering):
        digest.update(section.model_dump_json().encode())
    for zone in zones:
        digest.update(f"|{zone.id}|{zone.name}|{zone.kind}|{zone.port_id}|".encode())
        digest.update(shapely.to_wkb(zone.geometry))
    return digest.hexdigest()


def detect_calls(settings: Settings, *, lock_wait_s: float = ANALYSIS_WAIT_S) -> DetectSummary:
    """Return a summary after detecting the calls of every vessel with new positions in the store.

    Calls, transits and the checkpoint are written under ``<store>/calls/`` (atomic writes),
    holding the store's analysis lock: a second run waits up to ``lock_wait_s`` seconds for the
    first to end, as two runs that overlap could leave one's calls with the other's checkpoint.
    """
    store_path = store_root(settings.store.path)
    if not store_path.is_dir():
        raise StoreError(f"{store_path}: no store here; run `monitor ingest` first or pass --store")
    zones = [zone for zone in load_zones(settings) if zone.kind != "area"]
    if not zones:
        raise ConfigError(
            "no port, berth or anchorage geofences configured; add geofences.files or "
            "geofences.circles to the config"
        )
    store = Store(store_path)
    with (
        store.analysis_writer("detect", wait_s=lock_wait_s),
        open_engine(settings.engine) as engine,
    ):
        return _detect_locked(store, zones, settings, engine)


def _detect_locked(
    store: Store, zones: list[Zone], settings: Settings, engine: Engine
) -> DetectSummary:
    store_path = store.root
    fingerprint = _fingerprint(zones, settings)
    # One listing of the position files for the ledger and the detection alike: rows an
    # ingest adds meanwhile are in neither, so the ledger never covers rows not detected.
    files = store.position_files()
    full = detected_with(store_path) != fingerprint
    found_changes = ledger.changes(store_path, files, full=full)
    checkpoint = conform(ledger.checkpoint(found_changes.ledger), CALLS_CHECKPOINT_SCHEMA)
    old_ids = _old_call_ids(store_path, full)
    restarts = empty_frame(RESTARTS_SCHEMA) if full else RESTARTS.read(store_path)
    changed = checkpoint["mmsi"] if full else found_changes.changed["mmsi"]
    if full:
        kept = Detected.empty()
        resumed = restarts.select("mmsi", "restart_utc").unique()
    else:
        # Vessels changed only after their restart point go on from there; the others (new
        # vessels, late positions before it) are detected over their whole history.
        points = restarts.group_by("mmsi").agg(pl.col("restart_utc").first())
        resumed = found_changes.changed.join(points, on="mmsi").filter(
            pl.col("changed_utc") >= pl.col("restart_utc")
        )
    behaviour = _behaviour_job(checkpoint, zones, settings)
    run = _run(
        files, found_changes.ledger, zones, settings, engine, restarts, resumed, changed, full,
        behaviour=behaviour if full else None,
    )  # fmt: skip
    found, concurrent = run.detection, run.concurrent
    resumed = resumed.filter(~pl.col("mmsi").is_in(found.failed["mmsi"].implode()))
    if not full:
        kept = _kept(store_path, changed, resumed)
    # Vessels detected again carry their new restart point, resumed ones without one keep theirs.
    new_points = pl.concat(
        [
            found.restarts,
            restarts.filter(
                pl.col("mmsi").is_in(resumed["mmsi"].implode())
                & ~pl.col("mmsi").is_in(found.restarts["mmsi"].implode())
                & ~pl.col("mmsi").is_in(found.failed["mmsi"].implode())
            ),
            restarts.filter(~pl.col("mmsi").is_in(changed.implode())),
        ]
    ).sort("mmsi", "slot", "timestamp_utc")
    # Open calls are in port or unknown as of the newest message in the store, kept ones too.
    data_end = checkpoint["last_utc"].max() if checkpoint.height else None
    raw_calls = pl.concat([kept.raw_calls, found.calls]).sort("mmsi", "arrival_utc")
    detected = Detected(
        raw_calls=open_status(raw_calls, data_end, settings.detect.max_unheard_h),  # type: ignore[arg-type]
        transits=pl.concat([kept.transits, found.transits]).sort("mmsi", "arrival_utc"),
        pending=pl.concat([kept.pending, found.pending]).sort("mmsi", "arrival_utc"),
        tracks=pl.concat([kept.tracks, found.tracks]).sort("mmsi", "first_utc", "track_id"),
        jumps=pl.concat([kept.jumps, found.jumps]).sort("mmsi", "start_utc"),
        concurrent=pl.concat([kept.concurrent, concurrent]).sort("mmsi", "start_utc", "track_id"),
    )
    statics_files = store.statics_files()
    identities = identity_cycle.update(store, statics_files, full=full)
    several = detected.tracks.filter(pl.len().over("mmsi") > 1)["mmsi"].unique()
    shared = detected.concurrent["mmsi"].unique()
    calls = call_identity.enrich_calls(
        store,
        statics_files,
        identities,
        detected.raw_calls,
        None if full else _stored_calls(store_path),
        several_tracks=several.to_list(),
        several_before=[] if full else _several_before(store_path),
        shared=shared.to_list(),
    )
    shared_events = call_identity.shared_events(
        store,
        statics_files,
        identities,
        detected.concurrent,
        None if full else _stored_events(store_path),
    )
    identity_parts = identities.identity_events(checkpoint)
    placed = placing.nearest_positions(
        files,
        found_changes.ledger,
        placing.queries_of(identity_parts),
        empty_frame(placing.PLACED_SCHEMA) if full else placing.PLACED.read(store_path),
        found_changes.changed,
    )
    cycle: CyclePart | None = None
    behaviours: list[pl.DataFrame] = []
    if behaviour is not None:
        cycle = behaviour_cycle.update(
            store_path,
            files,
            found_changes,
            engine,
            behaviour,
            found=run.behaviour if full else None,
            reset=changed.filter(~changed.is_in(resumed["mmsi"].implode())),
            points=new_points,
            last=checkpoint.select("mmsi", "last_utc"),
        )
        found_behaviour = merge_behaviour(
            [dict(cycle.part)],
            behaviour,
            engine.map,
            pairs_fn=cycle.pairs,
            along=cycle.along,
            known=cycle.features,
        )
        behaviours = found_behaviour.events()
    ports = PortsNear(None if full else _stored_ports(store_path))
    events = _find_events(
        detected, shared_events, identity_parts, placed, behaviours, zones, settings, ports
    )
    with detection_writes(store_path, fingerprint):
        save_detection(store_path, detected, calls, checkpoint, new_points)
        ledger.save(store_path, found_changes)
        save_events(store_path, events)
        assert ports.found is not None
        PORTS_NEAR.write(store_path, ports.found)
        identity_cycle.save(store_path, identities)
        placing.PLACED.write(store_path, placed)
        if cycle is not None:
            cycle.save(store_path)

    transits = detected.transits
    summary = DetectSummary(
        vessels_processed=changed.len(),
        positions_processed=found.n_positions,
        positions_dropped=found.n_dropped,
        calls_total=calls.height,
        calls_new=sum(1 for cid in calls["call_id"].to_list() if cid not in old_ids),
        calls_open=calls.filter(pl.col("status") == CallStatus.IN_PORT).height,
        calls_unknown=calls.filter(pl.col("status") == CallStatus.UNKNOWN).height,
        transits_total=transits.height,
        visits_pending=detected.pending.height,
        full_run=full,
        vessels_resumed=0 if full else resumed.height,
        behaviour_resumed=0 if cycle is None else cycle.resumed,
        calls_per_port=dict(sorted(Counter(calls["port_id"].to_list()).items())),
        transits_per_port=dict(sorted(Counter(transits["port_id"].to_list()).items())),
        tracks_total=detected.tracks.height,
        mmsis_several_tracks=several.len(),
        mmsis_shared=shared.len(),
        events_total=events.height,
        events_per_kind=dict(sorted(Counter(events["kind"].to_list()).items())),
    )
    log.info("detect: %s", summary.to_dict())
    return summary


def _behaviour_job(
    checkpoint: pl.DataFrame, zones: list[Zone], settings: Settings
) -> BehaviourJob | None:
    """Return the job of finding the dark periods, encounters and loitering of every track of
    the store (None without positions). They depend on the vessels around each (who else was
    heard, who met whom), so they are merged over the parts of all vessels on every run (the
    parts of vessels without new positions kept from the last one, the close pairs of days
    without new samples too): the same data gives the same events however it was ingested."""
    start = checkpoint["first_utc"].dt.epoch("us").min()
    end = checkpoint["last_utc"].dt.epoch("us").max()
    if not isinstance(start, int) or not isinstance(end, int):
        return None
    return BehaviourJob(zones=tuple(zones), settings=settings, data_end_us=end, data_start_us=start)


def _find_events(
    detected: Detected,
    shared_events: pl.DataFrame,
    identity_parts: list[pl.DataFrame],
    placed: pl.DataFrame,
    behaviour: list[pl.DataFrame],
    zones: list[Zone],
    settings: Settings,
    ports: PortsNear,
) -> pl.DataFrame:
    """Return the events of the whole store: from the tracks, then from the static reports
    (``identity_parts``), placed where their vessels were at the time (``placed``), and
    ``behaviour``'s (dark periods, encounters, loitering); the nearest ports of their points
    taken from ``ports`` where known."""
    changes, reuse, invalid = identity_parts
    positions = placed.select(_PLACE_COLUMNS).unique()
    parts = [
        shared_events,
        position_jump_events(detected.jumps),
        changes,
        reuse,
        invalid,
        *behaviour,
    ]
    return events_table(
        parts,
        positions=positions,
        tracks=detected.tracks,
        zones=zones,
        port_radius_km=settings.events.port_radius_km,
        ports=ports,
    )


def _stored_events(store_path: StorePath) -> pl.DataFrame | None:
    """Return the stored events, None when they are unreadable (found all again)."""
    try:
        return load_events(store_path)
    except StoreError:
        return None


def _stored_ports(store_path: StorePath) -> pl.DataFrame | None:
    """Return the stored nearest ports of the events' points (none in a store without them),
    None when unreadable (all are measured again)."""
    try:
        return PORTS_NEAR.read(store_path)
    except StoreError:
        return None


def _stored_calls(store_path: StorePath) -> pl.DataFrame | None:
    """Return the stored calls, None when they are unreadable (enriched all again)."""
    try:
        return load_calls(store_path)
    except StoreError:
        return None


def _several_before(store_path: StorePath) -> list[int]:
    """Return the MMSIs that had several tracks as the last detection left them."""
    tracks = TRACKS.read(store_path)
    return tracks.filter(pl.len().over("mmsi") > 1)["mmsi"].unique().to_list()


def _old_call_ids(store_path: StorePath, full: bool) -> set[str]:
    """Return the ids of the stored calls (to count new ones). Calls of an older detector may
    lack columns: a full run needs only their ids, and detects them all again."""
    try:
        return set(load_calls(store_path)["call_id"].to_list())
    except StoreError:
        if not full:
            raise
        path = store_path / CALLS.name
        try:
            return set(pl.read_parquet(str(path), columns=["call_id"])["call_id"].to_list())
        except (OSError, pl.exceptions.PolarsError):
            return set()


def _kept(store_path: StorePath, changed: pl.Series, resumed: pl.DataFrame) -> Detected:
    """Return the stored rows that stay: all of the vessels without new positions, and of the
    resumed ones, what came before their restart point (their active track, and every track,
    call, displaced run and pair of concurrent tracks from it on, are found again)."""
    stored = Detected.read(
        store_path,
        ~pl.col("mmsi").is_in(changed.implode()) | pl.col("mmsi").is_in(resumed["mmsi"].implode()),
    )
    stored_points = RESTARTS.read(store_path).filter(pl.col("active"))
    # A restart point in port goes on with the visit it is in: that visit is found again.
    visits = stored_points.group_by("mmsi").agg(
        _going_on=pl.col("call_state").first().struct.field("arrival_us")
    )
    points = resumed.select("mmsi", "restart_utc").join(visits, on="mmsi", how="left")
    restarts = stored_points.select("mmsi", "track_id").unique()

    def before(frame: pl.DataFrame, column: str, visits: bool = False) -> pl.DataFrame:
        joined = frame.join(points, on="mmsi", how="left", maintain_order="left")
        going_on = (pl.col(column).dt.epoch("us") == pl.col("_going_on")) & visits
        return joined.filter(
            pl.col("restart_utc").is_null()
            | ((pl.col(column) < pl.col("restart_utc")) & ~going_on.fill_null(False))
        ).drop("restart_utc", "_going_on")

    active = restarts.filter(pl.col("mmsi").is_in(points["mmsi"].implode()))
    return Detected(
        raw_calls=before(stored.raw_calls, "arrival_utc", visits=True),
        transits=before(stored.transits, "arrival_utc", visits=True),
        pending=before(stored.pending, "arrival_utc", visits=True),
        tracks=before(stored.tracks, "first_utc").join(active, on=["mmsi", "track_id"], how="anti"),
        jumps=before(stored.jumps, "start_utc"),
        concurrent=before(stored.concurrent, "start_utc"),
    )


def _run(
    files: list[StorePath],
    hours: pl.DataFrame,
    zones: list[Zone],
    settings: Settings,
    engine: Engine,
    restarts: pl.DataFrame,
    resumed: pl.DataFrame,
    changed: pl.Series,
    full: bool,
    *,
    behaviour: BehaviourJob | None = None,
) -> BucketsFound:
    """Return the detection of the vessels that changed: the ``resumed`` ones (mmsi,
    restart_utc) from their restart points, reading the days from there on only, then those
    detected over their whole history (the others, and resumed ones that could not go on).
    A full run finds the ``behaviour`` parts of every vessel in the same pass."""
    sources = [arrow_source(f) for f in files]
    filesystem = sources[0][1] if sources else None
    parts: list[BucketsFound] = []
    failed = pl.Series("mmsi", [], pl.UInt32())
    if resumed.height:
        first_day = resumed["restart_utc"].min().date()  # type: ignore[union-attr]
        recent = [
            name
            for f, (name, _) in zip(files, sources, strict=True)
            if f.parent.name >= f"date={first_day.isoformat()}"
        ]
        since = hours.join(resumed, on="mmsi").filter(
            pl.col("hour_utc") >= pl.col("restart_utc").dt.truncate("1h")
        )
        sizes = since.group_by("mmsi").agg(pl.col("n_positions").sum())
        slices = file_slices(
            recent, settings.engine.partition_positions, filesystem, vessels=resumed["mmsi"]
        )
        seeds = restarts.filter(pl.col("mmsi").is_in(resumed["mmsi"].implode()))
        vessels = resumed.select("mmsi", "restart_utc")
        part = detect_in_buckets(
            engine,
            slices,
            sizes,
            zones,
            settings,
            vessels=vessels,
            filesystem=filesystem,
            seeds=seeds,
            resume=True,
        )
        parts.append(part)
        failed = part.detection.failed["mmsi"]
    todo = changed.filter(~changed.is_in(resumed["mmsi"].implode())).append(failed).sort()
    if full or todo.len() or not parts:
        # The days with positions of the vessels to detect (nothing changed: none, an empty
        # detection).
        names = [name for name, _ in sources]
        if not full:
            days = ledger.days_of(hours, todo)
            names = [n for f, n in zip(files, names, strict=True) if f.parent.name in days]
        slices = file_slices(
            names, settings.engine.partition_positions, filesystem, vessels=None if full else todo
        )
        sizes = hours.group_by("mmsi").agg(pl.col("n_positions").sum())
        parts.append(
            detect_in_buckets(
                engine,
                slices,
                sizes,
                zones,
                settings,
                vessels=None if full else todo,
                filesystem=filesystem,
                resume=True,
                behaviour=behaviour if full else None,
            )
        )
    return merge_found(parts)
