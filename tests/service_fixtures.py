"""Builders for service tests: NMEA lines of known vessels, a real NMEA TCP server on loopback."""

from __future__ import annotations

import math
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from functools import reduce
from pathlib import Path
from typing import Any

from pyais import encode_dict

EPOCH0 = 1_714_521_600  # 2024-05-01 00:00:00 UTC

#: A circle port for alert and detection tests: centre and radius.
PORT_LAT, PORT_LON, PORT_RADIUS_M = 38.70, 125.40, 3000.0
_M_PER_DEG = 111_195.08


def untagged(i: int, mmsi: int = 366_000_000, lat: float = 37.0, lon: float = -122.0) -> str:
    """Return one type-1 position sentence without a time (the service stamps it)."""
    msg: dict[str, Any] = {
        "type": 1,
        "mmsi": mmsi,
        "lat": lat,
        "lon": lon,
        "speed": 5.0,
        "course": 90.0,
        "heading": 88,
        "status": 0,
        "second": i % 60,
    }
    (sentence,) = encode_dict(msg, talker_id="AI", sentence_type="VDM")
    return str(sentence)


def tag(sentence: str, epoch_s: int) -> str:
    body = f"c:{epoch_s}"
    checksum = reduce(lambda a, c: a ^ ord(c), body, 0)
    return f"\\{body}*{checksum:02X}\\{sentence}"


def distinct_lines(n: int, start: int = 0) -> list[str]:
    """Return ``n`` untimed position sentences, all different (each vessel creeps north)."""
    return [
        untagged(i, mmsi=366_000_000 + i % 5, lat=37.0 + i * 1e-4) for i in range(start, start + n)
    ]


def strip_tag(line: str) -> str:
    """Return the sentence of an archived line, without the receive-time tag block."""
    return line.rsplit("\\", 1)[-1] if line.startswith("\\") else line


def archived_lines(root: Path) -> list[str]:
    """Return every line of the archive (plain and compressed files), in file order."""
    import gzip

    out: list[str] = []
    for path in sorted(root.rglob("*.nmea*")):
        if path.name.startswith("."):
            continue
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        out += data.decode("ascii").splitlines()
    return [line for line in out if line]


def voyage_lines(
    mmsi: int, start_s: int, *, step_s: int = 60, stay_h: float = 6.0, name: str | None = None
) -> list[str]:
    """Return tagged sentences of one vessel sailing into the test port, stopping, and leaving.

    It starts 20 km south of the port, comes in at 10 kn, lies stopped ``stay_h`` hours at the
    centre and sails out north. A type-5 static report with ``name`` is sent at the start.
    """
    lines: list[str] = []
    if name is not None:
        static: dict[str, Any] = {
            "type": 5,
            "mmsi": mmsi,
            "shipname": name,
            "callsign": "TEST",
            "imo": 9_000_000 + mmsi % 1_000_000,
            "ship_type": 70,
            "destination": "NAMPO",
        }
        for sentence in encode_dict(static, talker_id="AI", sentence_type="VDM", seq_id=1):
            lines.append(tag(str(sentence), start_s))
    speed_ms = 10 * 1852 / 3600
    t = start_s
    lat = PORT_LAT - 20_000 / _M_PER_DEG
    legs: list[tuple[float, float]] = []  # (lat, sog)
    while lat < PORT_LAT:
        legs.append((lat, 10.0))
        lat += speed_ms * step_s / _M_PER_DEG
    legs += [(PORT_LAT, 0.0)] * math.ceil(stay_h * 3600 / step_s)
    lat = PORT_LAT
    while lat < PORT_LAT + 20_000 / _M_PER_DEG:
        lat += speed_ms * step_s / _M_PER_DEG
        legs.append((lat, 10.0))
    for i, (lat, sog) in enumerate(legs):
        msg: dict[str, Any] = {
            "type": 1,
            "mmsi": mmsi,
            "lat": round(lat, 5),
            "lon": PORT_LON,
            "speed": sog,
            "course": 0.0,
            "heading": 0,
            "status": 0 if sog else 5,
            # Varies from report to report, as real payloads do (the radio bits differ).
            "second": i % 60,
        }
        (sentence,) = encode_dict(msg, talker_id="AI", sentence_type="VDM")
        lines.append(tag(str(sentence), t + i * step_s))
    return lines


