"""Service archive and jobs: hourly files, crash leftovers, ingest of archive and inbox, the run
log, reports and retention."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import logging
import os
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from service_fixtures import EPOCH0, distinct_lines, port_config, tag, voyage_lines

from monitor.cli import main
from monitor.config import Settings, parse_config
from monitor.service.archive import Archive, compress, hour_path, plain_files
from monitor.service.inbox import InboxWatcher
from monitor.service.jobs import Jobs, report_period
from monitor.service.lines import LineStamper
from monitor.service.status import service_status, write_heartbeat
from monitor.store.calls import load_calls
from monitor.store.parquet import Store
from monitor.store.runlog import RunLog

HOUR = 3600.0


class Clock:
    """A settable wall clock for the archive writer."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def _settings(tmp_path: Path, extra: str = "") -> Settings:
    text = port_config(
        tmp_path / "store",
        f'[service]\narchive_dir = "{tmp_path / "archive"}"\n' + extra,
    )
    return parse_config(text, tmp_path / "c.toml")


def _put(archive: Archive, lines: list[str], received_s: float) -> None:
    stamped = LineStamper().stamp([line.encode() for line in lines], int(received_s * 1000))
    assert archive.put("shore", stamped)


def _drain(archive: Archive) -> None:
    assert archive.wait_written()


def _frame(store: Path, kind: str) -> pl.DataFrame:
    scan = Store(store).scan_positions() if kind == "positions" else Store(store).scan_statics()
    frame = scan.collect().drop("source")
    return frame.sort(frame.columns)


