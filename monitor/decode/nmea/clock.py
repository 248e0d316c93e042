"""Times in NMEA text: numbers and epochs, ``$PGHP`` headers, ``$xxZDA``/``$xxRMC`` clocks, and
the time of each AIS sentence given what came before it (see :mod:`monitor.decode.nmea.decoder` for
the order).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Final

import numpy as np

from monitor.core.jit import I64, U8, inline, kernel
from monitor.decode.nmea.fragments import NO_TIME

#: Time-source codes used in int columns; index into TIME_SOURCES.
TIME_SOURCES: Final = ("", "tag_block", "trailing_epoch", "uscg", "pghp", "zda", "rmc", "fallback")
SRC_TAG, SRC_TRAIL, SRC_USCG, SRC_PGHP, SRC_ZDA, SRC_RMC, SRC_FALLBACK = range(1, 8)
PGHP_OK, PGHP_BAD_CHECKSUM, PGHP_INVALID, PGHP_OTHER = range(4)
_NO_TIME: Final = NO_TIME


@dataclass(frozen=True)
class ClockState:
    """What times the next AIS lines of an input, carried from one chunk, or run, to the next.

    ``pending``: a ``$PGHP`` or lone tag-block line that times the AIS line right after it;
    ``clock``: the last ``$xxZDA``/``$xxRMC`` sentence. Times in epoch µs (NO_TIME if none),
    sources as in TIME_SOURCES.
    """

    pending_us: int = NO_TIME
    pending_source: str = ""
    clock_us: int = NO_TIME
    clock_source: str = ""

    def to_array(self) -> I64:
        """Return the state as the time resolver carries it."""
        codes = [TIME_SOURCES.index(s) if s in TIME_SOURCES else 0 for s in self.sources]
        return np.array([self.pending_us, codes[0], self.clock_us, codes[1]], np.int64)

    @property
    def sources(self) -> tuple[str, str]:
        return self.pending_source, self.clock_source

    @classmethod
    def from_array(cls, state: I64) -> ClockState:
        """Return the state the time resolver carried over."""
        pending, pending_src, clock, clock_src = (int(x) for x in state)
        return cls(
            pending_us=pending,
            pending_source=TIME_SOURCES[pending_src] if pending != NO_TIME else "",
            clock_us=clock,
            clock_source=TIME_SOURCES[clock_src] if clock != NO_TIME else "",
        )


@inline
def hex_digit(c: int) -> int:
    """Return the value of a hexadecimal digit byte, -1 if it is not one."""
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


@inline
def find_byte(buf: U8, value: int, start: int, end: int) -> int:
    """Return the index of the first ``value`` byte in ``buf[start:end]``, -1 if none."""
    # Loops here have one exit and one test, so that the line scan, which inlines them into its
    # own loop, needs no reference counting of ``buf`` (see monitor.decode.nmea.lines).
    k = start
    found = False
    while (k < end) & (not found):
        found = buf[k] == value
        k += 1
    return k - 1 if found else -1


@inline
def uint_after(buf: U8, at: int, limit: int) -> tuple[int, int]:
    """Return the value and digit count (up to ``limit``, at least 1) of the number starting at
    ``at``."""
    value, n = 0, 0
    d = int(buf[at]) - 48
    while (n < limit) & (d >= 0) & (d <= 9):
        value = value * 10 + d
        n += 1
        d = int(buf[at + min(n, limit - 1)]) - 48
    return value, n


@inline
def uint_before(buf: U8, end: int, limit: int) -> tuple[int, int]:
    """Return the value and digit count (up to ``limit``) of the number ending before ``end``."""
    value, n, scale = 0, 0, 1
    k = end - 1
    d = int(buf[max(k, 0)]) - 48
    while (n < limit) & (k >= 0) & (d >= 0) & (d <= 9):
        value += d * scale
        scale *= 10
        n += 1
        k -= 1
        d = int(buf[max(k, 0)]) - 48
    return value, n


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
    star = find_byte(buf, 42, body + 1, end)
    if star < 0:
        return -1
    if star + 3 > end:
        return 0
    x = 0
    for k in range(body + 1, star):
        x ^= buf[k]
    high, low = hex_digit(buf[star + 1]), hex_digit(buf[star + 2])
    return 1 if high >= 0 and low >= 0 and x == high * 16 + low else 0


@inline
def _pghp_field(buf: U8, at: int) -> tuple[int, int, bool]:
    """Return the number that starts the ``$PGHP`` field at ``at``, where the next field starts
    and whether the field is 1-4 digits (a longer one makes the line invalid whatever its
    value)."""
    value, nd = uint_after(buf, at, 8)
    return value, at + nd + 1, (0 < nd <= 4) & (buf[at + nd] == 44)


@inline
def pghp_line(buf: U8, body: int, end: int) -> tuple[int, int]:
    """Return the time (µs, 0 unless PGHP_OK) and status (PGHP_*) of the ``$PGHP`` line
    ``buf[body:end]``; only Gatehouse message type 1 carries a time
    (``$PGHP,1,yyyy,m,d,h,m,s,ms,...``)."""
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
        return 0, PGHP_BAD_CHECKSUM
    if kind != 1:
        return 0, PGHP_OTHER
    if not (
        digits_ok
        and 1 <= mo <= 12
        and 1 <= d <= _month_days(y, mo)
        and h < 24
        and mi < 60
        and sec < 61
        and ms < 1000
    ):
        return 0, PGHP_INVALID
    days = _days_from_civil(y, mo, d)
    return (((days * 24 + h) * 60 + mi) * 60 + sec) * 1_000_000 + ms * 1_000, PGHP_OK


@kernel
def _pghp_times(buf: U8, body: I64, end: I64) -> tuple[I64, I64]:
    time_us = np.empty(len(body), np.int64)
    status = np.empty(len(body), np.int64)
    for i in range(len(body)):
        time_us[i], status[i] = pghp_line(buf, body[i], end[i])
    return time_us, status


def pghp_times(buf: U8, body: I64, end: I64) -> tuple[I64, I64]:
    """Return the time (µs) and status (PGHP_*) of each ``$PGHP`` line ``buf[body:end]``."""
    return _pghp_times(buf, np.asarray(body, np.int64), np.asarray(end, np.int64))


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
                    time[s], src[s] = fallback_us, SRC_FALLBACK
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


def parse_clock_line(sentence: bytes) -> tuple[int, int] | None:
    """Return (epoch µs, time-source code) of a $PGHP, $xxZDA or valid $xxRMC sentence, else None.

    Raises ValueError or IndexError when the sentence is one of those but malformed.
    """
    fields = sentence.split(b"*", 1)[0].split(b",")
    if sentence.startswith(b"$PGHP,"):
        if fields[1] != b"1":
            return None
        y, mo, d, h, mi, s, ms = (int(f) for f in fields[2:9])
        return _utc_us(y, mo, d, h, mi, s) + ms * 1000, SRC_PGHP
    kind = sentence[3:6]
    if kind == b"ZDA":
        h, mi, sec = _hms(fields[1])
        return _utc_us(_year(fields[4]), int(fields[3]), int(fields[2]), h, mi, sec), SRC_ZDA
    if kind == b"RMC":
        if fields[2] != b"A":
            return None
        h, mi, sec = _hms(fields[1])
        date = fields[9]
        return _utc_us(_year(date[4:6]), int(date[2:4]), int(date[0:2]), h, mi, sec), SRC_RMC
    return None
