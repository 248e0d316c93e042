"""The detection job: port calls of every vessel with new positions, written into the store.

Detection is incremental by vessel, and within a vessel from a restart point. Detection of one
vessel depends only on its own positions, so the result is exactly the result of one run over all
the data, whatever the order and the split of the ingests:

* Which vessels have new positions: the data files the last run had seen are recorded, and only
  the files written since are read (a compaction's journal tells which files it merged). When
  files went away otherwise (retention, or a compaction no longer in sight), every vessel's
  positions are counted again and compared with the checkpoint (count, first and last time).
* From where: after each run, each vessel gets a restart point (:mod:`monitor.pipeline.restarts`),
  a fix at sea after which the detector's state depends on nothing before it. A vessel whose new
  positions all come after the point's ``valid_after_utc`` is detected again from there only; one
  with older (late) positions over its whole history. So a cycle reads the new positions and the
  current stay of each vessel that has some, not months of history.

A change of geofences or detection thresholds re-runs every vessel. Identity (name, IMO, call
sign, ship type, destination, draughts) is joined from the static reports for every vessel with
new calls or new static reports, since a static report can arrive after the positions of a call.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import shapely

from monitor.analyse.geofences import Zone, load_zones
from monitor.analyse.portcalls import detect as portcalls
from monitor.analyse.portcalls.identity import enrich
from monitor.config import Settings
from monitor.errors import ConfigError, StoreError
from monitor.pipeline.restarts import (
    latest_points,
    new_files,
    position_changes,
    restart_points,
)
from monitor.schema import CALLS_CHECKPOINT_SCHEMA, POSITIONS_SCHEMA, UTC_US, conform, empty_frame
from monitor.store.calls import (
    CHECKPOINT,
    RESTARTS,
    Detected,
    detected_with,
    load_calls,
    save_detection,
    seen_files,
)
from monitor.store.parquet import Store, live_files

log = logging.getLogger(__name__)

#: Bumped when the detection logic changes, so that stored calls are re-detected.
DETECTOR_VERSION = 2


@dataclass
class DetectSummary:
    """What one ``detect`` run did."""

    vessels_processed: int = 0
    positions_processed: int = 0
    outliers_dropped: int = 0
    calls_total: int = 0
    calls_new: int = 0
    calls_open: int = 0
    transits_total: int = 0
    #: Visits under way that are not calls yet (no stop, shorter than min_stay_h).
    visits_pending: int = 0
    #: True when every vessel was re-detected (first run, or geofences/thresholds changed).
    full_run: bool = True
    #: Vessels re-detected from a restart point rather than over their whole history.
    vessels_from_restart: int = 0
    #: Calls per port id, all stored calls.
    calls_per_port: dict[str, int] = field(default_factory=dict)
    #: Transits per port id, all stored transits.
    transits_per_port: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready values."""
        return asdict(self)


def _fingerprint(zones: list[Zone], settings: Settings) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{DETECTOR_VERSION}|{settings.detect.model_dump_json()}".encode())
    for zone in zones:
        digest.update(f"|{zone.id}|{zone.name}|{zone.kind}|{zone.port_id}|".encode())
        digest.update(shapely.to_wkb(zone.geometry))
    return digest.hexdigest()


def _vessel_checkpoint(store: Store) -> pl.DataFrame:
    checkpoint = (
        store.scan_positions()
        .filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
        .group_by("mmsi")
        .agg(
            n_positions=pl.len().cast(pl.UInt32),
            first_utc=pl.col("timestamp_utc").min(),
            last_utc=pl.col("timestamp_utc").max(),
        )
        .collect()
    )
    return conform(checkpoint, CALLS_CHECKPOINT_SCHEMA)


def _data_folders(store: Store) -> dict[str, list[Path]]:
    return {
        "positions": sorted(store.positions_dir.glob("date=*")),
        "statics": [store.statics_dir],
    }


@dataclass
class _Plan:
    """What a run re-detects: per changed vessel, from where (null: its whole history)."""

    #: mmsi, window_utc (null: whole history), restart_utc (null: whole history).
    vessels: pl.DataFrame
    checkpoint: pl.DataFrame
    #: Vessels with new static reports (None: every vessel), whose identity is joined again.
    statics_changed: pl.Series | None
    seen: dict[str, list[str]] | None


