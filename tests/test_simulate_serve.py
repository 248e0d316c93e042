"""The simulator as a live TCP feed (`monitor simulate --serve`); the example service config."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner
from service_fixtures import free_port, tag, untagged, wait_for

from monitor.cli import main
from monitor.config import (
    AlertRule,
    AlertSettings,
    AlertSink,
    FeedSettings,
    ServiceSettings,
    load_config,
)
from monitor.simulate.serve import LineServer, line_time_s

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "configs" / "service.example.toml"


def _read_all(port: int, timeout_s: float = 60.0) -> bytes:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    chunks = []
    with conn:
        while data := conn.recv(1 << 16):
            chunks.append(data)
    return b"".join(chunks)


def test_simulate_serves_its_nmea_over_tcp_to_a_client(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from monitor.cli import main; main()",
            "simulate",
            "--days",
            "0.05",
            "--vessels",
            "3",
            "--output",
            str(tmp_path / "sim"),
            "--serve",
            f"127.0.0.1:{port}",
            "--speed",
            "0",
        ],
        stdout=subprocess.PIPE,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    received = _read_all(port)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    sent = b"".join(p.read_bytes() for p in sorted((tmp_path / "sim" / "nmea").glob("*.nmea")))
    assert received.replace(b"\r\n", b"\n") == sent
    assert b"Served" in out


def test_lines_go_out_when_their_time_comes_at_the_given_speed() -> None:
    lines = [tag(untagged(i), 1_714_521_600 + 10 * i).encode() for i in range(5)]
    assert line_time_s(lines[1]) == 1_714_521_610
    server = LineServer(f"127.0.0.1:{free_port()}")
    got: list[tuple[float, bytes]] = []

    def client() -> None:
        with socket.create_connection(("127.0.0.1", int(server.address.rsplit(":", 1)[1]))) as c:
            buffer = b""
            while data := c.recv(4096):
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    got.append((time.monotonic(), line.rstrip(b"\r")))

    reader = threading.Thread(target=client, daemon=True)
    reader.start()
    summary = server.replay(lines, speed=40.0)  # 40 simulated seconds: one real second
    server.close()
    reader.join(5)
    assert [line for _, line in got] == lines
    assert summary.n_lines == 5 and summary.n_clients == 1
    assert got[-1][0] - got[0][0] >= 0.9


def test_a_client_that_connects_later_gets_the_lines_from_then_on() -> None:
    lines = [tag(untagged(i), 1_714_521_600 + i).encode() for i in range(40)]
    server = LineServer(f"127.0.0.1:{free_port()}")
    port = int(server.address.rsplit(":", 1)[1])
    first = socket.create_connection(("127.0.0.1", port))
    wait_for(lambda: server.summary.n_clients == 1, what="first client")
    replay = threading.Thread(target=server.replay, args=(lines, 20.0), daemon=True)
    replay.start()
    time.sleep(1.0)
    second = socket.create_connection(("127.0.0.1", port))
    replay.join(10)
    server.close()
    with first, second:
        a = b"".join(iter(lambda: first.recv(4096), b"")).splitlines()
        b = b"".join(iter(lambda: second.recv(4096), b"")).splitlines()
    assert len(a) == 40 and 0 < len(b) < 40
    assert a[-len(b) :] == b


def test_the_example_service_config_is_valid_and_shows_every_option() -> None:
    settings = load_config(EXAMPLE)
    assert settings.service.feeds[0].address == "127.0.0.1:10110"
    result = CliRunner().invoke(main, ["config", "check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    text = EXAMPLE.read_text(encoding="utf-8")
    for model in (ServiceSettings, FeedSettings, AlertSettings, AlertRule, AlertSink):
        for key in model.model_fields:
            if key in ("feeds", "rules", "sinks"):
                assert f"[{key}]]" in text.replace("[[service.", "[").replace("[[alerts.", "[")
                continue
            assert f"{key} =" in text, f"{model.__name__}.{key} is not in {EXAMPLE.name}"
