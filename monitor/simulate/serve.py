"""A simulated live feed: NMEA lines served over TCP at a multiple of real time.

The lines are replayed in file order, each when its tag-block time (``c:``) comes, scaled by
``speed`` (60: a simulated hour a minute; 0: as fast as the clients read). The replay starts when
the first client connects; a client that connects later gets the lines from then on, as from a
live receiver. A client that falls behind by more than ``max_queued_chunks`` chunks loses
lines (counted) rather than slowing the others.
"""

from __future__ import annotations

import logging
import queue
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor.config import parse_address

log = logging.getLogger(__name__)

_TIME = re.compile(rb"[\\,]c:(\d{9,13})")
#: Lines sent together when their times have come.
_CHUNK_LINES = 500


@dataclass
class ServeSummary:
    """What a replay did."""

    n_lines: int = 0
    n_clients: int = 0
    n_dropped: int = 0
    seconds: float = 0.0


def line_time_s(line: bytes) -> float | None:
    """Return the tag-block time of ``line`` in epoch seconds (``c:`` in s or ms), else None."""
    found = _TIME.search(line)
    if found is None:
        return None
    value = int(found.group(1))
    return value / 1000 if len(found.group(1)) >= 12 else float(value)


def read_lines(paths: Iterable[Path]) -> Iterator[bytes]:
    """Yield the non-empty lines of ``paths``, in order, without their line ends."""
    for path in paths:
        with path.open("rb") as handle:
            for line in handle:
                line = line.rstrip(b"\r\n")
                if line:
                    yield line


class _Client:
    def __init__(self, conn: socket.socket, max_queued_chunks: int, summary: ServeSummary) -> None:
        self.conn = conn
        self.queue: queue.Queue[bytes | None] = queue.Queue(max_queued_chunks)
        self.alive = True
        self.summary = summary
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def offer(self, chunk: bytes, n_lines: int) -> None:
        try:
            self.queue.put_nowait(chunk)
        except queue.Full:
            self.summary.n_dropped += n_lines

    def _send(self) -> None:
        with self.conn:
            while True:
                chunk = self.queue.get()
                if chunk is None:
                    break
                try:
                    self.conn.sendall(chunk)
                except OSError:
                    break
            self.alive = False

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(5)


class LineServer:
    """A TCP server on ``address`` (127.0.0.1 unless a host is given; port 0: a free one) that
    replays lines."""

    def __init__(self, address: str, *, max_queued_chunks: int = 2000) -> None:
        host, port = parse_address(address, any_port=True)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(8)
        self._listener.settimeout(0.2)
        self.address = f"{host}:{self._listener.getsockname()[1]}"
        self.max_queued_chunks = max_queued_chunks
        self.summary = ServeSummary()
        self.stop = threading.Event()
        self._clients: list[_Client] = []
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            log.info("client %s:%s connected", *peer[:2])
            with self._lock:
                self._clients.append(_Client(conn, self.max_queued_chunks, self.summary))
                self.summary.n_clients += 1
            self._connected.set()

    def _broadcast(self, lines: list[bytes]) -> None:
        chunk = b"".join(line + b"\r\n" for line in lines)
        with self._lock:
            self._clients = [c for c in self._clients if c.alive]
            for client in self._clients:
                client.offer(chunk, len(lines))

    def replay(self, lines: Iterable[bytes], speed: float) -> ServeSummary:
        """Send ``lines`` to every client, paced by their times at ``speed`` times real time.

        Waits for a first client; returns when the lines are sent or :attr:`stop` is set.
        """
        while not self._connected.wait(0.2):
            if self.stop.is_set():
                return self.summary
        started = time.monotonic()
        first_s: float | None = None
        newest_s = 0.0
        pending: list[bytes] = []
        for line in lines:
            if self.stop.is_set():
                break
            at = line_time_s(line)
            if speed > 0 and at is not None:
                if first_s is None:
                    first_s = at
                # Late lines (older than one already sent) go at once, as a feed delivers them.
                newest_s = max(newest_s, at)
                due = started + (newest_s - first_s) / speed
                wait = due - time.monotonic()
                if wait > 0.05 or len(pending) >= _CHUNK_LINES:
                    self._flush(pending)
                    pending = []
                    if wait > 0:
                        self.stop.wait(wait)
            pending.append(line)
            if len(pending) >= _CHUNK_LINES:
                self._flush(pending)
                pending = []
        self._flush(pending)
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def _flush(self, lines: list[bytes]) -> None:
        if lines:
            self._broadcast(lines)
            self.summary.n_lines += len(lines)

    def close(self) -> None:
        """Let the clients take what is queued for them, then close every connection."""
        self.stop.set()
        self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.close()
