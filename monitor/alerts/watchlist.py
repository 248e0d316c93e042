"""Watchlists: CSV files of vessels to watch, matched by MMSI, IMO or name."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from monitor.errors import ConfigError

_SPACES = re.compile(r"\s+")


def normal_name(name: str) -> str:
    """Return a ship name as compared: upper case, single spaces, no padding."""
    return _SPACES.sub(" ", name.replace("@", " ")).strip().upper()


@dataclass(frozen=True)
class Watchlist:
    """The vessels of one watchlist file."""

    mmsis: frozenset[int]
    imos: frozenset[int]
    names: frozenset[str]

    def matches(self, calls: pl.DataFrame) -> pl.Series:
        """Return, per call, whether its vessel is on the list (MMSI, IMO or name)."""
        name = (
            calls["vessel_name"]
            .fill_null("")
            .str.replace_all("@", " ")
            .str.replace_all(r"\s+", " ")
            .str.strip_chars()
            .str.to_uppercase()
        )
        return (
            calls["mmsi"].cast(pl.Int64).is_in(list(self.mmsis))
            | calls["imo"].cast(pl.Int64).is_in(list(self.imos)).fill_null(False)
            | (name.is_in(list(self.names)) & (name != ""))
        )


def _number(text: str, column: str, path: Path, line: int) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise ConfigError(
            f"{path}, line {line}: {column} {text!r} is not a number; fix or clear it"
        )
    return int(text)


def load_watchlist(path: Path) -> Watchlist:
    """Return the watchlist in the CSV at ``path`` (header with any of mmsi, imo, name)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the watchlist ({exc.strerror}); check the path"
        ) from exc
    reader = csv.DictReader(text.splitlines())
    header = {(h or "").strip().lower() for h in reader.fieldnames or []}
    if not header & {"mmsi", "imo", "name"}:
        raise ConfigError(
            f"{path}: a watchlist needs a header line with mmsi, imo and/or name columns"
        )
    mmsis: set[int] = set()
    imos: set[int] = set()
    names: set[str] = set()
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        mmsi = _number(row.get("mmsi", ""), "mmsi", path, line)
        imo = _number(row.get("imo", ""), "imo", path, line)
        name = normal_name(row.get("name", ""))
        if mmsi is not None:
            mmsis.add(mmsi)
        if imo is not None:
            imos.add(imo)
        if name:
            names.add(name)
    return Watchlist(frozenset(mmsis), frozenset(imos), frozenset(names))
