"""Ingest: NMEA and CSV into the store, no-op re-runs, resume of grown files, crash safety."""

from __future__ import annotations

import gzip
import json
import re
from functools import reduce
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from pyais import encode_dict

from monitor.cli import main
from monitor.config import Settings, StoreSettings
from monitor.errors import StoreError
from monitor.pipeline import ingest as ingest_mod
from monitor.pipeline.ingest import ingest_paths
from monitor.store.parquet import Store

EPOCH0 = 1_714_521_600  # 2024-05-01 00:00:00 UTC


def tagged(sentence: str, epoch: int) -> str:
    body = f"c:{epoch}"
    checksum = reduce(lambda a, c: a ^ ord(c), body, 0)
    return f"\\{body}*{checksum:02X}\\{sentence}"


def position_lines(n: int, start: int = 0, mmsi: int = 366000000, tag: bool = True) -> list[str]:
    lines = []
    for i in range(start, start + n):
        msg: dict[str, Any] = {
            "type": 1,
            "mmsi": mmsi + i % 7,
            "lat": 37.0 + i * 1e-4,
            "lon": -122.0,
            "speed": 5.0,
            "course": 90.0,
            "heading": 88,
            "status": 0,
            "second": i % 60,
        }
        (sentence,) = encode_dict(msg, talker_id="AI", sentence_type="VDM")
        lines.append(tagged(sentence, EPOCH0 + i) if tag else sentence)
    return lines


def static_lines(mmsi: int, epoch: int) -> list[str]:
    msg: dict[str, Any] = {
        "type": 5,
        "mmsi": mmsi,
        "shipname": "TEST SHIP",
        "callsign": "ABC",
        "imo": 1234567,
        "destination": "OAKLAND",
        "ship_type": 70,
        "to_bow": 100,
        "to_stern": 20,
        "to_port": 10,
        "to_starboard": 10,
        "draught": 8.5,
    }
    return [
        tagged(s, epoch) for s in encode_dict(msg, talker_id="AI", sentence_type="VDM", seq_id=3)
    ]


def write(path: Path, lines: list[str], mode: str = "w") -> Path:
    with path.open(mode, encoding="ascii") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store=StoreSettings(path=tmp_path / "store"))


def stored(settings: Settings) -> pl.DataFrame:
    return Store(settings.store.path).scan_positions().collect()


def assert_no_duplicates(frame: pl.DataFrame) -> None:
    assert frame.select("mmsi", "msg_key", "timestamp_utc").is_duplicated().sum() == 0


def test_nmea_file_is_stored_with_its_source_and_counts(tmp_path: Path, settings: Settings) -> None:
    path = write(tmp_path / "feed.nmea", position_lines(50) + static_lines(366000001, EPOCH0 + 60))
    summary = ingest_paths([path], settings)
    assert summary.errors == []
    assert (summary.n_lines, summary.n_messages, summary.n_positions, summary.n_statics) == (
        52,
        51,
        50,
        1,
    )
    assert summary.n_vessels == 7
    assert summary.time_sources == {"tag_block": 52}
    frame = stored(settings)
    assert frame.height == 50 and set(frame["source"]) == {str(path)}
    statics = Store(settings.store.path).scan_statics().collect()
    assert statics["vessel_name"].to_list() == ["TEST SHIP"]
    data = summary.to_dict()
    assert data["positions"] == 50 and data["inputs"][0]["status"] == "ingested"
    json.dumps(data)


def test_second_run_is_a_no_op(tmp_path: Path, settings: Settings) -> None:
    path = write(tmp_path / "feed.nmea", position_lines(30))
    ingest_paths([path], settings)
    manifest_before = Store(settings.store.path).read_manifest()
    again = ingest_paths([path], settings)
    assert again.files[0].status == "unchanged"
    assert again.n_lines == 0 and again.n_positions == 0
    assert stored(settings).height == 30
    after = Store(settings.store.path).read_manifest()
    assert after.drop("ingested_at_utc").equals(manifest_before.drop("ingested_at_utc"))


