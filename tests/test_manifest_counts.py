"""The manifest counts every stored row of an input, also those of a run that died mid-write."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from nmea_builders import EPOCH0, position, tagged
from pyais import encode_dict

from monitor.config import Settings, StoreSettings
from monitor.pipeline import ingest as ingest_mod
from monitor.pipeline.ingest import ingest_paths
from monitor.sources import files
from monitor.store.parquet import Store


def _lines(n: int) -> list[str]:
    lines = []
    for i in range(n):
        lines.append(tagged(position(366000000 + i % 7, 37 + i * 1e-4, -122.0), EPOCH0 + i))
        if i % 50 == 0:
            static: dict[str, Any] = {"type": 5, "mmsi": 366000000 + i % 7, "shipname": f"SHIP {i}"}
            lines += [tagged(s, EPOCH0 + i) for s in encode_dict(static, seq_id=1)]
    return lines


def _manifest(settings: Settings) -> dict[str, int]:
    frame = Store(settings.store.path).read_manifest()
    row = frame.row(0, named=True)
    return {name: row[name] for name in ("n_positions", "n_statics", "n_messages", "n_lines")}


def _small_chunks(
    stream: io.BufferedIOBase, start: int = 0, chunk_bytes: int = 0, prefix: bytes = b""
) -> Iterator[files.Chunk]:
    return files.iter_chunks(stream, start=start, chunk_bytes=2000, prefix=prefix)


class _Killed(BaseException):
    """The process dies right after this write."""


@pytest.mark.parametrize("die_after", [1, 2, 4])
def test_counts_are_right_after_a_run_that_died_after_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, die_after: int
) -> None:
    path = tmp_path / "feed.nmea"
    path.write_text("".join(line + "\n" for line in _lines(600)))
    monkeypatch.setattr(ingest_mod, "FLUSH_ROWS", 100)
    monkeypatch.setattr(ingest_mod, "DETECT_BYTES", 512)
    monkeypatch.setattr(ingest_mod, "iter_chunks", _small_chunks)
    clean = Settings(store=StoreSettings(path=tmp_path / "clean"))
    ingest_paths([path], clean)
    expected = _manifest(clean)
    assert expected["n_positions"] == 600

    real = Store.add_positions
    calls = {"n": 0}

    def dies_after(self: Store, frame: pl.DataFrame, window_s: float) -> object:
        stored = real(self, frame, window_s)
        calls["n"] += 1
        if calls["n"] == die_after:
            raise _Killed  # the rows are stored, the manifest does not know yet
        return stored

    settings = Settings(store=StoreSettings(path=tmp_path / "store"))
    monkeypatch.setattr(Store, "add_positions", dies_after)
    with pytest.raises(_Killed):
        ingest_paths([path], settings)
    monkeypatch.setattr(Store, "add_positions", real)
    ingest_paths([path], settings)
    assert _manifest(settings) == expected
    assert Store(settings.store.path).scan_positions().collect().height == 600
