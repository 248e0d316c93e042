"""The watchlist: vessels of interest from a CSV file, and which calls and events are theirs.

The file has a header line and columns ``mmsi``, ``imo``, ``name``, ``list`` and ``note`` (any
may be empty, but each row needs an MMSI, an IMO number or a name). A vessel matches an entry
by MMSI or IMO number, or (weaker: names are not unique and are easily changed) by name,
compared in upper case with runs of spaces and AIS padding (``@``) as one space. The strongest
match wins: ``mmsi``, then ``imo``, then ``name``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.config import WatchlistSettings

#: How a row matched, strongest first.
MATCH_KINDS = ("mmsi", "imo", "name")
#: The columns :meth:`Watchlist.mark` adds.
WATCH_SCHEMA: dict[str, pl.DataType] = {
    # The lists of the entries matched (``list`` column, or "watchlist"), joined by "; ".
    "watchlist": pl.String(),
    # mmsi | imo | name: how the strongest match was made (null: not on the watchlist).
    "watch_match": pl.String(),
    # Their notes, joined by "; ".
    "watch_note": pl.String(),
}
_COLUMNS = ("mmsi", "imo", "name", "list", "note")
_SPACES = re.compile(r"\s+")
_ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "imo": pl.UInt32(),
    "name": pl.String(),
    "list": pl.String(),
    "note": pl.String(),
}


def normal_name(name: str) -> str:
    """Return a ship name as compared: upper case, single spaces, no AIS padding."""
    return _SPACES.sub(" ", name.replace("@", " ")).strip().upper()


def normal_name_expr(name: pl.Expr) -> pl.Expr:
    """Return :func:`normal_name` of a column of names."""
    return (
        name.str.replace_all("@", " ", literal=True)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .str.to_uppercase()
    )


@dataclass(frozen=True)
class Watchlist:
    """The entries of a watchlist file (mmsi, imo, name as compared, list, note)."""

    entries: pl.DataFrame
    #: Whether names match at all (``watchlist.match_names``).
    match_names: bool = True

    @classmethod
    def empty(cls) -> Watchlist:
        """Return a watchlist without entries."""
        return cls(pl.DataFrame(schema=_ENTRY_SCHEMA))

    def mark(
        self, frame: pl.DataFrame, *, mmsi: str = "mmsi", imo: str | None = None,
        name: str | None = None,
    ) -> pl.DataFrame:  # fmt: skip
        """Return ``frame`` with :data:`WATCH_SCHEMA` columns: the entries its rows match by
        column ``mmsi``, ``imo`` and ``name`` (those given)."""
        rows = frame.with_row_index("__row")
        probes: list[pl.DataFrame] = []
        keys = [("mmsi", mmsi), ("imo", imo)] + ([("name", name)] if self.match_names else [])
        for rank, (field, column) in enumerate(keys):
            if column is None or column not in frame.columns:
                continue
            value = (
                normal_name_expr(pl.col(column))
                if field == "name"
                else pl.col(column).cast(pl.UInt32, strict=False)
            )
            found = (
                rows.select("__row", __value=value)
                .drop_nulls("__value")
                .join(
                    self.entries.drop_nulls(field).select(
                        pl.col(field).alias("__value"), "list", "note"
                    ),
                    on="__value",
                )
                .select("__row", "list", "note", __rank=pl.lit(rank, pl.UInt8))
            )
            probes.append(found)
        if probes:
            hits = pl.concat(probes)
            hits = hits.filter(pl.col("__rank") == pl.col("__rank").min().over("__row"))
        else:
            hits = pl.DataFrame(schema={"__row": pl.UInt32(), "list": pl.String(),
                                        "note": pl.String(), "__rank": pl.UInt8()})  # fmt: skip
        best = hits.group_by("__row").agg(
            watchlist=pl.col("list").unique(maintain_order=True).str.join("; "),
            watch_match=pl.col("__rank")
            .first()
            .replace_strict(
                list(range(len(MATCH_KINDS))), list(MATCH_KINDS), return_dtype=pl.String
            ),
            watch_note=pl.col("note").drop_nulls().unique(maintain_order=True).str.join("; "),
        )
        marked = rows.drop(list(WATCH_SCHEMA), strict=False).join(best, on="__row", how="left")
        return (
            marked.sort("__row").drop("__row").with_columns(pl.col("watch_note").replace("", None))
        )


def _number(text: str, column: str, digits: int, where: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > digits:
        raise ConfigError(
            f"{where}: {column} {text!r} is not a number of at most {digits} digits; fix or "
            "clear it"
        )
    return int(text)


def parse_watchlist(text: str, source: str, *, match_names: bool = True) -> Watchlist:
    """Return the watchlist in CSV ``text`` (``source`` names it in errors)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    if not set(header) & {"mmsi", "imo", "name"}:
        raise ConfigError(
            f"{source}: a watchlist needs a header line naming its columns, of mmsi, imo, "
            "name, list and note (at least one of mmsi, imo and name)"
        )
    unknown = sorted(set(header) - set(_COLUMNS) - {""})
    if unknown:
        raise ConfigError(
            f"{source}: unknown column(s) {', '.join(unknown)}; the columns are "
            f"{', '.join(_COLUMNS)}"
        )
    reader.fieldnames = header
    rows: list[dict[str, object]] = []
    for line, raw in enumerate(reader, start=2):
        where = f"{source}, line {line}"
        row = {key: (value or "").strip() for key, value in raw.items() if key}
        entry: dict[str, object] = {
            "mmsi": _number(str(row.get("mmsi", "")), "mmsi", 9, where),
            "imo": _number(str(row.get("imo", "")), "imo", 7, where),
            "name": normal_name(str(row.get("name", ""))) or None,
            "list": str(row.get("list", "")) or "watchlist",
            "note": str(row.get("note", "")) or None,
        }
        if entry["mmsi"] is None and entry["imo"] is None and entry["name"] is None:
            if any(row.values()):
                raise ConfigError(f"{where}: give an mmsi, an imo or a name")
            continue
        rows.append(entry)
    return Watchlist(pl.DataFrame(rows, schema=_ENTRY_SCHEMA, orient="row"), match_names)