def test_grown_file_is_read_on_from_where_it_stopped(tmp_path: Path, settings: Settings) -> None:
    lines = position_lines(40)
    path = tmp_path / "grow.nmea"
    # The last line is still being written when the first run reads the file.
    path.write_text("\n".join(lines[:20]) + "\n" + lines[20][:15], encoding="ascii")
    first = ingest_paths([path], settings)
    assert first.n_positions == 20
    with path.open("a", encoding="ascii") as handle:
        handle.write(lines[20][15:] + "\n" + "\n".join(lines[21:]) + "\n")
    second = ingest_paths([path], settings)
    assert second.files[0].status == "resumed"
    assert second.n_lines == 20 and second.n_positions == 20
    frame = stored(settings)
    assert frame.height == 40
    assert_no_duplicates(frame)
    manifest = Store(settings.store.path).read_manifest()
    assert manifest.height == 1
    assert manifest["n_positions"].item() == 40 and manifest["complete"].item()
    assert manifest["bytes_consumed"].item() == path.stat().st_size


def test_replaced_file_is_read_again_and_duplicates_dropped(
    tmp_path: Path, settings: Settings
) -> None:
    path = write(tmp_path / "day.nmea", position_lines(20))
    ingest_paths([path], settings)
    write(path, position_lines(10, start=100) + position_lines(20))
    summary = ingest_paths([path], settings)
    assert summary.files[0].status == "ingested"
    assert summary.n_positions == 10 and summary.n_duplicates == 20
    assert stored(settings).height == 30


def test_two_receivers_overlapping_store_each_message_once(
    tmp_path: Path, settings: Settings
) -> None:
    a = write(tmp_path / "a.nmea", position_lines(30))
    # Receiver b heard messages 20..39, two seconds later, without tag blocks but with $PGHP.
    b_lines = []
    for i, line in enumerate(position_lines(20, start=20, tag=False)):
        b_lines.append(tagged(line, EPOCH0 + 20 + i + 2))
    b = write(tmp_path / "b.nmea.gz", [])
    b.write_bytes(gzip.compress("".join(x + "\n" for x in b_lines).encode()))
    summary = ingest_paths([a, b], settings)
    assert summary.n_positions == 40 and summary.n_duplicates == 10
    assert_no_duplicates(stored(settings))


def test_csv_and_nmea_in_one_folder(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "feed.txt", position_lines(10))
    (folder / "pos.csv").write_text(
        "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
        "Length,Width,Draft,Cargo,TransceiverClass\n"
        "244000001,2024-05-01T10:00:00,52.0,4.0,3.0,10.0,12,NAME,,,70,0,,,,,A\n"
        "244000001,2024-05-01T10:00:10,52.0,4.0,3.0,10.0,12,NAME,,,70,0,,,,,A\n",
        encoding="ascii",
    )
    summary = ingest_paths([folder], settings)
    assert [f.format for f in summary.files] == ["nmea", "csv"]
    assert summary.n_positions == 12 and summary.n_statics == 1


def test_input_without_time_is_an_error_but_others_are_ingested(
    tmp_path: Path, settings: Settings
) -> None:
    untimed = write(tmp_path / "untimed.nmea", position_lines(5, tag=False))
    good = write(tmp_path / "good.nmea", position_lines(5))
    summary = ingest_paths([untimed, good], settings)
    assert summary.files[0].status == "error"
    (error,) = summary.errors
    assert "untimed.nmea" in error and "--fallback-time" in error
    assert summary.n_positions == 5
    # The failed input is not in the manifest, so a later run with a time reads it.
    assert Store(settings.store.path).read_manifest()["input"].to_list() == [str(good)]


