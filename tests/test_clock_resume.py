"""Logs timed by clock sentences ($xxZDA/$xxRMC) or $PGHP lines keep their times across a resume."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from nmea_builders import checksummed
from pyais import encode_dict

from monitor.config import Settings, StoreSettings
from monitor.pipeline import ingest as ingest_mod
from monitor.pipeline.ingest import ingest_paths
from monitor.sources import files
from monitor.store.parquet import Store


def _position(i: int) -> str:
    msg: dict[str, Any] = {
        "type": 1,
        "mmsi": 366000000 + i % 5,
        "lat": 37.0 + i * 1e-4,
        "lon": -122.0,
        "speed": 5.0,
        "course": 90.0,
        "second": i % 60,
    }
    (sentence,) = encode_dict(msg, talker_id="AI", sentence_type="VDM")
    return str(sentence)


def _zda_log(n: int) -> list[str]:
    """Return a log with a $GPZDA clock every 20 lines and untimed AIS sentences between."""
    lines = []
    for i in range(n):
        if i % 20 == 0:
            minute = i // 20
            lines.append(checksummed(f"GPZDA,10{minute:02d}00.00,01,05,2024,,"))
        lines.append(_position(i))
    return lines


def _pghp_log(n: int) -> list[str]:
    """Return a Gatehouse log: a $PGHP line before each AIS sentence."""
    lines = []
    for i in range(n):
        lines.append(checksummed(f"PGHP,1,2024,5,1,10,{i // 60},{i % 60},0,219,,2190067,1,62"))
        lines.append(_position(i))
    return lines


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    return path


def _stored(settings: Settings) -> pl.DataFrame:
    frame = Store(settings.store.path).scan_positions().collect()
    return frame.select("mmsi", "timestamp_utc", "lat", "lon").sort("timestamp_utc", "lat")


def _settings(path: Path) -> Settings:
    return Settings(store=StoreSettings(path=path))


@pytest.mark.parametrize("log", [_zda_log, _pghp_log])
@pytest.mark.parametrize("cut", [0.37, 0.5, 0.505, 0.81])
def test_a_grown_log_resumes_with_its_clock(tmp_path: Path, log: object, cut: float) -> None:
    assert callable(log)
    lines: list[str] = log(300)
    clean = _settings(tmp_path / "clean")
    ingest_paths([_write(tmp_path / "whole.nmea", lines)], clean)
    expected = _stored(clean)
    assert expected.height == 300

    settings = _settings(tmp_path / "store")
    path = tmp_path / "feed.nmea"
    split = int(len(lines) * cut)
    _write(path, lines[:split])
    first = ingest_paths([path], settings)
    _write(path, lines)
    second = ingest_paths([path], settings)
    assert second.files[0].status == "resumed"
    assert first.rejected["no_time"] + second.rejected["no_time"] == 0
    assert _stored(settings).equals(expected)


def _small_chunks(
    stream: io.BufferedIOBase, start: int = 0, chunk_bytes: int = 0, prefix: bytes = b""
) -> Iterator[files.Chunk]:
    return files.iter_chunks(stream, start=start, chunk_bytes=1500, prefix=prefix)


@pytest.mark.parametrize("fail_at", [2, 3, 5])
def test_a_killed_run_resumes_with_its_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    lines = _zda_log(400)
    path = _write(tmp_path / "feed.nmea", lines)
    clean = _settings(tmp_path / "clean")
    ingest_paths([path], clean)
    expected = _stored(clean)

    monkeypatch.setattr(ingest_mod, "FLUSH_ROWS", 30)
    monkeypatch.setattr(ingest_mod, "DETECT_BYTES", 512)
    monkeypatch.setattr(ingest_mod, "iter_chunks", _small_chunks)
    real = Store.add_positions
    calls = {"n": 0}

    def flaky(self: Store, frame: pl.DataFrame, window_s: float) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise KeyboardInterrupt
        return real(self, frame, window_s)

    settings = _settings(tmp_path / "store")
    monkeypatch.setattr(Store, "add_positions", flaky)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths([path], settings)
    monkeypatch.setattr(Store, "add_positions", real)
    again = ingest_paths([path], settings)
    assert again.rejected["no_time"] == 0
    assert _stored(settings).equals(expected)