def load_watchlist(path: Path | None, *, match_names: bool = True) -> Watchlist:
    """Return the watchlist in the CSV file at ``path`` (empty when ``path`` is None)."""
    if path is None:
        return Watchlist.empty()
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the watchlist ({exc.strerror}); check watchlist.path"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the watchlist is not UTF-8 text ({exc.reason})") from exc
    return parse_watchlist(text, str(path), match_names=match_names)


def configured_watchlist(settings: WatchlistSettings) -> Watchlist:
    """Return the watchlist the config names; a clear error when it names none."""
    if settings.path is None:
        raise ConfigError(
            'no watchlist configured: add [watchlist] path = "watchlist.csv" (columns mmsi, imo, '
            "name, list, note) to the config"
        )
    return load_watchlist(settings.path, match_names=settings.match_names)


def _rank() -> pl.Expr:
    return pl.col("watch_match").replace_strict(
        list(MATCH_KINDS), list(range(len(MATCH_KINDS))), return_dtype=pl.UInt8
    )


def mark_by_vessel(
    frame: pl.DataFrame, statics: pl.DataFrame, watchlist: Watchlist, columns: Sequence[str]
) -> pl.DataFrame:
    """Return ``frame`` with :data:`WATCH_SCHEMA` columns: the strongest match of the vessels
    in its MMSI ``columns`` (an event's ``mmsi`` and ``other_mmsi``), by MMSI, or by any IMO
    number or name the MMSI reported in ``statics``."""
    vessels = (
        pl.concat([frame.select(mmsi=pl.col(c).cast(pl.UInt32)) for c in columns])
        .drop_nulls()
        .unique()
    )
    reported = vessels.join(
        statics.select(pl.col("mmsi").cast(pl.UInt32), "imo", "vessel_name").unique(),
        on="mmsi",
        how="left",
    )
    marked = watchlist.mark(reported, imo="imo", name="vessel_name").drop_nulls("watch_match")
    best = marked.sort(_rank(), "watchlist").unique("mmsi", keep="first").drop("imo", "vessel_name")
    rows = frame.drop(list(WATCH_SCHEMA), strict=False).with_row_index("__row")
    found = pl.concat(
        [
            rows.select("__row", mmsi=pl.col(column).cast(pl.UInt32)).join(best, on="mmsi")
            for column in columns
        ]
    )
    chosen = found.sort("__row", _rank()).unique("__row", keep="first").drop("mmsi")
    return rows.join(chosen, on="__row", how="left").sort("__row").drop("__row")