def test_killed_before_the_manifest_rerun_completes_without_duplicates(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "feed.nmea", position_lines(60) + static_lines(366000001, EPOCH0))

    real = Store.write_manifest
    writes = {"n": 0}

    def killed(self: Store, frame: pl.DataFrame) -> None:
        # The first write flags the input as being written; the second would record it.
        writes["n"] += 1
        if writes["n"] == 2:
            raise KeyboardInterrupt
        real(self, frame)

    monkeypatch.setattr(Store, "write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths([path], settings)
    monkeypatch.undo()
    assert stored(settings).height == 60  # data landed, the manifest did not
    summary = ingest_paths([path], settings)
    assert summary.n_positions == 0 and summary.n_duplicates == 61
    assert stored(settings).height == 60
    assert Store(settings.store.path).scan_statics().collect().height == 1
    assert ingest_paths([path], settings).files[0].status == "unchanged"


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_killed_mid_file_at_any_write_rerun_gives_the_clean_result(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    lines = position_lines(200) + static_lines(366000002, EPOCH0 + 300)
    path = write(tmp_path / "big.nmea", lines)
    clean = Settings(store=StoreSettings(path=tmp_path / "clean"))
    monkeypatch.setattr(ingest_mod, "FLUSH_ROWS", 40)
    monkeypatch.setattr(ingest_mod, "DETECT_BYTES", 512)
    monkeypatch.setattr(ingest_mod, "iter_chunks", _small_chunks)
    ingest_paths([path], clean)

    calls = {"n": 0}
    real = Store.add_positions

    def flaky(self: Store, frame: pl.DataFrame, window_s: float) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise KeyboardInterrupt
        return real(self, frame, window_s)

    monkeypatch.setattr(Store, "add_positions", flaky)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths([path], settings)
    monkeypatch.setattr(Store, "add_positions", real)
    ingest_paths([path], settings)
    expected = stored(clean).sort("mmsi", "timestamp_utc")
    got = stored(settings).sort("mmsi", "timestamp_utc")
    assert got.height == 200
    assert got.equals(expected)
    assert_no_duplicates(got)


def _small_chunks(stream, start=0, chunk_bytes=0, prefix=b""):  # type: ignore[no-untyped-def]
    from monitor.sources.files import iter_chunks

    return iter_chunks(stream, start=start, chunk_bytes=2048, prefix=prefix)


def test_cli_json_stdin_and_exit_codes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    runner = CliRunner()
    feed = "".join(line + "\n" for line in position_lines(12))
    result = runner.invoke(main, ["ingest", "-", "--store", str(store), "--json"], input=feed)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["positions"] == 12 and data["inputs"][0]["input"] == "stdin"
    untimed = write(tmp_path / "u.nmea", position_lines(3, tag=False))
    result = runner.invoke(main, ["ingest", str(untimed), "--store", str(store)])
    assert result.exit_code == 1
    assert "u.nmea" in result.output and "no time source" in result.output
    result = runner.invoke(
        main,
        ["ingest", str(untimed), "--store", str(store), "--fallback-time", "2024-05-01T00:00:00Z"],
    )
    assert result.exit_code == 0, result.output
    assert "positions stored" in result.output
    result = runner.invoke(main, ["ingest", str(tmp_path / "missing"), "--store", str(store)])
    assert result.exit_code == 1 and "no such file" in result.output


def test_cli_csv_columns(tmp_path: Path) -> None:
    path = tmp_path / "boats.csv"
    path.write_text("ID,time,y,x\n244000001,2024-05-01 10:00:00,52.0,4.0\n", encoding="ascii")
    store = tmp_path / "store"
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(path), "--store", str(store)])
    assert result.exit_code == 1 and "--csv-columns" in result.output
    result = runner.invoke(
        main,
        [
            "ingest",
            str(path),
            "--store",
            str(store),
            "--json",
            "--csv-columns",
            "mmsi=ID,timestamp=time,lat=y,lon=x",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["positions"] == 1


def test_manifest_counts_add_up_over_checkpoints_and_runs(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_mod, "FLUSH_ROWS", 30)
    monkeypatch.setattr(ingest_mod, "DETECT_BYTES", 512)
    monkeypatch.setattr(ingest_mod, "iter_chunks", _small_chunks)
    lines = position_lines(200)
    path = write(tmp_path / "feed.nmea", lines[:100])
    ingest_paths([path], settings)
    write(path, lines[100:], mode="a")
    assert ingest_paths([path], settings).files[0].status == "resumed"
    manifest = Store(settings.store.path).read_manifest()
    assert manifest.height == 1
    row = manifest.row(0, named=True)
    assert (row["n_lines"], row["n_messages"], row["n_positions"]) == (200, 200, 200)
    assert row["bytes_consumed"] == path.stat().st_size and row["complete"]
    assert stored(settings).height == 200


def test_same_size_and_start_but_other_content_is_read(tmp_path: Path, settings: Settings) -> None:
    lines = position_lines(80)
    path = write(tmp_path / "feed.nmea", lines)
    ingest_paths([path], settings)
    # Same first 4 KiB and same size, different last lines: not the file already read.
    changed = lines[:-5] + position_lines(5, start=500)
    write(path, changed)
    assert path.stat().st_size == sum(len(x) + 1 for x in lines)
    summary = ingest_paths([path], settings)
    assert summary.files[0].status == "ingested"
    assert summary.n_positions == 5


def test_csv_columns_from_the_config_and_forced_format(tmp_path: Path) -> None:
    path = tmp_path / "boats.txt"
    path.write_text("ID;t;y;x\n244000001;2024-05-01T10:00:00Z;52.0;4.0\n", encoding="ascii")
    config = tmp_path / "monitor.toml"
    config.write_text(
        '[store]\npath = "st"\n[ingest.csv_columns]\nmmsi = "ID"\ntimestamp = "t"\n'
        'lat = "y"\nlon = "x"\n',
        encoding="ascii",
    )
    result = CliRunner().invoke(
        main, ["ingest", str(path), "--config", str(config), "--format", "csv", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["positions"] == 1
    assert Store(tmp_path / "st").scan_positions().collect()["mmsi"].to_list() == [244000001]


def test_empty_input_is_no_error_and_is_read_once_it_has_lines(
    tmp_path: Path, settings: Settings
) -> None:
    path = tmp_path / "new.log"
    path.write_bytes(b"")
    summary = ingest_paths([path], settings)
    assert summary.files[0].status == "empty" and summary.errors == []
    write(path, position_lines(4))
    assert ingest_paths([path], settings).n_positions == 4


def test_cut_short_gzip_keeps_the_lines_before_and_reports_the_file(
    tmp_path: Path, settings: Settings
) -> None:
    text = "".join(line + "\n" for line in position_lines(3000)).encode()
    packed = gzip.compress(text)
    path = tmp_path / "cut.nmea.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    summary = ingest_paths([path], settings)
    (error,) = summary.errors
    assert "cut.nmea.gz" in error and "cut short" in error
    assert 1000 < summary.n_positions < 3000
    assert stored(settings).height == summary.n_positions


def test_a_failing_store_write_stops_the_run_with_a_store_error(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "feed.nmea", position_lines(20))

    def full(self: Store, frame: pl.DataFrame, window_s: float) -> dict[str, int]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "add_positions", full)
    with pytest.raises(StoreError, match="No space left on device"):
        ingest_paths([path], settings)
    monkeypatch.undo()
    # Nothing is recorded as read (a row may say a write was under way, to count again).
    manifest = Store(settings.store.path).read_manifest()
    assert manifest.filter(pl.col("complete") | (pl.col("bytes_consumed") > 0)).height == 0
    assert ingest_paths([path], settings).n_positions == 20


def test_cli_lists_each_input_with_its_status(tmp_path: Path) -> None:
    good = write(tmp_path / "good.nmea", position_lines(5))
    untimed = write(tmp_path / "untimed.nmea", position_lines(5, tag=False))
    store = tmp_path / "store"
    args = ["ingest", str(good), str(untimed), "--store", str(store)]
    # A terminal wide enough for the long temporary paths and every column.
    result = CliRunner().invoke(main, args, env={"COLUMNS": "160"})
    assert result.exit_code == 1
    assert result.output.startswith(f"Ingested 1 of 2 inputs into {store}")
    rows = {
        line.split()[0]: line.split()[1:]
        for line in result.output.splitlines()
        if ".nmea" in line and not line.startswith("error")
    }
    assert rows[str(good)][:2] == ["ingested", "nmea"]
    assert rows[str(untimed)][0] == "error"


def test_progress_bar_does_not_change_the_result(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_mod.Progress, "MIN_BYTES", 0)
    path = write(tmp_path / "feed.nmea", position_lines(30))
    summary = ingest_paths([path], settings, progress=True)
    assert summary.n_positions == 30 and summary.errors == []


def test_cli_json_times_are_iso_utc(tmp_path: Path) -> None:
    feed = "".join(line + "\n" for line in position_lines(3))
    result = CliRunner().invoke(
        main, ["ingest", "-", "--store", str(tmp_path / "store"), "--json"], input=feed
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    iso_z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    assert iso_z.fullmatch(data["first_utc"]) and iso_z.fullmatch(data["last_utc"])
    assert iso_z.fullmatch(data["inputs"][0]["first_utc"])
