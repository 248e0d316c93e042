"""Text from strangers made harmless where it is shown: spreadsheet cells and terminals.

Anyone with an AIS transmitter chooses the names, call signs and destinations the monitor
stores. A spreadsheet runs a CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK(...)``, ``=cmd|...``); a terminal obeys escape sequences (clear the screen, set
the window title, hide text). Every CSV the monitor writes goes through :func:`csv_text`, and
the command line passes every stored text it prints through :func:`terminal_text`.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from monitor.core.atomic import atomic_write_text

#: The OWASP rule: a cell starting with one of these is prefixed with a single quote, which
#: spreadsheets take as "text" and do not show.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = r"^[=+\-@\t\r]"
#: Escape sequences as whole units (CSI ``ESC [ ... final``, OSC/DCS/APC/PM/SOS strings up to
#: BEL or ``ESC \``, two-byte ``ESC x``, and the C1 CSI), so that no parameter bytes are left.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"
    r"|\x1b[ -~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]",
    re.DOTALL,
)
#: C0 and C1 control characters, DEL, and the Unicode bidirectional overrides (which make a
#: terminal show text in another order than it is).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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


def terminal_text(text: str, *, keep_newlines: bool = False) -> str:
    """Return ``text`` without escape sequences or control characters, fit to print.

    Tabs, carriage returns and newlines become spaces (a table cell stays on its line), or
    newlines are kept with ``keep_newlines`` (messages of several lines).
    """
    text = _ESCAPES.sub("", text)
    if keep_newlines:
        text = text.replace("\r\n", "\n").replace("\t", " ").replace("\r", "")
        return "\n".join(_CONTROLS.sub("", line) for line in text.split("\n"))
    text = text.replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return _CONTROLS.sub("", text)
