"""How the commands print: prose that a pipe gets unwrapped, and listings as a table that fits
the width, as CSV or as JSON.

A table fits the terminal, or 100 columns when the output is not a terminal (``COLUMNS`` wins
over both). Numbers, MMSIs and times are never cut; when the columns do not fit, the least
important ones are left out, then names are shortened with an ellipsis, and when even that does
not fit, each row is printed as a block of ``label  value`` lines. CSV and JSON carry every column
of the listing, whatever the width, with times in ISO 8601 UTC.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Any, Literal

import click

from monitor.core.terminal import terminal_text

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

ListingFormat = Literal["table", "csv", "json"]
LISTING_FORMATS: tuple[ListingFormat, ...] = ("table", "csv", "json")
#: Width of a table printed into a pipe or a file.
PIPE_WIDTH = 100
_GAP = "  "
#: Columns whose ``drop`` is at least this are left out before names are shortened.
MINOR_COLUMN = 3
_ELLIPSIS = "\u2026"


def output_width(stream: IO[str] | None = None) -> int:
    """Return the width to print to: ``COLUMNS``, else the terminal's, else ``PIPE_WIDTH``."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream or sys.stdout
    if stream.isatty():
        return shutil.get_terminal_size((PIPE_WIDTH, 24)).columns
    return PIPE_WIDTH


