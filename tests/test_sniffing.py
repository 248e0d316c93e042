"""Inputs as captured: binary noise, NUL bytes, CR-only line ends, `;` CSVs with decimal commas."""

from __future__ import annotations

import gzip
import io
import random
import sqlite3
import tarfile
import zipfile
from pathlib import Path

import polars as pl
import pytest
from nmea_builders import EPOCH0, position, tagged

from monitor.config import Settings, StoreSettings
from monitor.pipeline.ingest import ingest_paths
from monitor.sources.files import MAX_LINE_BYTES, detect_format, iter_chunks
from monitor.store.parquet import Store


def _sentences(n: int) -> list[bytes]:
    return [
        tagged(position(366000000 + i % 9, 37 + i * 1e-4, -122.0), EPOCH0 + i).encode()
        for i in range(n)
    ]


def _noise(size: int, seed: int = 1) -> bytes:
    """Return bytes as a serial port gives before it syncs: anything, NUL bytes included."""
    rng = random.Random(seed)
    return bytes(rng.choice([0, 0, 0, 255, rng.randrange(256)]) for _ in range(size))


def _settings(tmp_path: Path) -> Settings:
    return Settings(store=StoreSettings(path=tmp_path / "store"))


def _n_stored(settings: Settings) -> int:
    return Store(settings.store.path).scan_positions().collect().height


def test_binary_noise_at_the_start_of_a_capture_is_skipped(tmp_path: Path) -> None:
    lines = _sentences(400)
    data = _noise(3000) + b"\n" + b"\n".join(lines[:200]) + b"\n"
    # More noise further on, and NUL bytes on lines of their own.
    data += b"\x00\x00\x00\n" + _noise(500, seed=2) + b"\n" + b"\n".join(lines[200:]) + b"\n"
    path = tmp_path / "serial.log"
    path.write_bytes(data)
    assert detect_format(data) == "nmea"
    settings = _settings(tmp_path)
    summary = ingest_paths([path], settings)
    assert summary.errors == []
    assert summary.files[0].format == "nmea"
    assert _n_stored(settings) == 400


def test_nul_bytes_alone_do_not_hide_a_csv() -> None:
    header = b"MMSI,BaseDateTime,LAT,LON\n"
    assert detect_format(b"\x00\x00" + header + b"1,2024-05-01T00:00:00,1,1\n") == "csv"


def _tar(tmp_path: Path) -> Path:
    inner = tmp_path / "inner.nmea"
    inner.write_bytes(b"\n".join(_sentences(5)) + b"\n")
    path = tmp_path / "logs.tar"
    with tarfile.open(path, "w") as archive:
        archive.add(inner, arcname="inner.nmea")
    return path


def _zip(tmp_path: Path) -> Path:
    path = tmp_path / "logs.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("inner.nmea", b"\n".join(_sentences(5)) + b"\n")
    return path


def _sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "positions.db"
    with sqlite3.connect(path) as db:
        db.execute("create table lines (text)")
        db.executemany("insert into lines values (?)", [(s.decode(),) for s in _sentences(5)])
    return path


@pytest.mark.parametrize(
    ("build", "kind"), [(_tar, "tar archive"), (_zip, "zip archive"), (_sqlite, "SQLite")]
)
def test_archives_and_databases_are_named_and_skipped(
    tmp_path: Path, build: object, kind: str
) -> None:
    assert callable(build)
    path: Path = build(tmp_path)
    settings = _settings(tmp_path)
    summary = ingest_paths([path], settings)
    (error,) = summary.errors
    assert kind in error and path.name in error
    assert _n_stored(settings) == 0


@pytest.mark.parametrize("compress", [False, True])
def test_cr_only_line_ends_are_lines(tmp_path: Path, compress: bool) -> None:
    data = b"\r".join(_sentences(300)) + b"\r"
    path = tmp_path / "mac.nmea"
    path.write_bytes(gzip.compress(data) if compress else data)
    settings = _settings(tmp_path)
    summary = ingest_paths([path], settings)
    assert summary.errors == []
    assert summary.n_lines == 300 and _n_stored(settings) == 300


def test_a_grown_cr_only_log_is_resumed(tmp_path: Path) -> None:
    lines = _sentences(300)
    path = tmp_path / "mac.nmea"
    path.write_bytes(b"\r".join(lines[:150]) + b"\r")
    settings = _settings(tmp_path)
    ingest_paths([path], settings)
    path.write_bytes(b"\r".join(lines) + b"\r")
    summary = ingest_paths([path], settings)
    assert summary.files[0].status == "resumed"
    assert summary.n_lines == 150
    assert _n_stored(settings) == 300


def test_cr_only_csv(tmp_path: Path) -> None:
    rows = [f"36600000{i},2024-05-01T00:00:0{i},37.5,-122.3".encode() for i in range(5)]
    path = tmp_path / "mac.csv"
    path.write_bytes(b"\r".join([b"MMSI,BaseDateTime,LAT,LON", *rows]) + b"\r")
    settings = _settings(tmp_path)
    assert ingest_paths([path], settings).errors == []
    assert _n_stored(settings) == 5


def test_a_line_without_end_is_not_held_in_memory() -> None:
    blob = b"x" * (5 * MAX_LINE_BYTES) + b"\n" + b"\n".join(_sentences(3)) + b"\n"
    chunks = list(iter_chunks(io.BytesIO(blob), chunk_bytes=MAX_LINE_BYTES // 4))
    assert max(len(c.data) for c in chunks) <= MAX_LINE_BYTES + MAX_LINE_BYTES // 4
    assert sum(c.overlong for c in chunks) == 1
    kept = b"".join(c.data for c in chunks)
    assert kept.endswith(b"\n".join(_sentences(3)) + b"\n")
    assert chunks[-1].end == len(blob)


def test_an_endless_line_is_counted_and_the_rest_ingested(tmp_path: Path) -> None:
    path = tmp_path / "blob.nmea"
    path.write_bytes(b"\n".join(_sentences(2)) + b"\n" + b"A" * (3 * MAX_LINE_BYTES))
    settings = _settings(tmp_path)
    summary = ingest_paths([path], settings)
    assert summary.errors == []
    assert summary.rejected["line_too_long"] == 1
    assert _n_stored(settings) == 2


def test_semicolon_csv_with_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "MMSI;BaseDateTime;LAT;LON;SOG;COG;Draft\n"
        "366000001;2024-05-01T00:00:00;37,5;-122,25;5,2;90,5;8,4\n"
        "366000002;2024-05-01T00:01:00;37,75;-122,5;0,0;;\n"
    )
    settings = _settings(tmp_path)
    summary = ingest_paths([path], settings)
    assert summary.errors == [] and not summary.rejected
    stored = Store(settings.store.path).scan_positions().collect().sort("mmsi")
    assert stored["lat"].to_list() == [37.5, 37.75]
    assert stored["lon"].to_list() == [-122.25, -122.5]
    assert stored["sog_kn"].to_list() == [5.2, 0.0]
    assert stored["cog_deg"].to_list() == [90.5, None]
    statics = Store(settings.store.path).scan_statics().collect()
    assert statics.filter(pl.col("mmsi") == 366000001)["draught_m"].to_list() == [8.4]
