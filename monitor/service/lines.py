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
    return b"\\%s*%02X\\" % (body, checksum(body))


def checksum(data: bytes) -> int:
    """Return the NMEA checksum of ``data`` (a sentence or tag block between its delimiter and
    ``*``): the XOR of its bytes."""
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
    return b"%s*%02X" % (body, checksum(body))


def is_prefix_line(line: bytes) -> bool:
    """Return whether ``line`` only times the sentence after it ($PGHP, a lone tag block)."""
    return line.startswith(b"$PGHP") or (
        line.startswith(b"\\") and line.endswith(b"\\") and len(line) > 1
    )


def _later_part(sentence: bytes) -> bool:
    """Return whether an AIS sentence is part 2 or later of a multi-part message."""
    fields = sentence.split(b",", 3)
    return len(fields) > 3 and fields[2] not in (b"", b"1") and fields[1] != b"1"


@dataclass
class LineStamper:
    """Adds receive times to the sentences of one feed (remembers a time-giving line before)."""

    #: The line before timed this one ($PGHP header, or a tag block with c: on its own line).
    timed_next: bool = False
    #: The last first part of a multi-part message came with a time of its own: its later
    #: parts, which follow it without one, are left as they are (the message takes its time).
    part_one_timed: bool = False

    def stamp(self, lines: list[bytes], received_ms: int) -> list[bytes]:
        """Return ``lines`` with the receive-time tag block on every AIS sentence without a time."""
        tag = tag_block(received_ms)
        out: list[bytes] = []
        for line in lines:
            first = line[:1]
            if first == b"!":
                timed = self.timed_next or _has_trailing_epoch(line)
                if _later_part(line):
                    timed = timed or self.part_one_timed
                else:
                    self.part_one_timed = timed
                if not timed:
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
        if rest.startswith(b"!"):
            own = has_time or timed or _has_trailing_epoch(rest)
            if _later_part(rest):
                own = own or self.part_one_timed
            else:
                self.part_one_timed = own
            if not own:
                return b"\\" + _with_time(block, received_ms) + b"\\" + rest
        return line


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