def make_console(*, stderr: bool = False) -> Console:
    """Return a rich console: words wrap at the terminal's edge, never inside a pipe or file."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(stderr=stderr, width=output_width(stream), soft_wrap=not tty, highlight=False)


def plain(text: str) -> str:
    """Return stored text fit for one table cell: no escape sequences, control characters or
    line breaks (AIS text comes from strangers: a name must not clear the screen or hide the
    rows after it)."""
    return terminal_text(text)


def markup_text(text: str) -> str:
    """Return stored or configured text fit to print through rich: no markup, escape sequences
    or control characters."""
    from rich.markup import escape

    return escape(terminal_text(text))


@dataclass(frozen=True)
class Column:
    """One column of a listing: the frame column it shows and how."""

    name: str
    header: str
    #: Cell text of a value (None gives ``-`` unless ``show`` says otherwise).
    show: Callable[[Any], str] = str
    #: 0: always shown; higher numbers are left out first when the table is too wide, those
    #: from ``MINOR_COLUMN`` up before any name is shortened.
    drop: int = 0
    #: Names and other free text may be shortened to this many characters with an ellipsis;
    #: None for numbers, ids and times, which are never cut.
    shrink_to: int | None = None
    right: bool = False

    def cell(self, value: object) -> str:
        if value is None:
            return "-"
        return plain(self.show(value))


def minute(value: datetime) -> str:
    """Return a time as ``2024-05-01 06:30`` (UTC, the listing's headers say so)."""
    return value.strftime("%Y-%m-%d %H:%M")


def iso_utc(value: object) -> object:
    """Return datetimes as ISO 8601 UTC text, dates as ISO text, anything else unchanged."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _fit(
    widths: list[int], columns: Sequence[Column], width: int, *, shrink: bool
) -> list[int] | None:
    """Return the column widths that fit ``width`` (shortening free text if ``shrink``), or
    None if they do not."""
    total = sum(widths) + len(_GAP) * (len(widths) - 1)
    excess = total - width
    if excess <= 0:
        return widths
    if not shrink:
        return None
    fitted = list(widths)
    for i, column in sorted(enumerate(columns), key=lambda item: -item[1].drop):
        if column.shrink_to is None or excess <= 0:
            continue
        room = fitted[i] - max(column.shrink_to, len(column.header))
        if room > 0:
            cut = min(room, excess)
            fitted[i] -= cut
            excess -= cut
    return fitted if excess <= 0 else None


def _clip(text: str, width: int) -> str:
    """Return ``text`` cut to ``width`` terminal cells, an ellipsis marking the cut."""
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(0, width - 1)).rstrip() + _ELLIPSIS


def _pad(text: str, width: int, right: bool) -> str:
    from rich.cells import cell_len

    space = " " * max(0, width - cell_len(text))
    return space + text if right else text + space


def table_lines(rows: Sequence[Sequence[str]], columns: Sequence[Column], width: int) -> list[str]:
    """Return the lines of a table of ``rows`` (cell texts) within ``width`` terminal cells."""
    from rich.cells import cell_len

    keep = list(range(len(columns)))
    while True:
        shown = [columns[i] for i in keep]
        natural = [
            max([cell_len(columns[i].header), *(cell_len(row[i]) for row in rows)]) for i in keep
        ]
        # Columns that are only nice to have go before any name is shortened; the others only
        # when shortening names is not enough.
        minor = [i for i in keep if columns[i].drop >= MINOR_COLUMN]
        widths = _fit(natural, shown, width, shrink=not minor)
        if widths is not None:
            break
        droppable = minor or [i for i in keep if columns[i].drop > 0]
        if not droppable:
            return _vertical_lines(rows, columns, width)
        worst = max(droppable, key=lambda i: (columns[i].drop, i))
        keep.remove(worst)

    def line(cells: Sequence[str]) -> str:
        parts = []
        for text, column, w in zip(cells, shown, widths, strict=True):
            parts.append(_pad(_clip(text, w), w, column.right))
        return _GAP.join(parts).rstrip()

    out = [line([c.header for c in shown]), _GAP.join("\u2500" * w for w in widths)]
    out.extend(line([row[i] for i in keep]) for row in rows)
    return out


def _vertical_lines(
    rows: Sequence[Sequence[str]], columns: Sequence[Column], width: int
) -> list[str]:
    label_w = max(len(c.header) for c in columns)
    out: list[str] = []
    for row in rows:
        if out:
            out.append("")
        for column, text in zip(columns, row, strict=True):
            value = text if column.shrink_to is None else _clip(text, width - label_w - 2)
            out.append(f"{column.header.ljust(label_w)}  {value}".rstrip())
    return out


def listing_text(
    frame: pl.DataFrame,
    columns: Sequence[Column],
    fmt: ListingFormat,
    *,
    width: int | None = None,
) -> str:
    """Return ``frame`` as a table of ``columns`` fitting ``width``, or as CSV or JSON text.

    CSV and JSON have every column of ``frame``; lists become ``; ``-separated text in CSV.
    """
    import polars as pl

    if fmt == "json":
        records = [
            {key: _json_value(value) for key, value in row.items()}
            for row in frame.iter_rows(named=True)
        ]
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    if fmt == "csv":
        from monitor.core.safe_csv import csv_text
        from monitor.core.times import ISO_UTC_FORMAT

        flat = frame.with_columns(
            pl.col(name).list.eval(pl.element().cast(pl.String)).list.join("; ")
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.List)
        )
        return csv_text(flat, datetime_format=ISO_UTC_FORMAT)
    rows = [
        [column.cell(value) for column, value in zip(columns, row, strict=True)]
        for row in frame.select([c.name for c in columns]).iter_rows()
    ]
    return "\n".join(table_lines(rows, columns, width or output_width())) + "\n"


def _json_value(value: object) -> object:
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return iso_utc(value)


def echo_listing(
    frame: pl.DataFrame,
    columns: Sequence[Column],
    fmt: ListingFormat,
    *,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> None:
    """Print a listing: with a title and notes around a table, the bare data as CSV or JSON."""
    text = listing_text(frame, columns, fmt)
    if fmt != "table":
        click.echo(text, nl=False)
        return
    if title:
        click.echo(title)
    click.echo(text, nl=False)
    for note in notes:
        click.echo(note)


#: The watchlist columns of ``--watchlist`` listings: the list, and "name" for a match by name
#: alone (weaker than by MMSI or IMO).
WATCH_COLUMNS = (
    Column("watchlist", "List", shrink_to=8),
    Column("watch_match", "By", drop=3),
)


def nothing_listed(stored: int, noun: str, *, detected: bool, watched: bool = False) -> str:
    """Return what a listing prints when no row is left: not detected yet, none found by the
    detection (``detected``: the store holds its table), none of a watchlist vessel
    (``watched``), or none matches."""
    if not stored and not detected:
        return f"No {noun} yet: run `monitor detect` after ingesting positions."
    if not stored:
        return f"No {noun} found: `monitor detect` found none in the stored positions."
    if watched:
        return f"None of the {stored:,} {noun} is of a watchlist vessel."
    return f"None of the {stored:,} {noun} matches."


#: Exit status of a command given an id (port, MMSI, vessel name) that the data does not hold,
#: as for any other bad argument.
USAGE_EXIT = 2


@contextlib.contextmanager
def unknown_id_errors() -> Iterator[None]:
    """Turn an unknown port id, MMSI or vessel name into its message and exit status 2."""
    from monitor.errors import UnknownIdError

    try:
        yield
    except UnknownIdError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise click.exceptions.Exit(USAGE_EXIT) from exc