def test_archive_writes_one_file_per_hour_and_closes_past_hours(tmp_path: Path) -> None:
    clock = Clock(EPOCH0 + 10)
    archive = Archive(tmp_path / "a", clock=clock, sync_s=0)
    archive.start()
    _put(archive, distinct_lines(3), clock.at)
    _drain(archive)
    first = hour_path(tmp_path / "a", "shore", int(clock.at // HOUR))
    assert first.name == "shore_2024-05-01T00.nmea"
    clock.at += HOUR
    _put(archive, distinct_lines(2, start=3), clock.at)
    _drain(archive)
    assert archive.closed_files() == [first]
    assert len(plain_files(tmp_path / "a")) == 2
    archive.stop()
    assert len(first.read_text().splitlines()) == 3


def test_a_line_cut_by_a_kill_is_ended_before_the_next_line_is_appended(tmp_path: Path) -> None:
    clock = Clock(EPOCH0)
    path = hour_path(tmp_path / "a", "shore", int(EPOCH0 // HOUR))
    path.parent.mkdir(parents=True)
    good = distinct_lines(2)
    path.write_text(good[0] + "\n" + good[1][:20])  # killed in the middle of a write
    archive = Archive(tmp_path / "a", clock=clock)
    archive.start()
    _put(archive, distinct_lines(1, start=5), clock.at)
    archive.stop()
    lines = path.read_text().splitlines()
    assert lines[0] == good[0]
    assert lines[1] == good[1][:20]
    assert lines[2].endswith(distinct_lines(1, start=5)[0])


def test_a_compressed_hour_is_never_written_again(tmp_path: Path) -> None:
    clock = Clock(EPOCH0)
    archive = Archive(tmp_path / "a", clock=clock)
    archive.start()
    _put(archive, distinct_lines(2), clock.at)
    archive.stop()
    (first,) = plain_files(tmp_path / "a")
    # The next start, in the same hour: the file is closed, so it may be compressed...
    archive = Archive(tmp_path / "a", clock=clock)
    assert archive.retire(first, first.stat().st_size)
    compress(first)
    archive.start()
    _put(archive, distinct_lines(2, start=2), clock.at)
    archive.stop()
    # ...and the lines of the rest of the hour go to a new file beside it.
    (second,) = plain_files(tmp_path / "a")
    assert second != first and second.name.endswith("T00-1.nmea")
    assert len(gzip.decompress(first.with_name(first.name + ".gz").read_bytes()).splitlines()) == 2


def test_a_file_that_grew_after_it_was_read_is_not_compressed(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a", clock=Clock(EPOCH0))
    path = tmp_path / "a" / "shore" / "x.nmea"
    path.parent.mkdir(parents=True)
    path.write_text("a\n")
    assert not archive.retire(path, 1)
    assert archive.retire(path, 2)


def test_the_store_rebuilt_from_the_archive_equals_the_store_the_service_built(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    clock = Clock(EPOCH0 + 1800)
    archive = Archive(settings.service.archive_dir, clock=clock, sync_s=0)
    archive.start()
    jobs = Jobs(settings, archive, [])
    lines = voyage_lines(366_000_001, EPOCH0, name="ALPHA") + voyage_lines(
        366_000_002, EPOCH0 + 300, name="BRAVO"
    )
    lines.sort(key=lambda line: line.split("c:")[1])
    cuts = [0, 37, 38, 200, 420, 421, 700, len(lines)]
    for start, end in itertools.pairwise(cuts):
        _put(archive, lines[start:end], clock.at)
        _drain(archive)
        jobs.cycle()
        clock.at += 0.7 * HOUR  # some cycles see an hour closed, some do not
    archive.stop()
    jobs.cycle()
    assert len(list(settings.service.archive_dir.rglob("*.nmea.gz"))) >= 3
    runs = RunLog(settings.store.folder()).runs()
    assert {run.outcome for run in runs} == {"ok"}
    # Each run records the memory the service holds once it gave back what the job freed.
    assert all(run.counts["rss_mb"] > 0 for run in runs)
    service_store = settings.store.folder()
    positions = _frame(service_store, "positions")
    assert positions.height == sum("c:" in line and "AIVDM,1,1" in line for line in lines)
    assert positions.select("mmsi", "msg_key", "timestamp_utc").is_duplicated().sum() == 0

    rebuilt = tmp_path / "rebuilt"
    result = CliRunner().invoke(
        main, ["ingest", str(settings.service.archive_dir), "--store", str(rebuilt)]
    )
    assert result.exit_code == 0, result.output
    assert _frame(rebuilt, "positions").equals(positions)
    assert _frame(rebuilt, "statics").equals(_frame(service_store, "statics"))
    assert load_calls(service_store).height == 2


def test_inbox_files_are_ingested_once_and_filed_with_the_reason_of_failures(
    tmp_path: Path,
) -> None:
    inbox_dir = tmp_path / "inbox"
    settings = _settings(
        tmp_path,
        f'[[service.feeds]]\nname = "drop"\ntype = "inbox"\npath = "{inbox_dir}"\nsettle_s = 0\n',
    )
    watcher = InboxWatcher(settings.service.feeds[0])
    watcher.start()
    watcher.stop()  # scans are driven by the test
    jobs = Jobs(settings, None, [watcher])
    good = [tag(line, EPOCH0 + i) for i, line in enumerate(distinct_lines(50))]
    (inbox_dir / "good.nmea").write_text("\n".join(good) + "\n")
    (inbox_dir / "junk.bin").write_bytes(b"\x00\x01binary\x00" * 100)
    (inbox_dir / ".partial").write_text("hidden: ignored")
    watcher.scan(0.0)
    assert watcher.ready() == []  # not settled yet: seen once
    watcher.scan(1.0)
    assert sorted(p.name for p in watcher.ready()) == ["good.nmea", "junk.bin"]
    jobs.cycle()
    assert (inbox_dir / "processed" / "good.nmea").is_file()
    assert (inbox_dir / "failed" / "junk.bin").is_file()
    reason = (inbox_dir / "failed" / "junk.bin.reason.txt").read_text()
    assert "neither NMEA" in reason
    assert (inbox_dir / ".partial").exists()
    # The same file dropped again: filed beside the first, nothing stored twice.
    (inbox_dir / "good.nmea").write_text("\n".join(good) + "\n")
    watcher.scan(2.0)
    watcher.scan(3.0)
    jobs.cycle()
    assert (inbox_dir / "processed" / "good.nmea.1").is_file()
    assert Store(settings.store.folder()).scan_positions().collect().height == 50


def test_a_failing_job_is_logged_with_its_traceback_recorded_and_run_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    archive = Archive(settings.service.archive_dir, clock=Clock(EPOCH0))
    archive.start()
    _put(archive, distinct_lines(5), EPOCH0)
    archive.stop()
    jobs = Jobs(settings, archive, [])
    manifest = settings.store.folder() / "manifest.parquet"
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(b"PAR1 garbage")
    with caplog.at_level(logging.ERROR):
        jobs.cycle()  # must not raise
    failed = [r for r in caplog.records if "job ingest failed" in r.getMessage()]
    assert failed and failed[0].exc_info is not None
    (run,) = RunLog(settings.store.folder()).runs(job="ingest")
    assert run.outcome == "failed"
    assert run.error is not None and "manifest" in run.error
    assert run.counts["rss_mb"] > 0
    manifest.unlink()
    jobs.cycle()
    runs = RunLog(settings.store.folder()).runs(job="ingest")
    assert [r.outcome for r in runs] == ["ok", "failed"]
    assert Store(settings.store.folder()).scan_positions().collect().height == 5


def test_a_store_that_cannot_hold_a_run_log_does_not_stop_the_service(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    settings.store.folder().write_text("a file where the store belongs")
    jobs = Jobs(settings, None, [])
    with caplog.at_level(logging.ERROR):
        jobs.cycle()
        jobs.report("latest")
    assert any("cannot write the run log" in r.getMessage() for r in caplog.records)


def test_report_periods_follow_message_time(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert report_period("daily", settings) is None
    store = Store(settings.store.folder())
    newest = dt.datetime(2024, 5, 8, 10, 30, tzinfo=dt.UTC)  # a Wednesday
    with store.writer():
        store.add_positions(
            pl.DataFrame(
                {
                    "mmsi": [1],
                    "timestamp_utc": [newest],
                    "lat": [1.0],
                    "lon": [1.0],
                    "msg_key": [1],
                    "source": ["t"],
                }
            ).with_columns(pl.col("mmsi").cast(pl.UInt32), pl.col("msg_key").cast(pl.UInt64)),
            60,
        )
    daily = report_period("daily", settings)
    weekly = report_period("weekly", settings)
    latest = report_period("latest", settings)
    assert daily == (dt.datetime(2024, 5, 7, tzinfo=dt.UTC), dt.datetime(2024, 5, 8, tzinfo=dt.UTC))
    assert weekly == (
        dt.datetime(2024, 4, 29, tzinfo=dt.UTC),
        dt.datetime(2024, 5, 6, tzinfo=dt.UTC),
    )
    assert latest == (newest - dt.timedelta(days=1), newest)


def test_reports_are_written_to_latest_and_to_dated_folders(tmp_path: Path) -> None:
    settings = _settings(tmp_path, f'[report]\noutput = "{tmp_path / "reports"}"\n')
    archive = Archive(settings.service.archive_dir, clock=Clock(EPOCH0))
    archive.start()
    _put(archive, voyage_lines(366_000_001, EPOCH0 - 86_400, name="ALPHA"), EPOCH0)
    archive.stop()
    jobs = Jobs(settings, archive, [])
    jobs.cycle()
    jobs.report("latest")
    jobs.report("daily")
    assert (tmp_path / "reports" / "latest" / "index.html").is_file()
    assert (tmp_path / "reports" / "20240429T0000Z_20240430T0000Z" / "index.html").is_file()
    outcomes = {run.job: run.outcome for run in RunLog(settings.store.folder()).runs()}
    assert outcomes["report_latest"] == outcomes["report_daily"] == "ok"


def test_retention_drops_old_positions_and_archive_files_and_compacts(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "keep_positions_days = 2\nkeep_archive_days = 10\n")
    archive_dir = settings.service.archive_dir
    old_day = archive_dir / "shore" / "2000-01-01"
    old_day.mkdir(parents=True)
    (old_day / "shore_2000-01-01T00.nmea.gz").write_bytes(gzip.compress(b"x\n"))
    (old_day / "shore_2000-01-01T01.nmea").write_text("not ingested yet: kept\n")
    archive = Archive(archive_dir, clock=Clock(EPOCH0))
    jobs = Jobs(settings, archive, [])
    for day in range(5):
        for part in range(2):
            archive.start()
            lines = distinct_lines(10, start=100 * day + 10 * part)
            _put(archive, [tag(x, EPOCH0 + day * 86_400 + i) for i, x in enumerate(lines)], 0)
            archive.stop()
            jobs.cycle()
    store = Store(settings.store.folder())
    days = sorted(p.name for p in store.positions_dir.glob("date=*"))
    assert len(days) == 5
    jobs.retention()
    days = sorted(p.name for p in store.positions_dir.glob("date=*"))
    assert days == ["date=2024-05-03", "date=2024-05-04", "date=2024-05-05"]
    assert not (old_day / "shore_2000-01-01T00.nmea.gz").exists()
    assert (old_day / "shore_2000-01-01T01.nmea").exists()
    assert all(len(list(p.glob("part-*.parquet"))) >= 1 for p in store.positions_dir.iterdir())
    (run,) = RunLog(settings.store.folder()).runs(job="retention")
    assert run.outcome == "ok"
    assert run.counts["position_days_deleted"] == 2
    assert run.counts["folders_compacted"] >= 3
    assert store.scan_positions().collect().height == 60


def test_status_shows_lag_positions_today_vessels_in_port_and_feeds(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = int(now.timestamp()) - 3 * 3600
    lines = voyage_lines(366_000_001, start, name="ALPHA", stay_h=10)
    lines = [x for x in lines if int(x.split("c:")[1].split("*")[0]) <= now.timestamp() - 60]
    archive = Archive(settings.service.archive_dir)
    archive.start()
    _put(archive, lines, now.timestamp())
    archive.stop()
    Jobs(settings, archive, []).cycle()
    feed = {"name": "shore", "type": "tcp", "state": "connected", "lines_total": 5}
    write_heartbeat(
        settings.store.folder(),
        {"pid": os.getpid(), "state": "running", "feeds": [feed], "next_runs": {"ingest": "x"}},
    )
    shown = service_status(settings, now)
    assert shown["service"]["state"] == "running"
    assert shown["feeds"] == [feed]
    data = shown["data"]
    assert data["vessels_in_port"] == 1 and data["in_port_per_port"] == {"testport": 1}
    assert 60 <= data["lag_s"] < 200
    today = sum(
        1
        for x in lines
        if "AIVDM,1,1" in x
        and dt.datetime.fromtimestamp(int(x.split("c:")[1].split("*")[0]), dt.UTC).date()
        == now.date()
    )
    assert data["positions_today"] == today
    jobs = {j["job"]: j for j in shown["jobs"]}
    assert jobs["ingest"]["last"]["outcome"] == "ok" and jobs["ingest"]["next_run_utc"] == "x"
    assert jobs["detect"]["last"]["counts"]["in_port"] == 1
    # Once the service process is gone, the heartbeat says so.
    write_heartbeat(settings.store.folder(), {"pid": 2**22 + 12345, "state": "running"})
    assert service_status(settings)["service"]["state"].startswith("not running")
