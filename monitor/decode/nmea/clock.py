"""Times in NMEA text: epochs, ``$PGHP`` headers, ``$xxZDA``/``$xxRMC`` clocks, and
the time of each AIS sentence given what came before it (see :mod:`monitor.decode.nmea.decoder` for
the order).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Final

import numpy as np

from monitor.core.jit import I64, U8, inline, kernel
from monitor.decode.bytes import COMMA, STAR, checksum_ok, find_byte, uint_after
from monitor.decode.codes import Reject, TimeSource
from monitor.decode.nmea.fragments import NO_TIME

_NO_TIME: Final = NO_TIME


@dataclass(frozen=True)
class ClockState:
    """What times the next AIS lines of an input, carried from one chunk, or run, to the next.

    ``pending``: a ``$PGHP`` or lone tag-block line that times the AIS line right after it;
    ``clock``: the last ``$xxZDA``/``$xxRMC`` sentence. Times in epoch µs (NO_TIME if none),
    sources TimeSource.NONE if none.
    """

    pending_us: int = NO_TIME
    pending_source: TimeSource = TimeSource.NONE
    clock_us: int = NO_TIME
    clock_source: TimeSource = TimeSource.NONE

    def to_array(self) -> I64:
        """Return the state as the time resolver carries it."""
        return np.array(
            [self.pending_us, self.pending_source, self.clock_us, self.clock_source], np.int64
        )

    @classmethod
    def from_array(cls, state: I64) -> ClockState:
        """Return the state the time resolver carried over."""
        pending, pending_src, clock, clock_src = (int(x) for x in state)
        return cls(
            pending_us=pending,
            pending_source=TimeSource(pending_src) if pending != NO_TIME else TimeSource.NONE,
            clock_us=clock,
            clock_source=TimeSource(clock_src) if clock != NO_TIME else TimeSource.NONE,
        )


@inline
def epoch_us(value: int, ndigits: int) -> int:
    """Return epoch seconds (up to 11 digits) or milliseconds (12+ digits) as microseconds."""
    return value * 1_000 if ndigits >= 12 else value * 1_000_000


@inline
def _days_from_civil(y: int, mo: int, d: int) -> int:
    """Return the days since 1970-01-01 of a proleptic Gregorian date."""
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo - 3 if mo > 2 else mo + 9) + 2) // 5 + d - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


@inline
def _month_days(y: int, mo: int) -> int:
    if mo == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if mo in (4, 6, 9, 11) else 31


@inline
def star_checksum(buf: U8, body: int, end: int) -> int:
    """Return 1 if the sentence ``buf[body:end]`` has a ``*hh`` checksum (after its first "*")
    that matches, 0 if it does not, -1 if the sentence has no "*"."""
    star = find_byte(buf, STAR, body + 1, end)
    if star < 0:
        return -1
    return 1 if (star + 3 <= end) & checksum_ok(buf, body, star) else 0


@inline
def _pghp_field(buf: U8, at: int) -> tuple[int, int, bool]:
    """Return the number that starts the ``$PGHP`` field at ``at``, where the next field starts
    and whether the field is 1-4 digits (a longer one makes the line invalid whatever its
    value)."""
    value, nd = uint_after(buf, at, 8)
    return value, at + nd + 1, (0 < nd <= 4) & (buf[at + nd] == COMMA)


@inline
def pghp_line(buf: U8, body: int, end: int) -> tuple[int, Reject]:
    """Return the time (µs, NO_TIME if none) of the ``$PGHP`` line ``buf[body:end]`` and why the
    line is rejected (Reject.NONE if it is not).

    Only Gatehouse message type 1 carries a time (``$PGHP,1,yyyy,m,d,h,m,s,ms,...``); other
    types are neither timed nor rejected.
    """
    kind, at, kind_ok = _pghp_field(buf, body + 6)
    y, at, y_ok = _pghp_field(buf, at)
    mo, at, mo_ok = _pghp_field(buf, at)
    d, at, d_ok = _pghp_field(buf, at)
    h, at, h_ok = _pghp_field(buf, at)
    mi, at, mi_ok = _pghp_field(buf, at)
    sec, at, sec_ok = _pghp_field(buf, at)
    ms, at, ms_ok = _pghp_field(buf, at)
    digits_ok = kind_ok & y_ok & mo_ok & d_ok & h_ok & mi_ok & sec_ok & ms_ok
    if star_checksum(buf, body, end) == 0:
        return _NO_TIME, Reject.BAD_CHECKSUM
    if kind != 1:
        return _NO_TIME, Reject.NONE
    if not (
        digits_ok
        and 1 <= mo <= 12
        and 1 <= d <= _month_days(y, mo)
        and h < 24
        and mi < 60
        and sec < 61
        and ms < 1000
    ):
        return _NO_TIME, Reject.INVALID_FIELD
    days = _days_from_civil(y, mo, d)
    return (((days * 24 + h) * 60 + mi) * 60 + sec) * 1_000_000 + ms * 1_000, Reject.NONE


@kernel
def resolve_times(
    line: I64,
    own_time: I64,
    own_src: I64,
    ais_lines: I64,
    prefixes: I64,
    clocks: I64,
    state: I64,
    fallback_us: int,
) -> tuple[I64, I64, I64]:
    """Return the time and time-source code of each sentence, and the state after the chunk.

    ``line``/``own_time``/``own_src``: the good sentences; ``ais_lines``: every AIS line, good or
    not; ``prefixes`` and ``clocks``: rows (line, time, source) of the lines that time the next
    AIS line and of the clock sentences, in line order. ``state``: (prefix time, its source, clock
    time, its source) carried over from the chunk before (NO_TIME if none).
    """
    time, src = own_time.copy(), own_src.copy()
    p_time, p_src, c_time, c_src = state[0], state[1], state[2], state[3]
    p = c = s = 0
    for ais in ais_lines:
        while p < prefixes.shape[1] and prefixes[0, p] < ais:
            p_time, p_src = prefixes[1, p], prefixes[2, p]
            p += 1
        while c < clocks.shape[1] and clocks[0, c] < ais:
            c_time, c_src = clocks[1, c], clocks[2, c]
            c += 1
        if s < len(line) and line[s] == ais:
            if time[s] == _NO_TIME:
                if p_time != _NO_TIME:
                    time[s], src[s] = p_time, p_src
                elif c_time != _NO_TIME:
                    time[s], src[s] = c_time, c_src
                elif fallback_us != _NO_TIME:
                    time[s], src[s] = fallback_us, TimeSource.FALLBACK
            s += 1
        # A prefix line times the AIS line right after it, whether that one is good or not.
        p_time = _NO_TIME
    if p < prefixes.shape[1]:
        p_time, p_src = prefixes[1, -1], prefixes[2, -1]
    if c < clocks.shape[1]:
        c_time, c_src = clocks[1, -1], clocks[2, -1]
    return time, src, np.array([p_time, p_src, c_time, c_src], np.int64)


def _utc_us(y: int, mo: int, d: int, h: int, mi: int, s: float) -> int:
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]):
        raise ValueError("impossible date")
    if not (0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 61):
        raise ValueError("impossible time of day")
    return calendar.timegm((y, mo, d, h, mi, 0, 0, 0, 0)) * 1_000_000 + round(s * 1_000_000)


def _hms(text: bytes) -> tuple[int, int, float]:
    return int(text[0:2]), int(text[2:4]), float(text[4:] or b"0")


def _year(text: bytes) -> int:
    y = int(text)
    if len(text) <= 2:
        y += 1900 if y >= 80 else 2000
    return y


def parse_clock_line(sentence: bytes) -> tuple[int, TimeSource] | None:
    """Return (epoch µs, time source) of a $xxZDA or valid $xxRMC sentence, else None.

    Raises ValueError or IndexError when the sentence is one of those but malformed.
    """
    fields = sentence.split(b"*", 1)[0].split(b",")
    kind = sentence[3:6]
    if kind == b"ZDA":
        h, mi, sec = _hms(fields[1])
        return _utc_us(_year(fields[4]), int(fields[3]), int(fields[2]), h, mi, sec), TimeSource.ZDA
    if kind == b"RMC":
        if fields[2] != b"A":
            return None
        h, mi, sec = _hms(fields[1])
        date = fields[9]
        return _utc_us(_year(date[4:6]), int(date[2:4]), int(date[0:2]), h, mi, sec), TimeSource.RMC
    return None
