"""CSV that is safe to open in a spreadsheet: the one way the monitor writes CSV.

Anyone with an AIS transmitter chooses the names, call signs and destinations the monitor
stores. A spreadsheet runs a CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK(...)``, ``=cmd|...``): every CSV the monitor writes goes through :func:`csv_text`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from monitor.core.atomic import atomic_write_text

#: The OWASP rule: a cell starting with one of these is prefixed with a single quote, which
#: spreadsheets take as "text" and do not show.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = r"^[=+\-@\t\r]"


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` with each text cell a spreadsheet would run as a formula prefixed ``'``.

    Only text columns change: numbers (a negative latitude) stay numbers.
    """
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def undo_spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Return the text cells of a frame read from :func:`csv_text` as they were before."""
    return frame.with_columns(
        pl.col(name).str.replace(r"^'([=+\-@\t\r])", "$1")
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def csv_text(frame: pl.DataFrame, *, datetime_format: str | None = "%Y-%m-%dT%H:%M:%SZ") -> str:
    """Return ``frame`` as CSV text safe to open in a spreadsheet.

    Times are written with ``datetime_format`` (ISO 8601 UTC to the second by default; None
    keeps every digit, ``2024-05-01T06:30:00.250000+0000``).
    """
    return spreadsheet_safe(frame).write_csv(datetime_format=datetime_format)


def write_csv(frame: pl.DataFrame, path: Path, *, datetime_format: str | None = None) -> None:
    """Write ``frame`` as :func:`csv_text` to ``path`` atomically."""
    atomic_write_text(path, csv_text(frame, datetime_format=datetime_format))
