"""Service collectors: line bounds, receive-time stamps, TCP reconnects, UDP, flood limits."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from service_fixtures import (
    EPOCH0,
    NmeaServer,
    archived_lines,
    distinct_lines,
    free_port,
    strip_tag,
    tag,
    untagged,
    wait_for,
)

from monitor.config import FeedSettings
from monitor.decode.nmea.decoder import NmeaDecoder
from monitor.service.archive import Archive
from monitor.service.feeds import TcpCollector, UdpCollector
from monitor.service.lines import LineFramer, LineStamper, datagram_lines, tag_block


def test_framer_drops_long_lines_and_never_holds_more_than_the_bound() -> None:
    framer = LineFramer(max_line_bytes=50)
    out: list[bytes] = []
    stream = b"short\r\n" + b"x" * 500 + b"\nafter\n" + b"y" * 60 + b"\nlast"
    for i in range(0, len(stream), 7):
        out += framer.feed(stream[i : i + 7])
        assert framer.pending_bytes() <= 50
    assert out == [b"short", b"after"]
    assert framer.n_too_long == 2
    assert framer.reset() is True  # "last" had no newline yet


def test_datagram_lines_take_a_last_line_without_newline() -> None:
    lines, too_long = datagram_lines(b"a\r\nb\n\n" + b"z" * 20 + b"\nc", max_line_bytes=10)
    assert lines == [b"a", b"b", b"c"]
    assert too_long == 1


def test_stamped_lines_decode_at_their_receive_time_and_own_times_are_kept() -> None:
    received_ms = EPOCH0 * 1000 + 123_000
    own = tag(untagged(1, mmsi=366_000_001), EPOCH0 - 3600)
    bare = untagged(2, mmsi=366_000_002)
    station = "\\s:rx9*00\\" + untagged(3, mmsi=366_000_003)
    trailing = untagged(4, mmsi=366_000_004) + ",1714521000"
    lines = [line.encode() for line in (own, bare, station, trailing)]
    stamped = LineStamper().stamp(lines, received_ms)
    assert stamped[0] == lines[0]
    assert stamped[1] == tag_block(received_ms) + lines[1]
    assert stamped[2].startswith(b"\\s:rx9,c:%d*" % received_ms)
    assert stamped[3] == lines[3]
    decoder = NmeaDecoder("t")
    batch = decoder.feed(b"\n".join(stamped) + b"\n")
    batch_end = decoder.flush()
    positions = batch.positions.vstack(batch_end.positions).sort("mmsi")
    times = [t.timestamp() for t in positions["timestamp_utc"].to_list()]
    assert times == [EPOCH0 - 3600, received_ms / 1000, received_ms / 1000, 1714521000]


def test_later_parts_of_a_message_timed_at_its_source_are_not_stamped() -> None:
    # DMA's stream: a $PGHP header times part 1; part 2 follows with no time of its own.
    lines = [
        b"$PGHP,1,2013,11,12,12,0,0,869,219,,2190074,1,05*12",
        b"!BSVDM,2,1,1,B,53uRcl02<VQA<A5B22098U=@tj2222222222220N3`?5540Ht@4jhAiC,0*62",
        b"!BSVDM,2,2,1,B,`88888888888880,2*67",
        b"!BSVDM,2,1,2,A,53uRcl02<VQA<A5B22098U=@tj2222222222220N3`?5540Ht@4jhAiC,0*61",
        b"!BSVDM,2,2,2,A,`88888888888880,2*64",
    ]
    out = LineStamper().stamp(lines, 5000)
    assert out[:3] == lines[:3]
    # Without a header the first part is stamped, and its second part with the same time.
    assert out[3].startswith(b"\\c:5000*") and out[4].startswith(b"\\c:5000*")


def test_a_header_that_ends_a_read_waits_for_its_sentence(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive", sync_s=0)
    archive.start()
    collector = _collector("udp", "127.0.0.1:9", archive)
    header, sentence = b"$PGHP,1,2013,11,12,12,0,0,11,219,,2190067,1,62*26", untagged(1).encode()
    collector.deliver([sentence, b"\\si:AISD*3F\\", header])
    assert archive.wait_written()
    assert archived_lines(tmp_path / "archive")[-1].endswith(untagged(1))
    collector.deliver([sentence])
    collector.deliver([], final=True)
    archive.stop()
    assert [x.encode() for x in archived_lines(tmp_path / "archive")[-3:]] == [
        b"\\si:AISD*3F\\",
        header,
        sentence,
    ]


def test_a_pghp_header_times_the_next_sentence_and_it_is_not_stamped() -> None:
    stamper = LineStamper()
    out = stamper.stamp([b"$PGHP,1,2024,5,1,0,0,0,0,,,,*00", b"!AIVDM,x", b"!AIVDM,y"], 5000)
    assert out[1] == b"!AIVDM,x"
    assert out[2].startswith(b"\\c:5000*")


def _collector(
    kind: str, address: str, archive: Archive, **extra: object
) -> TcpCollector | UdpCollector:
    settings = FeedSettings.model_validate(
        {
            "name": "shore",
            "type": kind,
            "address": address,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.2,
            **extra,
        }
    )
    return (TcpCollector if kind == "tcp" else UdpCollector)(settings, archive)


def test_tcp_feed_that_drops_and_comes_back_archives_every_line_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = distinct_lines(900)
    server = NmeaServer()
    server.serve([lines[:250], lines[250:600], lines[600:]], down_s=0.4)
    archive = Archive(tmp_path / "archive", sync_s=0.1)
    archive.start()
    collector = _collector("tcp", f"127.0.0.1:{server.port}", archive)
    with caplog.at_level(logging.INFO, logger="monitor.service"):
        collector.start()
        server.join()
        wait_for(lambda: archive.n_written == len(lines), what="every line archived")
        collector.stop()
        archive.stop()
    assert server.connections == 3
    got = [strip_tag(line) for line in archived_lines(tmp_path / "archive")]
    assert sorted(got) == sorted(server.sent) == sorted(lines)
    assert all(line.startswith("\\c:") for line in archived_lines(tmp_path / "archive"))
    disconnects = [r for r in caplog.records if "disconnected" in r.getMessage()]
    # Two drops while the server was up (the last one may race with stop): logged once each,
    # however many reconnect attempts failed while it was down.
    assert 2 <= len(disconnects) <= 3
    assert collector.state.snapshot(time.time())["lines_total"] == len(lines)


def test_tcp_server_down_is_logged_once_while_retrying_with_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    archive = Archive(tmp_path / "archive")
    collector = _collector("tcp", f"127.0.0.1:{port}", archive)
    with caplog.at_level(logging.INFO, logger="monitor.service"):
        collector.start()
        time.sleep(1.0)
        server = NmeaServer(port=port)
        server.serve([distinct_lines(10)])
        archive.start()
        wait_for(lambda: archive.n_written == 10, what="lines after the server came up")
        collector.stop()
        archive.stop()
    messages = [r.getMessage() for r in caplog.records]
    up = next(i for i, m in enumerate(messages) if "connected to" in m)
    # A second of failed attempts while the server was down: one line in the log.
    assert sum("cannot connect" in m for m in messages[:up]) == 1
    assert collector.state.last_error is not None


def test_udp_listener_archives_datagrams_and_binds_loopback(tmp_path: Path) -> None:
    port = free_port()
    archive = Archive(tmp_path / "archive", sync_s=0)
    archive.start()
    collector = _collector("udp", f":{port}", archive)
    collector.start()
    wait_for(lambda: collector.state.state == "listening", what="listening")
    lines = distinct_lines(200)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(0, len(lines), 4):
            sender.sendto("\r\n".join(lines[i : i + 4]).encode(), ("127.0.0.1", port))
            time.sleep(0.001)
        sender.sendto(b"!" + b"A" * 5000, ("127.0.0.1", port))
    wait_for(lambda: archive.n_written == len(lines), what="datagrams archived")
    wait_for(lambda: collector.state.dropped["too_long"] == 1, what="long line counted")
    collector.stop()
    archive.stop()
    assert sorted(strip_tag(x) for x in archived_lines(tmp_path / "archive")) == sorted(lines)


def test_udp_listener_is_not_reachable_on_other_interfaces(tmp_path: Path) -> None:
    port = free_port()
    collector = _collector("udp", f":{port}", Archive(tmp_path / "a"))
    collector.start()
    wait_for(lambda: collector.state.state == "listening", what="listening")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            # The port is taken on loopback only: binding it on every interface still fails, but
            # on another loopback address it succeeds, which it could not if bound to 0.0.0.0.
            probe.bind(("127.0.0.2", port))
    finally:
        collector.stop()


def test_a_udp_flood_beyond_the_rate_limit_is_dropped_and_counted(tmp_path: Path) -> None:
    port = free_port()
    archive = Archive(tmp_path / "archive")
    archive.start()
    collector = _collector("udp", f"127.0.0.1:{port}", archive, max_lines_per_s=500)
    collector.start()
    wait_for(lambda: collector.state.state == "listening", what="listening")
    lines = distinct_lines(3000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(0, len(lines), 30):
            sender.sendto("\n".join(lines[i : i + 30]).encode(), ("127.0.0.1", port))
            time.sleep(0.002)  # not faster than the kernel's buffer takes them
    wait_for(
        lambda: archive.n_written + collector.state.dropped["rate_limit"] == len(lines),
        what="every datagram archived or dropped",
    )
    collector.stop()
    archive.stop()
    assert collector.state.dropped["rate_limit"] > 1000
    assert archive.n_written < 2000


def test_a_tcp_feed_over_its_rate_is_slowed_down_and_loses_nothing(tmp_path: Path) -> None:
    lines = distinct_lines(1500)
    server = NmeaServer()
    server.serve([lines])
    archive = Archive(tmp_path / "archive")
    archive.start()
    collector = _collector("tcp", f"127.0.0.1:{server.port}", archive, max_lines_per_s=500)
    started = time.monotonic()
    collector.start()
    server.join()
    wait_for(lambda: archive.n_written == len(lines), what="every line archived")
    took_s = time.monotonic() - started
    collector.stop()
    archive.stop()
    assert not collector.state.dropped
    assert took_s >= 1.5  # 1,500 lines at 500 a second, after a first second's burst


def test_a_full_queue_drops_whole_batches_and_counts_them(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive", max_queued_lines=100)  # writer not started
    assert archive.put("f", [b"x"] * 80)
    assert not archive.put("f", [b"y"] * 30)
    assert archive.n_dropped == 30
    assert archive.queued_lines() == 80


def test_a_tcp_feed_waits_for_room_in_the_queue_before_dropping(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive", max_queued_lines=100)
    assert archive.put("f", [b"x"] * 90)
    started = time.monotonic()
    assert not archive.put("f", [b"y"] * 20, wait_s=0.3)  # nobody writes: dropped after the wait
    assert time.monotonic() - started >= 0.3
    threading.Timer(0.2, archive.start).start()
    assert archive.put("f", [b"z"] * 20, wait_s=5.0)  # the writer made room meanwhile
    archive.stop()
    assert archive.n_dropped == 20 and archive.n_written == 110
