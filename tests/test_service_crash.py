"""``kill -9`` of ``monitor serve`` at random moments while a feed streams, restarted each time:
no duplicate position, no archived line missing from the store, each alert sent exactly once."""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import polars as pl
from service_fixtures import (
    EPOCH0,
    StreamingServer,
    archived_lines,
    voyage_lines,
    wait_for,
)
from test_service_run import job_ok, start_service, tcp_feed, write_config

from monitor.alerts.rules import evaluate
from monitor.config import load_config
from monitor.decode.nmea.decoder import NmeaDecoder
from monitor.store.calls import load_calls
from monitor.store.parquet import Store
from monitor.store.runlog import RunLog

RULES = """
[alerts]
max_age_h = 1000
[[alerts.rules]]
name = "arrivals"
when = "arrival"
[[alerts.rules]]
name = "departures"
when = "departure"
[[alerts.rules]]
name = "long"
when = "long_stay"
min_duration_h = 1
"""


def _traffic() -> list[str]:
    lines: list[str] = []
    for k in range(6):
        lines += voyage_lines(
            366_100_000 + k, EPOCH0 + 900 * k, name=f"SHIP {k}", stay_h=0.5 + 0.4 * k
        )
    return sorted(lines, key=lambda line: int(line.split("c:")[1].split("*")[0]))


def _decodable_positions(lines: list[str]) -> pl.DataFrame:
    decoder = NmeaDecoder("archive")
    batch = decoder.feed("".join(line + "\n" for line in lines).encode("ascii"))
    return pl.concat([batch.positions, decoder.flush().positions])


def test_kill_9_at_random_moments_loses_and_repeats_nothing(tmp_path: Path) -> None:
    rng = random.Random(18)
    lines = _traffic()
    server = StreamingServer(lines, lines_per_s=130)
    jsonl = tmp_path / "alerts.jsonl"
    config = write_config(
        tmp_path,
        tcp_feed(server.port),
        RULES + f'[[alerts.sinks]]\ntype = "jsonl"\npath = "{jsonl}"\n',
    )
    log = tmp_path / "serve.log"
    kills = 0
    try:
        proc = start_service(config, log)
        runlog = RunLog(tmp_path / "store")
        for n in range(4):
            wait_for(lambda: "service started" in log.read_text(), timeout_s=60, what="start")
            time.sleep(rng.uniform(0.3, 1.5))
            if n % 2 == 0:
                # In the middle of a job: ingest, detection or alerts.
                wait_for(
                    lambda: any(r.outcome == "running" for r in runlog.runs(limit=3)),
                    what="a job running",
                )
                time.sleep(rng.uniform(0.0, 0.05))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
            proc = start_service(config, log)
        wait_for(lambda: server.done, timeout_s=60, what="the whole feed sent")
        settings = load_config(config)
        archive = settings.service.archive_dir

        def settled() -> bool:
            archived = len(_decodable_positions(archived_lines(archive)))
            stored = Store(settings.store.path).scan_positions().collect().height
            return archived == stored and job_ok(config, "alerts")

        wait_for(settled, timeout_s=60, what="the archive in the store")
        time.sleep(1.5)  # one more cycle after the last ingest: detection and alerts settle
        wait_for(lambda: job_ok(config, "alerts"), what="alerts after the last detection")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        server.close()
    assert kills == 4

    store = Store(settings.store.path)
    positions = store.scan_positions().collect()
    # No duplicate position, and every position line of the archive is in the store.
    assert positions.select("mmsi", "msg_key", "timestamp_utc").is_duplicated().sum() == 0
    archived = _decodable_positions(archived_lines(settings.service.archive_dir))
    assert positions.height == archived.unique(["mmsi", "msg_key", "timestamp_utc"]).height
    assert positions.height > 0.5 * sum("AIVDM,1,1" in x for x in lines)

    # Each alert once, and none missing: what the sink got is what the final data raises.
    sent = [json.loads(line)["alert_id"] for line in jsonl.read_text().splitlines() if line]
    assert len(sent) == len(set(sent))
    expected = evaluate(
        load_calls(settings.store.path),
        settings.alerts.rules,
        newest_utc=store.newest_position_time(),
        max_age_h=settings.alerts.max_age_h,
        report="",
    )
    assert set(sent) == {a["alert_id"] for a in expected}
    assert len(sent) >= 10
    outcomes = {run.outcome for run in RunLog(settings.store.path).runs(limit=1000)}
    assert "running" not in outcomes
    assert "abandoned" in outcomes  # some kills did cut a job short
