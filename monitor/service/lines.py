"""Feed lines: cutting a byte stream into bounded lines, and stamping each with its receive time.

A sender on the network decides what arrives, so no line is held beyond ``max_line_bytes``: a
longer one is dropped (counted) and the stream resynchronises at the next newline. Every AIS
sentence is archived with the time it was received as an NMEA 4.0 tag block (``\\c:<ms>*hh\\``),
unless it carries a time of its own (a tag block with ``c:``, an epoch after the checksum, or a
``$PGHP`` header or lone tag block on the line before it), which is then kept as sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce


def tag_block(received_ms: int) -> bytes:
    """Return the tag block ``\\c:<ms>*hh\\`` for a receive time in epoch milliseconds."""
    body = b"c:%d" % received_ms
    return b"\\%s*%02X\\" % (body, _xor(body))


def _xor(data: bytes) -> int:
    return reduce(int.__xor__, data, 0)


def _has_trailing_epoch(line: bytes) -> bool:
    """Return whether fields after the checksum end in an epoch (US Coast Guard, exactEarth)."""
    star = line.rfind(b"*")
    if star < 0 or line[star + 3 : star + 4] != b",":
        return False
    last = line.rsplit(b",", 1)[-1].strip()
    return len(last) >= 9 and last.isdigit()


def _with_time(block: bytes, received_ms: int) -> bytes:
    """Return tag-block text (between the backslashes) with ``c:`` added and its checksum redone."""
    body = block.split(b"*", 1)[0]
    body = b"%s,c:%d" % (body, received_ms) if body else b"c:%d" % received_ms
    return b"%s*%02X" % (body, _xor(body))


@dataclass
class LineStamper:
    """Adds receive times to the sentences of one feed (remembers a time-giving line before)."""

    #: The line before timed this one ($PGHP header, or a tag block with c: on its own line).
    timed_next: bool = False

    def stamp(self, lines: list[bytes], received_ms: int) -> list[bytes]:
        """Return ``lines`` with the receive-time tag block on every AIS sentence without a time."""
        tag = tag_block(received_ms)
        out: list[bytes] = []
        for line in lines:
            first = line[:1]
            if first == b"!":
                if not self.timed_next and not _has_trailing_epoch(line):
                    line = tag + line
                self.timed_next = False
            elif first == b"\\":
                line = self._tagged(line, received_ms)
            elif line.startswith(b"$PGHP"):
                self.timed_next = True
            out.append(line)
        return out

    def _tagged(self, line: bytes, received_ms: int) -> bytes:
        end = line.find(b"\\", 1)
        if end < 0:
            return line
        block, rest = line[1:end], line[end + 1 :]
        fields = block.split(b"*", 1)[0].split(b",")
        has_time = any(f.startswith(b"c:") for f in fields)
        if not rest:
            self.timed_next = has_time
            return line
        timed, self.timed_next = self.timed_next, False
        if has_time or timed or not rest.startswith(b"!") or _has_trailing_epoch(rest):
            return line
        return b"\\" + _with_time(block, received_ms) + b"\\" + rest


@dataclass
class LineFramer:
    """Cuts a byte stream into lines of at most ``max_line_bytes``; counts what it drops."""

    max_line_bytes: int
    #: Lines dropped for being too long.
    n_too_long: int = 0
    _partial: bytearray = field(default_factory=bytearray)
    _skipping: bool = False

    def feed(self, data: bytes) -> list[bytes]:
        """Return the complete lines that ``data`` ends (CR/LF stripped, blank lines left out)."""
        pieces = data.split(b"\n")
        last = pieces.pop()
        lines: list[bytes] = []
        for piece in pieces:
            if self._partial or self._skipping:
                skipping = self._skipping
                self._partial += piece
                piece = bytes(self._partial)
                self._partial.clear()
                self._skipping = False
                if skipping:
                    continue
            line = piece.strip(b"\r")
            if len(line) > self.max_line_bytes:
                self.n_too_long += 1
            elif line:
                lines.append(line)
        if not self._skipping:
            self._partial += last
            if len(self._partial) > self.max_line_bytes:
                # Never hold more than one line's worth: drop it now, skip to the next newline.
                self._partial.clear()
                self._skipping = True
                self.n_too_long += 1
        return lines

    def pending_bytes(self) -> int:
        """Return how many bytes of an unfinished line are held."""
        return len(self._partial)

    def reset(self) -> bool:
        """Forget an unfinished line (the connection ended); return whether there was one."""
        cut = bool(self._partial)
        self._partial.clear()
        self._skipping = False
        return cut


def datagram_lines(data: bytes, max_line_bytes: int) -> tuple[list[bytes], int]:
    """Return the lines of one UDP datagram (its last line needs no newline) and how many were
    too long."""
    lines: list[bytes] = []
    too_long = 0
    for piece in data.split(b"\n"):
        line = piece.strip(b"\r")
        if len(line) > max_line_bytes:
            too_long += 1
        elif line:
            lines.append(line)
    return lines, too_long
