"""Text from strangers made harmless on a terminal: no escape sequences, no control characters.

Anyone with an AIS transmitter chooses the names, call signs and destinations the monitor stores,
and file names and file contents end up in messages. A terminal obeys escape sequences in them
(clear the screen, set the window title, hide text): the command line passes every such text it
prints through :func:`terminal_text`. (Spreadsheets: :mod:`monitor.core.safe_csv`.)
"""

from __future__ import annotations

import re

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