def port_config(store: Path, extra: str = "") -> str:
    """Return a config text with the test port as a circle zone and ``extra`` appended."""
    return (
        f'[store]\npath = "{store}"\n'
        "[[geofences.circles]]\n"
        f'id = "testport"\nname = "Test Port"\nlat = {PORT_LAT}\nlon = {PORT_LON}\n'
        f"radius_m = {PORT_RADIUS_M}\n" + extra
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0, what: str = "") -> None:
    """Wait until ``condition()`` holds; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


class NmeaServer:
    """A real TCP server on 127.0.0.1 that serves sessions of lines, dropping between them.

    Each session: listen, accept one client, send the lines in random-sized pieces (cutting lines
    anywhere), close the connection and stop listening for ``down_s``. ``sent`` keeps every line
    that went out to a connected client.
    """

    def __init__(self, port: int | None = None, seed: int = 0) -> None:
        self.port = port or free_port()
        self.sent: list[str] = []
        self.connections = 0
        self._rng = random.Random(seed)
        self._thread: threading.Thread | None = None
        self.stop = threading.Event()

    def serve(
        self, sessions: Iterable[list[str]], down_s: float = 0.3, pace_s: float = 0.0
    ) -> None:
        """Serve ``sessions`` in a background thread."""
        self._thread = threading.Thread(
            target=self._run, args=(list(sessions), down_s, pace_s), daemon=True
        )
        self._thread.start()

    def join(self, timeout_s: float = 30.0) -> None:
        assert self._thread is not None
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the NMEA server did not finish"

    def _run(self, sessions: list[list[str]], down_s: float, pace_s: float) -> None:
        for lines in sessions:
            with socket.socket() as listener:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("127.0.0.1", self.port))
                listener.listen(1)
                listener.settimeout(0.2)
                while not self.stop.is_set():
                    try:
                        conn, _ = listener.accept()
                        break
                    except TimeoutError:
                        continue
                else:
                    return
            self.connections += 1
            with conn:
                self._send(conn, lines, pace_s)
                conn.shutdown(socket.SHUT_WR)
                # Wait for the client to read everything and close its side.
                conn.settimeout(5.0)
                try:
                    while conn.recv(1024):
                        pass
                except OSError:
                    pass
            time.sleep(down_s)

    def _send(self, conn: socket.socket, lines: list[str], pace_s: float) -> None:
        data = "".join(line + "\r\n" for line in lines).encode("ascii")
        at = 0
        sent_lines = 0
        while at < len(data) and not self.stop.is_set():
            size = self._rng.randint(1, 400)
            conn.sendall(data[at : at + size])
            at += size
            done = data.count(b"\n", 0, at)
            self.sent += lines[sent_lines:done]
            sent_lines = done
            if pace_s:
                time.sleep(pace_s)


class StreamingServer:
    """A real TCP server on 127.0.0.1 that streams one list of lines across reconnections.

    Each line goes out once, to whichever client is connected; a client that goes away (killed)
    loses what was in flight, and the next client gets the lines after it. ``n_sent`` counts the
    lines handed to a connection.
    """

    def __init__(self, lines: list[str], lines_per_s: float) -> None:
        self.lines = lines
        self.interval_s = 1.0 / lines_per_s
        self.n_sent = 0
        self.connections = 0
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return self.n_sent >= len(self.lines)

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)
        self._listener.close()

    def _run(self) -> None:
        while not self.stop.is_set() and not self.done:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                try:
                    while not self.stop.is_set() and not self.done:
                        batch = self.lines[self.n_sent : self.n_sent + 5]
                        conn.sendall("".join(x + "\r\n" for x in batch).encode("ascii"))
                        self.n_sent += len(batch)
                        time.sleep(self.interval_s * len(batch))
                    # Hold the connection open: the client decides when it ends.
                    while not self.stop.is_set():
                        time.sleep(0.05)
                except OSError:
                    continue
