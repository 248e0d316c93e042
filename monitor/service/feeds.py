"""Live feed collectors: a TCP client and a UDP listener, each in its own thread.

A collector cuts what it receives into bounded lines (:class:`LineFramer`), stamps them with
their receive time (:class:`LineStamper`) and hands them to the archive. Lines beyond the feed's
rate limit, too long, or that find the archive's queue full are dropped and counted by reason.

The TCP client reconnects with capped exponential backoff and full jitter, so that many services
do not reconnect to one server in step. Each outage is logged once: a warning when a connection
that carried data is lost (or the first attempt fails), then nothing until it is back.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitor.config import FeedSettings, parse_address
from monitor.service.lines import LineFramer, LineStamper, datagram_lines, is_prefix_line

log = logging.getLogger(__name__)

#: How often a blocked socket call wakes up to check for shutdown.
_POLL_S = 0.5
#: A TCP feed waits this long for room in the archive's queue before it drops lines: meanwhile
#: TCP slows the sender down, and nothing is lost to a short stall of the disk.
TCP_BACKPRESSURE_S = 2.0
_RECV_BYTES = 1 << 16


class LineSink(Protocol):
    """Where collectors put lines (the archive)."""

    def put(self, feed: str, lines: list[bytes], wait_s: float = 0.0) -> bool: ...


@dataclass
class FeedState:
    """What a feed is doing, for ``monitor status`` (thread-safe)."""

    name: str
    type: str
    #: connecting | connected | reconnecting | listening | watching | stopped | failed
    state: str = "starting"
    connected_since: float | None = None
    lines_total: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None
    last_error_at: float | None = None
    _per_second: deque[tuple[int, int]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count_lines(self, n: int, now: float) -> None:
        second = int(now)
        with self._lock:
            self.lines_total += n
            if self._per_second and self._per_second[-1][0] == second:
                self._per_second[-1] = (second, self._per_second[-1][1] + n)
            else:
                self._per_second.append((second, n))
            while self._per_second and self._per_second[0][0] <= second - 60:
                self._per_second.popleft()

    def drop(self, reason: str, n: int) -> None:
        if n:
            with self._lock:
                self.dropped[reason] += n

    def set(self, state: str, *, error: str | None = None, since: float | None = None) -> None:
        with self._lock:
            self.state = state
            if error is not None:
                self.last_error, self.last_error_at = error, time.time()
            self.connected_since = since

    def snapshot(self, now: float) -> dict[str, Any]:
        """Return the state as plain values (times as epoch seconds)."""
        with self._lock:
            recent = sum(n for second, n in self._per_second if second > int(now) - 60)
            return {
                "name": self.name,
                "type": self.type,
                "state": self.state,
                "connected_since": self.connected_since,
                "lines_total": self.lines_total,
                "lines_last_minute": recent,
                "dropped": dict(self.dropped),
                "last_error": self.last_error,
                "last_error_at": self.last_error_at,
            }


class _RateLimit:
    """Token bucket: ``rate`` lines a second, bursts of one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.at = time.monotonic()

    def allow(self, n: int) -> int:
        """Return how many of ``n`` lines may pass now (the rest are over the rate)."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        allowed = min(n, int(self.tokens))
        self.tokens -= allowed
        return allowed

    def delay_s(self, n: int) -> float:
        """Take ``n`` lines' worth of tokens; return how long to wait before they are due."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate) - n
        self.at = now
        return max(0.0, -self.tokens / self.rate)


class Collector:
    """Base of the collectors: a thread, a stop event, the feed's state and its line path."""

    #: How long to wait for room in the archive's queue before dropping lines.
    backpressure_s = 0.0
    #: Slow down (True) or drop lines (False) beyond ``max_lines_per_s``.
    throttle = False

    def __init__(self, settings: FeedSettings, sink: LineSink) -> None:
        self.settings = settings
        self.sink = sink
        self.state = FeedState(name=settings.name, type=settings.type)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stamper = LineStamper()
        self._limit = _RateLimit(settings.max_lines_per_s)
        #: A $PGHP header or lone tag block that ended the last batch, held until its sentence
        #: comes: the archive never ends with a header whose sentence an ingest would read apart.
        self._held: list[bytes] = []

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._guarded, name=f"feed-{self.settings.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _guarded(self) -> None:
        try:
            self.run()
            self.deliver([], final=True)
        except Exception as exc:
            # A collector never takes the service down; it says why it stopped.
            log.exception("feed %s: stopped by an unexpected error", self.settings.name)
            self.state.set("failed", error=f"{type(exc).__name__}: {exc}")
        else:
            self.state.set("stopped")

    def run(self) -> None:
        raise NotImplementedError

    def deliver(self, lines: list[bytes], *, final: bool = False) -> None:
        """Stamp ``lines`` and pass them to the archive, within the feed's limits.

        Over ``max_lines_per_s``, a TCP feed waits (TCP then slows the sender: nothing is lost)
        and a UDP feed drops lines (counted): nothing can slow a UDP sender down. ``final``: the
        connection ended, a held header goes too.
        """
        if self._held:
            lines, self._held = self._held + lines, []
        if not final:
            cut = len(lines)
            while cut and is_prefix_line(lines[cut - 1]):
                cut -= 1
            lines, self._held = lines[:cut], lines[cut:]
        if not lines:
            return
        if self.throttle:
            self._stop.wait(self._limit.delay_s(len(lines)))
        else:
            allowed = self._limit.allow(len(lines))
            if allowed < len(lines):
                self.state.drop("rate_limit", len(lines) - allowed)
                lines = lines[:allowed]
                if not lines:
                    return
        now = time.time()
        stamped = self._stamper.stamp(lines, int(now * 1000))
        if self.sink.put(self.settings.name, stamped, self.backpressure_s):
            self.state.count_lines(len(stamped), now)
        else:
            self.state.drop("queue_full", len(stamped))


