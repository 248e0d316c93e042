"""``monitor serve`` as a real process: a TCP feed in, the store, status, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from service_fixtures import (
    EPOCH0,
    NmeaServer,
    archived_lines,
    free_port,
    port_config,
    strip_tag,
    voyage_lines,
    wait_for,
)

from monitor.alerts.outbox import Outbox
from monitor.config import load_config
from monitor.errors import StoreError
from monitor.service.runner import Service
from monitor.service.status import service_status
from monitor.store.parquet import Store

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
    # Two signals sent back to back can reach the process as one (a pending signal is not
    # queued twice): the second goes once the first is handled.
    wait_for(lambda: "received; stopping" in log.read_text(), timeout_s=30, what="the first signal")
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    code = proc.wait(30)
    assert code in (0, 128 + signal.SIGINT)  # the first signal may have finished the stop
    assert time.monotonic() - started < 10
    if code:
        assert "exiting at once" in log.read_text()


def _service(tmp_path: Path, feeds: str) -> Service:
    settings = load_config(write_config(tmp_path, feeds))
    return Service(settings)


def _stored_positions(tmp_path: Path) -> pl.DataFrame:
    return Store(tmp_path / "store").scan_positions().collect()


def test_every_line_sent_while_connected_reaches_archive_and_store_once(tmp_path: Path) -> None:
    lines = voyage_lines(366_000_001, EPOCH0, name="ALPHA")
    server = NmeaServer(seed=3)
    server.serve([lines[:100], lines[100:101], lines[101:350], lines[350:]], down_s=0.3)
    service = _service(tmp_path, tcp_feed(server.port))
    service.start()
    try:
        server.join()
        wait_for(
            lambda: _stored_positions(tmp_path).height == len(lines) - 2,  # 2 static parts
            timeout_s=30,
            what="every position in the store",
        )
    finally:
        service.stop()
    assert server.connections == 4
    assert sorted(strip_tag(x) for x in archived_lines(tmp_path / "archive")) == sorted(
        strip_tag(x) for x in server.sent
    )
    positions = _stored_positions(tmp_path)
    assert positions.select("mmsi", "msg_key", "timestamp_utc").is_duplicated().sum() == 0
    assert Store(tmp_path / "store").scan_statics().collect()["vessel_name"].to_list() == ["ALPHA"]


def test_every_datagram_reaches_archive_and_store_once(tmp_path: Path) -> None:
    port = free_port()
    feed = f'[[service.feeds]]\nname = "radio"\ntype = "udp"\naddress = "127.0.0.1:{port}"\n'
    service = _service(tmp_path, feed)
    service.start()
    lines = [x for x in voyage_lines(366_000_002, EPOCH0) if "AIVDM,1,1" in x]
    try:
        wait_for(lambda: service.collectors[0].state.state == "listening", what="listening")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for line in lines:
                sender.sendto(line.encode() + b"\r\n", ("127.0.0.1", port))
                time.sleep(0.0005)
        wait_for(
            lambda: _stored_positions(tmp_path).height == len(lines),
            timeout_s=30,
            what="every datagram in the store",
        )
    finally:
        service.stop()
    positions = _stored_positions(tmp_path)
    assert positions.select("mmsi", "msg_key", "timestamp_utc").is_duplicated().sum() == 0
    assert len(archived_lines(tmp_path / "archive")) == len(lines)


WEBHOOK_TOKEN = "xoxb-0000-SECRET-webhook-token"
SMTP_PASSWORD = "p4ss-SECRET-smtp-word"


def test_secrets_never_appear_in_logs_status_run_log_or_outbox(tmp_path: Path) -> None:
    received: list[Any] = []

    class Refusing:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            # A server whose refusal quotes the password: the service must not repeat it.
            return f"554 refused for credentials {SMTP_PASSWORD}"

    def authenticator(*args: Any) -> AuthResult:
        return AuthResult(success=True, handled=False)

    smtp = Controller(
        Refusing(),
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    smtp.start()
    (tmp_path / "smtp.secret").write_text(SMTP_PASSWORD + "\n")
    lines = voyage_lines(366_000_001, EPOCH0, name="ALPHA")
    server = NmeaServer()
    server.serve([lines])
    sinks = (
        '[alerts]\nmax_age_h = 100\n[[alerts.rules]]\nname = "arrivals"\nwhen = "arrival"\n'
        f'[[alerts.sinks]]\ntype = "webhook"\nurl_env = "HOOK_URL"\nretries = 1\n'
        '[[alerts.sinks]]\ntype = "smtp"\nhost = "127.0.0.1"\n'
        f'port = {smtp.port}\nstarttls = false\nusername = "monitor"\n'
        f'password_file = "{tmp_path / "smtp.secret"}"\nsender = "m@example.org"\n'
        'to = ["a@example.org"]\nretries = 1\n'
    )
    config = write_config(tmp_path, tcp_feed(server.port), sinks)
    log = tmp_path / "serve.log"
    env = _env()
    env["HOOK_URL"] = f"http://127.0.0.1:{free_port()}/hooks/{WEBHOOK_TOKEN}"
    with log.open("ab") as stderr:
        proc = subprocess.Popen(
            [*MONITOR, "serve", "--config", str(config)], stderr=stderr, env=env
        )
    try:
        wait_for(lambda: bool(received) and job_ok(config, "alerts"), timeout_s=60, what="an alert")
        time.sleep(2.5)  # another round of failures, and a heartbeat
        cli = [
            subprocess.run([*MONITOR, *args, "--config", str(config)], capture_output=True, env=env)
            for args in (["status"], ["status", "--json"], ["alerts"], ["alerts", "--json"])
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        smtp.stop()
    texts = [log.read_bytes(), *(c.stdout + c.stderr for c in cli)]
    texts += [p.read_bytes() for p in (tmp_path / "store").iterdir() if p.is_file()]
    outbox = Outbox(tmp_path / "store").entries()
    assert outbox and all(e.sent_utc is None for e in outbox)
    assert any("***" in (e.last_error or "") for e in outbox)  # the quoted password, masked
    for secret in (WEBHOOK_TOKEN, SMTP_PASSWORD):
        assert all(secret.encode() not in text for text in texts), secret


def test_one_service_per_store(tmp_path: Path) -> None:
    first = _service(tmp_path, "")
    first.start()
    try:
        with pytest.raises(StoreError, match="another monitor serve"):
            _service(tmp_path, "").start()
    finally:
        first.stop()
    second = _service(tmp_path, "")
    second.start()  # the first one has let go
    second.stop()
