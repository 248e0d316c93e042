"""Port calls in the store: incremental detection, enrichment with identity, loading, export.

Detection is incremental by vessel. A checkpoint keeps, per vessel, the number of stored positions
and their first and last time; a run re-detects, over its whole stored history, every vessel whose
checkpoint changed (new positions, however late they arrive) and keeps the stored calls of the
others. Detection of one vessel depends only on its own positions, so the result is exactly the
result of one run over all the data, whatever the order and the split of the ingests. A change of
geofences or detection thresholds re-runs every vessel.

Identity (name, IMO, call sign, ship type, destination, draughts) is joined from the static
reports on every run, since a static report can arrive after the positions of a call.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
import shapely

from monitor.analyse.geofences import Zone, load_zones
from monitor.analyse.portcalls import detect as portcalls
from monitor.analyse.vessels import flag_expr, ship_type_expr
from monitor.config import Settings
from monitor.core.atomic import atomic_write_text
from monitor.errors import ConfigError, StoreError
from monitor.schema import CALLS_SCHEMA, UTC_US, empty_frame
from monitor.store.parquet import Store, atomic_write_parquet

log = logging.getLogger(__name__)

#: Bumped when the detection logic changes, so that stored calls are re-detected.
DETECTOR_VERSION = 3

#: Columns of :func:`load_calls`: CALLS_SCHEMA, then the call's mean position (map markers).
CALLS_WITH_POSITION_SCHEMA: dict[str, pl.DataType] = {
    **CALLS_SCHEMA,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
}

_CHECKPOINT_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "n_positions": pl.UInt32(),
    "first_utc": UTC_US,
    "last_utc": UTC_US,
}

ExportFormat = Literal["csv", "parquet", "geojson"]


def calls_dir(store_path: Path) -> Path:
    """Return the folder of a store that holds calls, transits and the detection checkpoint."""
    return Path(store_path) / "calls"


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
    transits_total: int = 0
    #: Visits under way that are not calls yet (no stop, shorter than min_stay_h).
    visits_pending: int = 0
    #: True when every vessel was re-detected (first run, or geofences/thresholds changed).
    full_run: bool = True
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
    digest.update(settings.tracks.model_dump_json().encode())
    for zone in zones:
        digest.update(f"|{zone.id}|{zone.name}|{zone.kind}|{zone.port_id}|".encode())
        digest.update(shapely.to_wkb(zone.geometry))
    return digest.hexdigest()


def _read(path: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not path.is_file():
        return empty_frame(schema)
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.ComputeError) as exc:
        raise StoreError(
            f"{path}: unreadable ({exc}); delete it and run `monitor detect` again"
        ) from exc
    missing = set(schema) - set(frame.columns)
    if missing:
        raise StoreError(
            f"{path}: missing columns {sorted(missing)}; delete it and run `monitor detect` again"
        )
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _latest(
    left: pl.DataFrame, statics: pl.DataFrame, at: str, fields: list[str], suffix: str
) -> pl.DataFrame:
    """Return ``left`` with each field's latest non-null value at or before ``left[at]``.

    Fields never reported before that time take the first value reported after it when
    ``suffix`` is empty (identity); draughts (non-empty suffix) stay null.
    """
    right = statics.select("mmsi", "timestamp_utc", *fields).rename(
        {"timestamp_utc": "__t", **{name: f"{name}{suffix}__b" for name in fields}}
    )
    keyed = left.with_row_index("__row").sort(at)
    joined = keyed.join_asof(
        right, left_on=at, right_on="__t", by="mmsi", strategy="backward", check_sortedness=False
    )
    if not suffix:
        ahead = statics.select("mmsi", "timestamp_utc", *fields).rename(
            {"timestamp_utc": "__t", **{name: f"{name}__f" for name in fields}}
        )
        # "Latest non-null" looking forward is the first non-null after: fill backwards.
        ahead = ahead.with_columns(
            pl.col(f"{name}__f").backward_fill().over("mmsi") for name in fields
        )
        joined = joined.join_asof(
            ahead.sort("__t"),
            left_on=at,
            right_on="__t",
            by="mmsi",
            strategy="forward",
            check_sortedness=False,
        )
        joined = joined.with_columns(
            pl.coalesce(f"{name}__b", f"{name}__f").alias(name) for name in fields
        )
    else:
        joined = joined.rename({f"{name}{suffix}__b": f"{name}{suffix}" for name in fields})
    return joined.sort("__row").drop(
        "__row", *(c for c in joined.columns if c.endswith(("__b", "__f", "__t", "_right")))
    )


def enrich(raw_calls: pl.DataFrame, statics: pl.DataFrame) -> pl.DataFrame:
    """Return calls with identity, draughts, destination and previous call (load_calls columns).

    Identity fields are the latest reported at or before the end of the call (departure, or last
    position for a call under way), else the first reported after; draughts are the latest at or
    before arrival and departure; the destination is the latest declared at or before arrival,
    else the first declared after.
    """
    identity = ["imo", "callsign", "vessel_name", "ship_type"]
    # Each static message carries only some fields (a 24A only the name): carry every field
    # forward so that a row holds the latest known value of each.
    known = (
        statics.select("mmsi", "timestamp_utc", *identity, "draught_m", "destination")
        .with_columns(
            pl.col("vessel_name", "callsign", "destination").str.strip_chars().replace("", None)
        )
        .sort("mmsi", "timestamp_utc")
        .with_columns(pl.col(*identity, "draught_m", "destination").forward_fill().over("mmsi"))
        .sort("timestamp_utc")
    )
    calls = raw_calls.with_columns(
        __end=pl.coalesce("departure_utc", "last_seen_utc"),
    )
    calls = _latest(calls, known, "__end", identity, "")
    calls = _latest(calls, known, "arrival_utc", ["destination"], "")
    calls = _latest(calls, known, "arrival_utc", ["draught_m"], "_arrival")
    calls = _latest(calls, known, "__end", ["draught_m"], "_departure")
    calls = (
        calls.sort("mmsi", "arrival_utc")
        .with_columns(
            ship_type=ship_type_expr(pl.col("ship_type")),
            flag=flag_expr(pl.col("mmsi")),
            arrival_draught_m=pl.col("draught_m_arrival"),
            departure_draught_m=pl.col("draught_m_departure"),
            prev_port_id=pl.col("port_id").shift(1).over("track_id"),
            prev_departure_utc=pl.col("departure_utc").shift(1).over("track_id"),
        )
        .sort("arrival_utc", "mmsi", "port_id")
    )
    return calls.select(
        [pl.col(name).cast(dtype) for name, dtype in CALLS_WITH_POSITION_SCHEMA.items()]
    )


def _vessel_checkpoint(store: Store) -> pl.DataFrame:
    return (
        store.scan_positions()
        .filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
        .group_by("mmsi")
        .agg(
            n_positions=pl.len().cast(pl.UInt32),
            first_utc=pl.col("timestamp_utc").min(),
            last_utc=pl.col("timestamp_utc").max(),
        )
        .collect()
        .select([pl.col(name).cast(dtype) for name, dtype in _CHECKPOINT_SCHEMA.items()])
    )


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
    folder = calls_dir(store_path)
    state_path = folder / "state.json"
    fingerprint = _fingerprint(zones, settings)
    previous_state: dict[str, Any] = {}
    if state_path.is_file():
        try:
            previous_state = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            log.warning("%s unreadable; re-detecting every vessel", state_path)

    checkpoint = _vessel_checkpoint(store)
    old_checkpoint = _read(folder / "checkpoint.parquet", _CHECKPOINT_SCHEMA)
    raw_path, transits_path = folder / "raw_calls.parquet", folder / "transits.parquet"
    pending_path = folder / "pending.parquet"
    full = previous_state.get("fingerprint") != fingerprint or not raw_path.is_file()
    old_calls = load_calls(store_path)
    if full:
        changed = checkpoint["mmsi"]
        raw = empty_frame(portcalls.RAW_CALLS_SCHEMA)
        transits = empty_frame(portcalls.TRANSITS_SCHEMA)
        pending = empty_frame(portcalls.TRANSITS_SCHEMA)
    else:
        unchanged = checkpoint.join(old_checkpoint, on=list(_CHECKPOINT_SCHEMA), how="semi")
        changed = checkpoint.join(unchanged, on="mmsi", how="anti")["mmsi"]
        keep = pl.col("mmsi").is_in(unchanged["mmsi"].implode())
        raw = _read(raw_path, portcalls.RAW_CALLS_SCHEMA).filter(keep)
        transits = _read(transits_path, portcalls.TRANSITS_SCHEMA).filter(keep)
        pending = _read(pending_path, portcalls.TRANSITS_SCHEMA).filter(keep)

    positions = store.scan_positions()
    if not full:
        positions = positions.filter(pl.col("mmsi").is_in(changed.implode()))
    found = portcalls.detect_all(positions, zones, settings.detect, settings.tracks)
    raw = pl.concat([raw, found.calls]).sort("mmsi", "arrival_utc")
    transits = pl.concat([transits, found.transits]).sort("mmsi", "arrival_utc")
    pending = pl.concat([pending, found.pending]).sort("mmsi", "arrival_utc")
    calls = enrich(raw, store.scan_statics().collect())

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(raw, raw_path)
    atomic_write_parquet(transits, transits_path)
    atomic_write_parquet(pending, pending_path)
    atomic_write_parquet(calls, folder / "calls.parquet")
    # The checkpoint goes last: if a run stops before, the next run re-detects those vessels.
    atomic_write_parquet(checkpoint, folder / "checkpoint.parquet")
    atomic_write_text(state_path, json.dumps({"fingerprint": fingerprint}))

    old_ids = set(old_calls["call_id"].to_list())
    summary = DetectSummary(
        vessels_processed=changed.len(),
        positions_processed=found.n_positions,
        positions_dropped=found.n_dropped,
        calls_total=calls.height,
        calls_new=sum(1 for cid in calls["call_id"].to_list() if cid not in old_ids),
        calls_open=calls.filter(pl.col("status") == "in_port").height,
        transits_total=transits.height,
        visits_pending=pending.height,
        full_run=full,
        calls_per_port=dict(sorted(Counter(calls["port_id"].to_list()).items())),
        transits_per_port=dict(sorted(Counter(transits["port_id"].to_list()).items())),
    )
    log.info("detect: %s", summary.to_dict())
    return summary


def load_calls(store_path: Path | str) -> pl.DataFrame:
    """Return the stored calls (CALLS_SCHEMA, then ``lat``/``lon``), sorted by arrival."""
    path = calls_dir(Path(store_path)) / "calls.parquet"
    return _read(path, CALLS_WITH_POSITION_SCHEMA).sort("arrival_utc", "mmsi", "port_id")


def load_transits(store_path: Path | str) -> pl.DataFrame:
    """Return the stored transits (visits without a stop shorter than min_stay_h)."""
    path = calls_dir(Path(store_path)) / "transits.parquet"
    return _read(path, portcalls.TRANSITS_SCHEMA)


def filter_calls(
    calls: pl.DataFrame,
    *,
    port_id: str | None = None,
    mmsi: int | None = None,
    since: Any = None,
    open_only: bool = False,
) -> pl.DataFrame:
    """Return the calls at ``port_id``, of ``mmsi``, in port at or after ``since``, or open."""
    if port_id is not None:
        calls = calls.filter(pl.col("port_id") == port_id)
    if mmsi is not None:
        calls = calls.filter(pl.col("mmsi") == mmsi)
    if since is not None:
        calls = calls.filter(pl.col("departure_utc").is_null() | (pl.col("departure_utc") >= since))
    if open_only:
        calls = calls.filter(pl.col("status") == "in_port")
    return calls


def _iso_times(calls: pl.DataFrame) -> pl.DataFrame:
    return calls.with_columns(
        pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        for name, dtype in calls.schema.items()
        if isinstance(dtype, pl.Datetime)
    )


def calls_to_csv(calls: pl.DataFrame) -> str:
    """Return the calls as CSV: CALLS_SCHEMA columns, times ISO 8601 UTC ending in ``Z``."""
    return _iso_times(calls.select(list(CALLS_SCHEMA))).write_csv()


def calls_to_geojson(calls: pl.DataFrame) -> str:
    """Return the calls as a GeoJSON FeatureCollection of points at each call's mean position."""
    props = _iso_times(calls.select(list(CALLS_SCHEMA))).to_dicts()
    # A call without a position (no valid fix) gets a null geometry, as RFC 7946 allows.
    features = [
        {
            "type": "Feature",
            "geometry": (
                None if lat is None or lon is None else {"type": "Point", "coordinates": [lon, lat]}
            ),
            "properties": p,
        }
        for p, lat, lon in zip(props, calls["lat"].to_list(), calls["lon"].to_list(), strict=True)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def export_calls(calls: pl.DataFrame, fmt: ExportFormat, output: Path | None) -> str | None:
    """Write ``calls`` to ``output`` in ``fmt``; return the text instead when ``output`` is None."""
    if fmt == "parquet":
        if output is None:
            raise ConfigError("--format parquet needs --output FILE (Parquet is not text)")
        atomic_write_parquet(calls.select(list(CALLS_SCHEMA)), output)
        return None
    text = calls_to_csv(calls) if fmt == "csv" else calls_to_geojson(calls)
    if output is None:
        return text
    atomic_write_text(output, text)
    return None