class TcpCollector(Collector):
    """Connects to ``address`` and reads NMEA lines; reconnects with backoff and jitter."""

    backpressure_s = TCP_BACKPRESSURE_S
    throttle = True

    def run(self) -> None:
        assert self.settings.address is not None
        host, port = parse_address(self.settings.address)
        where = f"{host}:{port}"
        failures = 0
        while not self._stop.is_set():
            self.state.set("connecting" if failures == 0 else "reconnecting")
            try:
                sock = socket.create_connection((host, port), timeout=self.settings.idle_timeout_s)
            except OSError as exc:
                failures += 1
                self.state.set("reconnecting", error=f"cannot connect to {where}: {exc}")
                if failures == 1:
                    log.warning(
                        "feed %s: cannot connect to %s (%s); retrying with backoff",
                        self.settings.name,
                        where,
                        exc,
                    )
                self._stop.wait(self._backoff(failures))
                continue
            with sock:
                received = self._read(sock, where, failures)
            if received:
                failures = 0
                if not self._stop.is_set():
                    # Reconnect at once the first time: a server restart is the usual cause.
                    self._stop.wait(random.uniform(0, self.settings.reconnect_min_s))
            else:
                failures += 1
                self._stop.wait(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        ceiling = min(
            self.settings.reconnect_max_s,
            self.settings.reconnect_min_s * 2 ** min(failures - 1, 30),
        )
        return random.uniform(ceiling / 2, ceiling)

    def _read(self, sock: socket.socket, where: str, failures: int) -> int:
        """Read lines until the connection ends; return how many bytes it carried."""
        framer = LineFramer(self.settings.max_line_bytes)
        sock.settimeout(_POLL_S)
        since = time.time()
        self.state.set("connected", since=since)
        if failures:
            log.info("feed %s: connected to %s again", self.settings.name, where)
        else:
            log.info("feed %s: connected to %s", self.settings.name, where)
        received = 0
        last_data = time.monotonic()
        reason = ""
        while not self._stop.is_set():
            try:
                data = sock.recv(_RECV_BYTES)
            except TimeoutError:
                if time.monotonic() - last_data > self.settings.idle_timeout_s:
                    reason = f"no data for {self.settings.idle_timeout_s:g} s"
                    break
                continue
            except OSError as exc:
                reason = str(exc)
                break
            if not data:
                reason = "closed by the server"
                break
            received += len(data)
            last_data = time.monotonic()
            lines = framer.feed(data)
            self.state.drop("too_long", framer.n_too_long)
            framer.n_too_long = 0
            self.deliver(lines)
        if framer.reset():
            self.state.drop("cut_by_disconnect", 1)
        self.deliver([], final=True)
        if self._stop.is_set():
            return received
        self.state.set("reconnecting", error=f"disconnected from {where}: {reason}")
        if received:
            log.warning(
                "feed %s: disconnected from %s (%s) after %.0f s; reconnecting",
                self.settings.name,
                where,
                reason,
                time.time() - since,
            )
        return received


class UdpCollector(Collector):
    """Listens on ``address`` (127.0.0.1 unless a host is given); one datagram, whole lines."""

    def run(self) -> None:
        assert self.settings.address is not None
        host, port = parse_address(self.settings.address)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((host, port))
            except OSError as exc:
                message = f"cannot listen on {host}:{port}: {exc}"
                log.error("feed %s: %s", self.settings.name, message)
                self.state.set("failed", error=message)
                return
            sock.settimeout(_POLL_S)
            self.state.set("listening", since=time.time())
            log.info("feed %s: listening on udp %s:%d", self.settings.name, host, port)
            while not self._stop.is_set():
                try:
                    data = sock.recv(_RECV_BYTES)
                except TimeoutError:
                    continue
                except OSError as exc:
                    self.state.set("listening", error=str(exc), since=self.state.connected_since)
                    continue
                lines, too_long = datagram_lines(data, self.settings.max_line_bytes)
                self.state.drop("too_long", too_long)
                self.deliver(lines)
