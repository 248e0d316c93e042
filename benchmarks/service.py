"""The service under a busy feed for a simulated month: lines/s, memory, and the cost of a cycle.

    python benchmarks/service.py [--vessels 500] [--days 30] [--checkpoints 1,7,30] [--period 7]

1. Simulates the busy days (scenario ``busy``) of N vessels at the shipped Korea ports, whose
   voyages go on from day to day. With ``--period P``, simulates P days only and replays them
   again and again, their times shifted by P days and their MMSIs moved each time: the
   simulator holds all its days in memory (500 vessels need about 4 GB a week), so a month of
   500 vessels is three periods of 10 days, each sailed by a fleet of its own (the same ships
   jumping back to where they began would each look like two ships sharing one MMSI).
2. Runs ``monitor serve`` (a process of its own) on a config whose TCP feed is this process,
   ingest every second, an arrival alert rule with a JSON-lines sink, no scheduled reports.
3. Each day's lines are sent as fast as the service reads them: lines/s is the day's lines over
   the time until the service has archived them all. The service's RSS is sampled four times a
   second all day (its peak: what a job needs at most), and once more at the day's end, after
   the service has been idle for 12 s, long enough for the allocators to hand back what its
   jobs freed (polars' jemalloc keeps freed pages for 10 s). The curves' first and last values
   are printed: flat means nothing grows with history.
4. On each checkpoint day, the day's last simulated hour is held back until the rest is in the
   store and detected, then sent, and the cycles that absorb it are timed from the run log
   (ingest + detect + alerts). The baseline,
   measured in the same run: a detection from scratch over the same store (a hard-linked copy),
   every vessel over its whole history.

Target: the cycle time flat from day 1 to day 30 (lines/s steady, no line dropped, memory flat).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import load_config, parse_config, shipped_config_path  # noqa: E402
from monitor.pipeline.detect import detect_calls  # noqa: E402
from monitor.service.lines import checksum  # noqa: E402
from monitor.service.memory import resident_mb  # noqa: E402
from monitor.service.status import service_status  # noqa: E402
from monitor.simulate import simulate  # noqa: E402
from monitor.simulate.serve import LineServer, line_time_s, read_lines  # noqa: E402
from monitor.store.runlog import RunLog  # noqa: E402

DAY_S = 86_400
#: How long the service is left idle before its RSS is read at a day's end: polars' allocator
#: (jemalloc) hands freed pages back to the system over 10 s.
IDLE_S = 12.0
#: Each period's fleet: the MMSIs of the one before moved by this much.
MMSI_STEP = 10_000_019
_TAG = re.compile(rb"^\\([^*\\]*)\*[0-9A-Fa-f]{2}\\")
_TIME = re.compile(rb"c:(\d+)")


def shifted(lines: list[bytes], seconds: int) -> list[bytes]:
    """Return ``lines`` with every tag-block time moved by ``seconds`` (checksums redone)."""

    def move(match: re.Match[bytes]) -> bytes:
        body = _TIME.sub(lambda m: b"c:%d" % (int(m.group(1)) + seconds), match.group(1))
        return b"\\%s*%02X\\" % (body, checksum(body))

    return [_TAG.sub(move, line, count=1) for line in lines]


def _sixbit(payload: bytes) -> int:
    bits = 0
    for c in payload:
        v = c - 48
        bits = bits << 6 | (v - 8 if v > 40 else v)
    return bits


def _armored(bits: int, n: int) -> bytes:
    out = bytearray()
    for k in range(n - 1, -1, -1):
        v = bits >> (6 * k) & 63
        out.append(v + 48 if v < 40 else v + 56)
    return bytes(out)


def renamed(line: bytes, offset: int) -> bytes:
    """Return ``line`` with the MMSI of its message moved by ``offset`` (in its first sentence,
    bits 8-37 of the payload; checksum redone): another fleet on the same voyages."""
    start = line.find(b"!")
    star = line.rfind(b"*")
    fields = line[start + 1 : star].split(b",")
    if start < 0 or len(fields) < 6 or fields[2] != b"1" or len(fields[5]) < 7:
        return line
    head = _sixbit(fields[5][:7])  # 42 bits: the MMSI is bits 4-33 from the right
    mask = (1 << 30) - 1
    mmsi = ((head >> 4 & mask) + offset) % 1_000_000_000
    fields[5] = _armored(head & ~(mask << 4) | mmsi << 4, 7) + fields[5][7:]
    body = b",".join(fields)
    return b"%s!%s*%02X%s" % (line[:start], body, checksum(body), line[star + 3 :])


def wait(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


class Bench:
    def __init__(self, work: Path, vessels: int, days: int, period: int) -> None:
        self.work = work
        korea = load_config(shipped_config_path("korea"))
        self.period = min(period, days)
        print(f"simulating {self.period} busy day(s) of {vessels} vessels ...", flush=True)
        result = simulate(
            korea, days=self.period, vessels=vessels, seed=0, output=work / "sim", params="busy"
        )
        self.paths = result.nmea_paths
        first = list(read_lines(self.paths[:1]))[:1000]
        self.start_s = min(t for t in map(line_time_s, first) if t is not None)
        self.server = LineServer("127.0.0.1:0", max_queued_chunks=100_000)
        geofences = shipped_config_path("korea").parent / "geofences" / "korea.geojson"
        self.config = work / "service.toml"
        self.config.write_text(
            f'[store]\npath = "{work / "store"}"\n'
            f'[geofences]\nfiles = ["{geofences}"]\n'
            f'[report]\noutput = "{work / "reports"}"\n'
            f'[service]\narchive_dir = "{work / "archive"}"\ningest_interval_s = 1\n'
            'latest_report_cron = ""\ndaily_report_cron = ""\nweekly_report_cron = ""\n'
            'retention_cron = ""\n'
            f'[[service.feeds]]\nname = "busy"\ntype = "tcp"\naddress = "{self.server.address}"\n'
            "max_lines_per_s = 10000000\n"
            '[alerts]\nmax_age_h = 6\n[[alerts.rules]]\nname = "arrivals"\nwhen = "arrival"\n'
            f'[[alerts.sinks]]\ntype = "jsonl"\npath = "{work / "alerts.jsonl"}"\n'
        )
        self.settings = parse_config(self.config.read_text(), self.config)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.log = (work / "serve.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "serve", "--config", str(self.config)],
            stderr=self.log,
            env=env,
        )
        self.sent = 0

    def day_lines(self, day: int) -> list[bytes]:
        """Return the lines of day ``day`` (from 1): of simulated day ``day`` within the period,
        shifted by the periods before it."""
        turn, within = divmod(day - 1, self.period)
        low, high = self.start_s + within * DAY_S, self.start_s + (within + 1) * DAY_S
        near = self.paths[max(within - 1, 0) : within + 2]
        lines = [x for x in read_lines(near) if low <= (line_time_s(x) or low) < high]
        if not turn:
            return lines
        offset = turn * MMSI_STEP
        return [renamed(x, offset) for x in shifted(lines, turn * self.period * DAY_S)]

    def archived(self) -> tuple[int, int]:
        """Return the lines the service has archived and dropped so far."""
        beat = service_status(self.settings)["service"].get("archive") or {}
        return int(beat.get("lines_written", 0)), int(beat.get("lines_dropped", 0))

    def send(self, lines: list[bytes]) -> tuple[float, int]:
        """Send ``lines``; return the seconds until the service has archived (or dropped) them
        all, and how many it dropped."""
        started = time.monotonic()
        dropped_before = self.archived()[1]
        thread = threading.Thread(target=self.server.replay, args=(lines, 0.0), daemon=True)
        thread.start()
        self.sent += len(lines)
        wait(lambda: sum(self.archived()) >= self.sent, 3600, "the lines in the archive")
        thread.join()
        return time.monotonic() - started, self.archived()[1] - dropped_before

    def settle(self) -> None:
        """Wait until the archive is in the store and detected: a cycle that stored nothing."""
        mark = time.time()
        runlog = RunLog(self.settings.store.folder())

        def idle() -> bool:
            return any(
                run.started_utc.timestamp() > mark
                and run.ended_utc is not None
                and run.outcome == "ok"
                and not run.counts.get("positions")
                and not run.counts.get("statics")
                for run in runlog.runs(job="ingest", limit=5)
            )

        wait(idle, 3600, "an idle cycle")

    def cycle_seconds(self, since: float) -> tuple[dict[str, float], int]:
        """Return the seconds of the jobs of every cycle that began after ``since`` and stored,
        and how many detections ran."""
        runs = RunLog(self.settings.store.folder()).runs(limit=200)
        totals = {"ingest": 0.0, "detect": 0.0, "alerts": 0.0}
        detections = 0
        for run in runs:
            late = run.started_utc.timestamp() >= since and run.ended_utc is not None
            stored = run.job != "ingest" or bool(run.counts.get("positions"))
            if late and run.job in totals and stored:
                totals[run.job] += float(run.counts.get("seconds", 0.0))
                detections += run.job == "detect"
        return totals, detections

    def idle_rss_mb(self) -> float | None:
        """Return the service's RSS after it has been idle for :data:`IDLE_S`."""
        time.sleep(IDLE_S)
        return resident_mb(self.proc.pid)

    def full_detect_s(self) -> float:
        """Detect from scratch over a hard-linked copy of the store; return the seconds."""
        copy = self.work / "full"
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir()
        store = self.settings.store.folder()
        for part in ("positions", "statics"):
            subprocess.run(["cp", "-al", str(store / part), str(copy / part)], check=True)
        settings = self.settings.model_copy(
            update={"store": self.settings.store.model_copy(update={"path": copy})}
        )
        started = time.perf_counter()
        detect_calls(settings)
        seconds = time.perf_counter() - started
        shutil.rmtree(copy, ignore_errors=True)
        return seconds

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(120)
        self.server.close()
        self.log.close()