def _plan(store: Store, full: bool) -> _Plan:
    """Return which vessels to re-detect and from where, from the files written since last run."""
    whole = pl.lit(None, UTC_US)
    root = store.root
    folders = _data_folders(store)
    seen = None if full else seen_files(root)
    changes = None
    if seen is not None:
        positions = new_files(root, folders["positions"], set(seen.get("positions", [])))
        statics = new_files(root, folders["statics"], set(seen.get("statics", [])))
        if positions is not None and statics is not None:
            changes = (positions, statics)
    if changes is None:
        # Everything counted again: vessels whose count or time span changed are re-detected
        # over their whole history.
        checkpoint = _vessel_checkpoint(store)
        if full:
            changed = checkpoint.select("mmsi")
        else:
            old = CHECKPOINT.read(root)
            changed = pl.concat(
                [
                    checkpoint.join(old, on=list(CALLS_CHECKPOINT_SCHEMA), how="anti"),
                    # Vessels whose positions are all gone (retention): their calls go too.
                    old.join(checkpoint, on="mmsi", how="anti"),
                ]
            ).select("mmsi")
        live = {
            kind: sorted(f.relative_to(root).as_posix() for d in dirs for f in live_files(d))
            for kind, dirs in folders.items()
        }
        return _Plan(
            vessels=changed.select("mmsi", window_utc=whole, restart_utc=whole),
            checkpoint=checkpoint,
            statics_changed=None,
            seen=live,
        )
    (position_files, live_positions), (statics_files, live_statics) = changes
    new = position_changes(position_files)
    checkpoint = (
        CHECKPOINT.read(root)
        .join(new, on="mmsi", how="full", coalesce=True)
        .with_columns(
            n_positions=pl.col("n_positions").fill_null(0) + pl.col("n_new").fill_null(0),
            first_utc=pl.min_horizontal("first_utc", "first_new_utc"),
            last_utc=pl.max_horizontal("last_utc", "last_new_utc"),
        )
        .select(list(CALLS_CHECKPOINT_SCHEMA))
    )
    # A vessel is detected again from its restart point when all its new positions come after
    # the fixes that point depends on; otherwise (late positions) over its whole history.
    usable = (
        new.join(RESTARTS.read(root), on="mmsi")
        .filter(pl.col("first_new_utc") > pl.col("valid_after_utc"))
        .sort("restart_utc")
        .group_by("mmsi")
        .last()
    )
    vessels = new.select("mmsi").join(
        usable.select("mmsi", "window_utc", "restart_utc"), on="mmsi", how="left"
    )
    statics_changed = (
        pl.scan_parquet(statics_files).select("mmsi").unique().collect()["mmsi"]
        if statics_files
        else pl.Series("mmsi", [], pl.UInt32)
    )
    return _Plan(
        vessels=vessels,
        checkpoint=conform(checkpoint, CALLS_CHECKPOINT_SCHEMA),
        statics_changed=statics_changed,
        seen={"positions": sorted(live_positions), "statics": sorted(live_statics)},
    )


def _positions_from(store: Store, vessels: pl.DataFrame) -> pl.DataFrame:
    """Return the positions of ``vessels`` from each one's ``window_utc`` (null: all of them)."""
    columns = ["mmsi", "timestamp_utc", "lat", "lon", "sog_kn"]
    files = [f for d in sorted(store.positions_dir.glob("date=*")) for f in live_files(d)]
    if not files or vessels.height == 0:
        return empty_frame(POSITIONS_SCHEMA).select(columns)
    scan = pl.scan_parquet(files, schema=POSITIONS_SCHEMA).select(columns)
    windows = vessels["window_utc"]
    if windows.null_count() == 0:
        # Files wholly before the earliest window are skipped on their statistics.
        scan = scan.filter(pl.col("timestamp_utc") >= windows.min())
    return (
        scan.join(vessels.lazy().select("mmsi", "window_utc"), on="mmsi")
        .filter(pl.col("window_utc").is_null() | (pl.col("timestamp_utc") >= pl.col("window_utc")))
        .drop("window_utc")
        .collect()
    )


