"""``monitor serve`` as a real process: a TCP feed in, the store, status, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from monitor.config import load_config
from monitor.service.status import service_status
from tests.service_fixtures import (
    EPOCH0,
    NmeaServer,
    archived_lines,
    port_config,
    voyage_lines,
    wait_for,
)

MONITOR = [sys.executable, "-c", "from monitor.cli import main; main()"]


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}


def write_config(tmp_path: Path, feeds: str, extra: str = "", interval_s: float = 1.0) -> Path:
    config = tmp_path / "service.toml"
    config.write_text(
        port_config(
            tmp_path / "store",
            f'[service]\narchive_dir = "{tmp_path / "archive"}"\n'
            f"ingest_interval_s = {interval_s}\narchive_sync_s = 0.2\n"
            'latest_report_cron = ""\ndaily_report_cron = ""\nweekly_report_cron = ""\n'
            + feeds
            + extra,
        )
    )
    return config


def tcp_feed(port: int) -> str:
    return (
        f'[[service.feeds]]\nname = "shore"\ntype = "tcp"\naddress = "127.0.0.1:{port}"\n'
        "reconnect_min_s = 0.05\nreconnect_max_s = 0.3\n"
    )


def start_service(config: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [*MONITOR, "serve", "--config", str(config), *extra],
            stderr=stderr,
            stdout=subprocess.DEVNULL,
            env=_env(),
        )


def status(config: Path) -> dict[str, Any]:
    """Return the service's status as ``monitor status --json`` would (without a process)."""
    return service_status(load_config(config))


def status_cli(config: Path) -> dict[str, Any]:
    out = subprocess.run(
        [*MONITOR, "status", "--json", "--config", str(config)],
        capture_output=True,
        check=True,
        env=_env(),
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def job_ok(config: Path, job: str) -> bool:
    runs = {j["job"]: j["last"] for j in status(config)["jobs"]}
    last = runs.get(job)
    return last is not None and last["outcome"] == "ok"


def test_serve_ingests_a_tcp_feed_reports_status_and_stops_cleanly(tmp_path: Path) -> None:
    lines = voyage_lines(366_000_001, EPOCH0, name="ALPHA")
    server = NmeaServer()
    server.serve([lines], pace_s=0.0)
    config = write_config(tmp_path, tcp_feed(server.port))
    log = tmp_path / "serve.log"
    proc = start_service(config, log, "--log-format", "json")
    try:
        server.join()
        wait_for(
            lambda: (
                (status(config)["data"] or {}).get("vessels_in_port") is not None
                and job_ok(config, "detect")
                and len(archived_lines(tmp_path / "archive")) == len(lines)
            ),
            timeout_s=60,
            what="the feed in the archive and a detection",
        )
        wait_for(
            lambda: (
                sum(f["lines_total"] for f in status(config)["feeds"] if f["name"] == "shore")
                == len(lines)
            ),
            what="feed counters",
        )
        shown = status_cli(config)
        assert shown["service"]["state"] == "running"
        assert {j["job"] for j in shown["jobs"]} >= {"ingest", "detect", "alerts", "retention"}
        assert all(j["next_run_utc"] for j in shown["jobs"])
        (feed,) = shown["feeds"]
        assert feed["name"] == "shore" and feed["lines_total"] == len(lines)
        assert shown["data"]["newest_message_utc"].startswith("2024-05-01")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any("stopped" in r["message"] for r in records)
    assert status(config)["service"]["state"] == "stopped"
    wait_for(lambda: job_ok(config, "ingest"))


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    log = tmp_path / "serve.log"
    proc = start_service(config, log)
    wait_for(lambda: "service started" in log.read_text(), timeout_s=60, what="start")
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    code = proc.wait(30)
    assert code in (0, 128 + signal.SIGINT)  # the first signal may have finished the stop
    assert time.monotonic() - started < 10
    if code:
        assert "exiting at once" in log.read_text()
