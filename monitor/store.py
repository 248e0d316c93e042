"""The Parquet store: positions partitioned by day, static reports, the ingest manifest."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA, empty_frame


def atomic_write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` through a temp file and a rename, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        frame.write_parquet(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Store:
    """A store directory: ``positions/date=YYYY-MM-DD/*.parquet``, ``statics/*.parquet``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def positions_dir(self) -> Path:
        return self.root / "positions"

    @property
    def statics_dir(self) -> Path:
        return self.root / "statics"

    def scan_positions(self) -> pl.LazyFrame:
        """Return every stored position (POSITIONS_SCHEMA), one row per distinct message."""
        files = sorted(self.positions_dir.glob("date=*/*.parquet"))
        if not files:
            return empty_frame(POSITIONS_SCHEMA).lazy()
        return pl.scan_parquet(files, schema=POSITIONS_SCHEMA, hive_partitioning=False)

    def scan_statics(self) -> pl.LazyFrame:
        """Return every stored static/voyage report (STATICS_SCHEMA)."""
        files = sorted(self.statics_dir.glob("*.parquet"))
        if not files:
            return empty_frame(STATICS_SCHEMA).lazy()
        return pl.scan_parquet(files, schema=STATICS_SCHEMA)