def _merge(stored: pl.DataFrame, found: pl.DataFrame, vessels: pl.DataFrame) -> pl.DataFrame:
    """Return ``stored`` rows of vessels not re-detected and before each re-detected vessel's
    restart point, with ``found`` rows after it (sorted by vessel and arrival)."""
    restart = vessels.select("mmsi", "restart_utc")
    old = stored.join(restart, on="mmsi", how="left").filter(
        ~pl.col("mmsi").is_in(vessels["mmsi"].implode())
        | (pl.col("restart_utc").is_not_null() & (pl.col("arrival_utc") < pl.col("restart_utc")))
    )
    new = found.join(restart, on="mmsi", how="left").filter(
        pl.col("restart_utc").is_null() | (pl.col("arrival_utc") > pl.col("restart_utc"))
    )
    return pl.concat([old.drop("restart_utc"), new.drop("restart_utc")]).sort("mmsi", "arrival_utc")


def detect_calls(settings: Settings) -> DetectSummary:
    """Return a summary after detecting the calls of every vessel with new positions in the store.

    Calls, transits and the checkpoint are written under ``<store>/calls/`` (atomic writes).
    """
    store_path = Path(settings.store.path)
    if not store_path.is_dir():
        raise StoreError(f"{store_path}: no store here; run `monitor ingest` first or pass --store")
    zones = [zone for zone in load_zones(settings) if zone.kind != "area"]
    if not zones:
        raise ConfigError(
            "no port, berth or anchorage geofences configured; add geofences.files or "
            "geofences.circles to the config"
        )
    store = Store(store_path)
    fingerprint = _fingerprint(zones, settings)
    full = detected_with(store_path) != fingerprint
    old_calls = load_calls(store_path)
    plan = _plan(store, full)
    vessels = plan.vessels
    kept = Detected.empty() if full else Detected.read(store_path, pl.lit(True))
    positions = _positions_from(store, vessels)
    found = portcalls.detect_all(positions, zones, settings.detect)
    detected = Detected(
        raw_calls=_merge(kept.raw_calls, found.calls, vessels),
        transits=_merge(kept.transits, found.transits, vessels),
        pending=_merge(kept.pending, found.pending, vessels),
    )
    stored_points = RESTARTS.read(store_path)
    earlier = vessels.filter(pl.col("restart_utc").is_not_null()).select("mmsi", "restart_utc")
    fresh = restart_points(positions, zones, settings.detect, earlier)
    # Points up to the one a vessel was re-detected from stay valid; later ones are found again.
    still_valid = stored_points.join(earlier.rename({"restart_utc": "used"}), on="mmsi").filter(
        pl.col("restart_utc") <= pl.col("used")
    )
    restarts = latest_points(
        pl.concat(
            [
                stored_points.join(vessels, on="mmsi", how="anti"),
                still_valid.drop("used"),
                fresh.join(
                    still_valid.select("mmsi", "restart_utc"),
                    on=["mmsi", "restart_utc"],
                    how="anti",
                ),
            ]
        )
    )
    if plan.statics_changed is None or full:
        calls = enrich(detected.raw_calls, store.scan_statics().collect())
    else:
        again = pl.concat([vessels["mmsi"], plan.statics_changed]).unique()
        mine = pl.col("mmsi").is_in(again.implode())
        statics = store.scan_statics().filter(mine).collect()
        calls = pl.concat(
            [old_calls.filter(~mine), enrich(detected.raw_calls.filter(mine), statics)]
        ).sort("arrival_utc", "mmsi", "port_id")
    save_detection(store_path, detected, calls, plan.checkpoint, fingerprint, restarts, plan.seen)
    changed = vessels["mmsi"]

    old_ids = set(old_calls["call_id"].to_list())
    transits = detected.transits
    summary = DetectSummary(
        vessels_processed=changed.len(),
        positions_processed=found.n_positions,
        outliers_dropped=found.n_outliers,
        calls_total=calls.height,
        calls_new=sum(1 for cid in calls["call_id"].to_list() if cid not in old_ids),
        calls_open=calls.filter(pl.col("status") == "in_port").height,
        transits_total=transits.height,
        visits_pending=detected.pending.height,
        full_run=full,
        vessels_from_restart=int(vessels["restart_utc"].is_not_null().sum()),
        calls_per_port=dict(sorted(Counter(calls["port_id"].to_list()).items())),
        transits_per_port=dict(sorted(Counter(transits["port_id"].to_list()).items())),
    )
    log.info("detect: %s", summary.to_dict())
    return summary
