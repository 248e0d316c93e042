"""The service's status: a heartbeat file the service rewrites, and what ``monitor status`` shows.

The running service writes ``<store>/service.status.json`` every few seconds: its process id,
each feed's state and each job's next run. ``monitor status`` (another process) reads it with
the run log and the store: each job's last and next run, the data lag (now minus the newest
message), positions today, vessels in port now and each feed's state. Nothing in it is secret:
feeds have none, and errors are masked before they are recorded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from monitor.config import Settings
from monitor.core.atomic import atomic_write_text
from monitor.store.calls import load_calls
from monitor.store.fs import scan_parquet
from monitor.store.object_lock import process_alive
from monitor.store.parquet import Store, live_files
from monitor.store.runlog import RunLog

STATUS_NAME = "service.status.json"
#: The service rewrites its heartbeat this often; three missed beats mean it is not running.
HEARTBEAT_S = 2.0


def status_path(store_root: Path) -> Path:
    return Path(store_root) / STATUS_NAME


def write_heartbeat(
    store_root: Path, payload: dict[str, Any], redact: Callable[[str], str] = str
) -> None:
    """Replace the heartbeat file with ``payload`` and the current time, secrets masked."""
    payload = {**payload, "heartbeat_utc": dt.datetime.now(dt.UTC).isoformat()}
    text = redact(json.dumps(payload, indent=1, default=str))
    atomic_write_text(status_path(store_root), text)


def _read_heartbeat(store_root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(status_path(store_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    return process_alive(pid)


def _service_state(beat: dict[str, Any] | None, now: dt.datetime) -> str:
    if beat is None:
        return "never started"
    if beat.get("state") == "stopped":
        return "stopped"
    when = dt.datetime.fromisoformat(str(beat.get("heartbeat_utc")))
    if (now - when).total_seconds() > 3 * HEARTBEAT_S or not _alive(beat.get("pid")):
        return "not running (no heartbeat since " + when.isoformat(timespec="seconds") + ")"
    return str(beat.get("state", "running"))


def _data(store: Store, now: dt.datetime) -> dict[str, Any]:
    newest = store.newest_position_time()
    today = live_files(store.partition_dir(now.date()))
    positions_today = int(scan_parquet(today).select(pl.len()).collect().item()) if today else 0
    calls = load_calls(store.root)
    in_port = calls.filter(pl.col("status") == "in_port")
    return {
        "newest_message_utc": newest.isoformat() if newest else None,
        "lag_s": (now - newest).total_seconds() if newest else None,
        "positions_today": positions_today,
        "vessels_in_port": in_port["mmsi"].n_unique(),
        "in_port_per_port": dict(sorted(in_port["port_id"].value_counts().iter_rows())),
    }


def service_status(settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    """Return everything ``monitor status`` shows, as plain JSON-ready values."""
    now = now or dt.datetime.now(dt.UTC)
    root = settings.store.folder()
    beat = _read_heartbeat(root)
    state = _service_state(beat, now)
    running = state not in ("stopped", "never started") and not state.startswith("not running")
    next_runs: dict[str, Any] = dict(beat.get("next_runs", {})) if beat and running else {}
    last = RunLog(root).last_runs()
    jobs = []
    for name in sorted(set(last) | set(next_runs)):
        run = last.get(name)
        jobs.append(
            {
                "job": name,
                "last": run.to_dict() if run else None,
                "next_run_utc": next_runs.get(name),
            }
        )
    store = Store(root)
    return {
        "service": {
            "state": state,
            "pid": beat.get("pid") if beat else None,
            "started_utc": beat.get("started_utc") if beat else None,
            "heartbeat_utc": beat.get("heartbeat_utc") if beat else None,
            "archive": beat.get("archive") if beat else None,
        },
        "store": str(root),
        "jobs": jobs,
        "data": _data(store, now) if store.root.is_dir() else None,
        "feeds": beat.get("feeds", []) if beat else [],
    }