class PeakSampler:
    """Samples a process's RSS four times a second; :meth:`take` returns the peak and resets it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.25):
            rss = resident_mb(self.pid)
            if rss is not None:
                self.peak = max(self.peak, rss)

    def take(self) -> int:
        peak, self.peak = self.peak, 0.0
        return round(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vessels", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--checkpoints", default="1,7,30")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    parser.add_argument(
        "--period",
        type=int,
        default=0,
        help="Simulate this many days and replay them shifted, period after period, each time "
        "by a fleet of other MMSIs (less memory for long runs). Default: all.",
    )
    args = parser.parse_args()
    checkpoints = sorted({int(x) for x in args.checkpoints.split(",") if int(x) <= args.days})
    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    bench = Bench(work, args.vessels, args.days, args.period or args.days)
    sampler = PeakSampler(bench.proc.pid)
    rows: list[dict[str, Any]] = []
    try:
        for day in range(1, args.days + 1):
            lines = bench.day_lines(day)
            # On a checkpoint day the last hour is held back and timed on its own: an hour of
            # the same voyages (the next day's first hour would start them all over again).
            end_s = bench.start_s + day * DAY_S - 3600
            hour = (
                [x for x in lines if (line_time_s(x) or 0) >= end_s] if day in checkpoints else []
            )
            held = set(hour)
            seconds, dropped = bench.send([x for x in lines if x not in held])
            bench.settle()
            row: dict[str, Any] = {
                "day": day,
                "lines": len(lines),
                "dropped": dropped,
                "lines_per_s": round((len(lines) - dropped) / seconds),
            }
            if day in checkpoints:
                mark = time.time()
                bench.send(hour)
                bench.settle()
                jobs, detections = bench.cycle_seconds(mark)
                row["hour_lines"] = len(hour)
                row["cycle_s"] = round(sum(jobs.values()), 2)
                row["cycle_jobs_s"] = {k: round(v, 2) for k, v in jobs.items()}
                row["detections"] = detections
            idle_mb = bench.idle_rss_mb()
            row["peak_rss_mb"] = sampler.take()
            row["idle_rss_mb"] = None if idle_mb is None else round(idle_mb)
            if day in checkpoints:
                row["full_detect_s"] = round(bench.full_detect_s(), 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        sampler.stop.set()
        bench.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder: {work}")
    rates = [r["lines_per_s"] for r in rows]
    dropped = sum(r["dropped"] for r in rows)
    print(
        f"\nlines/s archived: median {sorted(rates)[len(rates) // 2]:,}, min {min(rates):,} "
        f"({dropped:,} of {sum(r['lines'] for r in rows):,} lines dropped)"
    )
    print(
        f"service RSS idle: first {rows[0]['idle_rss_mb']} MB, last {rows[-1]['idle_rss_mb']} MB "
        f"(range {min(r['idle_rss_mb'] or 0 for r in rows)}-"
        f"{max(r['idle_rss_mb'] or 0 for r in rows)}); peak: first {rows[0]['peak_rss_mb']} MB, "
        f"last {rows[-1]['peak_rss_mb']} MB (range {min(r['peak_rss_mb'] for r in rows)}-"
        f"{max(r['peak_rss_mb'] for r in rows)})"
    )
    for r in rows:
        if "cycle_s" in r:
            ratio = r["full_detect_s"] / max(r["cycle_s"], 1e-3)
            print(
                f"day {r['day']:>2}: one simulated hour ({r['hour_lines']:,} lines) absorbed in "
                f"{r['cycle_s']:.2f} s of jobs {r['cycle_jobs_s']} ({r['detections']} "
                f"detection(s)); detection from scratch "
                f"{r['full_detect_s']:.2f} s (ratio {ratio:.1f})"
            )


if __name__ == "__main__":
    main()
