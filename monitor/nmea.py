"""Raw NMEA 0183 AIS input: line parsing, time sources and the chunk decoder.

A chunk of complete lines is split and parsed with numpy on the raw bytes (no Python loop per
line); only rare lines (clock sentences, ``$PGHP``, multi-part fragments, static reports) are
handled one by one.

Accepted sentences: ``!ccVDM`` / ``!ccVDO`` from any two-character talker, with the standard
seven fields or an extra field before the checksum. The checksum must match; NMEA 4.0 tag-block
checksums are not checked, because real feeds write dummy ones.

Time of a sentence, first match wins:

1. its own line: a tag block ``\\...c:EPOCH...*hh\\`` in front (``c:`` in seconds or, with 12 or
   more digits, milliseconds) -> "tag_block"; fields after the checksum ending in an epoch (seconds
   or milliseconds): US Coast Guard ``*hh,...,rSTATION,EPOCH`` -> "uscg", others ->
   "trailing_epoch";
2. the line just before it (nothing but non-AIS lines in between): a ``$PGHP`` Gatehouse header
   -> "pghp", or a tag block on a line of its own with ``c:`` -> "tag_block";
3. the last ``$xxZDA`` -> "zda" or valid ``$xxRMC`` -> "rmc" clock sentence seen so far (also in
   earlier chunks);
4. ``fallback_time_utc`` when the caller gave one -> "fallback".

A sentence with none of these is rejected as "no_time". The parts of a multi-part message take the
time of the first part that has one.
"""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.decode import (
    FAST_TYPES,
    POSITION_TYPES,
    REASONS,
    STATIC_TYPES,
    decode_fast,
    decode_payload,
    payload_key,
    payload_keys,
    position_row,
    positions_frame,
    rows_frame,
    static_row,
)
from monitor.errors import SourceError
from monitor.fragments import NO_TIME, FragmentAssembler
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA, DecodedBatch

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

#: Time-source codes used in the int columns; index into TIME_SOURCES.
TIME_SOURCES: Final = ("", "tag_block", "trailing_epoch", "uscg", "pghp", "zda", "rmc", "fallback")
SRC_TAG, SRC_TRAIL, SRC_USCG, SRC_PGHP, SRC_ZDA, SRC_RMC, SRC_FALLBACK = range(1, 8)

_HEX = np.full(256, -1, np.int64)
for _i, _c in enumerate(b"0123456789ABCDEF"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"abcdef"):
    _HEX[_c] = 10 + _i

#: The longest payload the vectorised path takes; longer ones are not position reports.
_FAST_MAX_CHARS = 64


def _parse_uint(buf: U8, start: I64, maxlen: int = 16) -> tuple[I64, I64]:
    """Return the value and digit count of the decimal number starting at each ``start``."""
    if len(start) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cols = np.arange(maxlen, dtype=np.int64)
    d = buf[np.minimum(start[:, None] + cols, len(buf) - 1)].astype(np.int64) - 48
    run = np.cumprod((d >= 0) & (d <= 9), axis=1).astype(bool)
    value = np.zeros(len(start), np.int64)
    for j in range(maxlen):
        value = np.where(run[:, j], value * 10 + d[:, j], value)
    return value, run.sum(axis=1)


def _epoch_us(value: I64, ndigits: I64) -> I64:
    """Return epoch seconds (up to 11 digits) or milliseconds (12+ digits) as microseconds."""
    return np.where(ndigits >= 12, value * 1_000, value * 1_000_000)


@dataclass
class _Scan:
    """Structure of one chunk: line bounds and the fields of every well-formed AIS sentence."""

    buf: U8
    n_lines: int
    starts: I64
    ends: I64
    body: I64
    #: Index of every line whose body starts with "!" (a sentence, well-formed or not).
    bang_lines: I64
    #: Well-formed sentences with a good checksum: line index and fields.
    line: I64
    star: I64
    total: I64
    num: I64
    seq: I64
    chan: I64
    pstart: I64
    plen: I64
    fill: I64
    own_time: I64
    own_src: I64
    #: Lines of their own that time the next sentence (PGHP, tag block alone) or later ones.
    dollar_lines: I64
    tag_alone: I64
    tag_alone_time: I64
    rejected: Counter[str]


def _scan(data: bytes) -> _Scan:
    if not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, np.uint8)
    size = len(buf)
    nl = np.flatnonzero(buf == 10).astype(np.int64)
    starts = np.concatenate([[0], nl[:-1] + 1]).astype(np.int64)
    ends = nl.copy()
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    ends[cr] -= 1
    first = buf[starts]
    rejected: Counter[str] = Counter()

    # Tag blocks: "\...\" in front of the body, or alone on the line.
    body = starts.copy()
    is_tb = np.flatnonzero(first == 92)
    backslashes = np.flatnonzero(buf == 92).astype(np.int64)
    k = np.searchsorted(backslashes, starts[is_tb]) + 1
    second = backslashes[np.minimum(k, len(backslashes) - 1)] if len(backslashes) else k
    tb_ok = (k < len(backslashes)) & (second < ends[is_tb])
    rejected["unknown_format"] += int((~tb_ok).sum())
    tb_lines, tb_end = is_tb[tb_ok], second[tb_ok]
    body[tb_lines] = tb_end + 1
    body[is_tb[~tb_ok]] = ends[is_tb[~tb_ok]]  # ignored from here on
    tb_time = np.full(len(tb_lines), NO_TIME, np.int64)
    if len(tb_lines):
        cpos = np.flatnonzero((buf[1:] == 58) & (buf[:-1] == 99)).astype(np.int64)  # "c:"
        cpos = cpos[(cpos > 0) & np.isin(buf[cpos - 1], (44, 92))]
        owner = np.searchsorted(tb_lines, np.searchsorted(starts, cpos, "right") - 1)
        owner_ok = owner < len(tb_lines)
        owner_c = np.minimum(owner, len(tb_lines) - 1)
        owner_ok &= (tb_lines[owner_c] == np.searchsorted(starts, cpos, "right") - 1) & (
            cpos < tb_end[owner_c]
        )
        value, nd = _parse_uint(buf, cpos[owner_ok] + 2)
        good = nd > 0
        tb_time[owner_c[owner_ok][good]] = _epoch_us(value[good], nd[good])

    bfirst = buf[np.minimum(body, size - 1)]
    has_body = body < ends
    # "!" sentences other than VDM/VDO (e.g. !AIPWR status lines) are not AIS data.
    vd = (buf[np.minimum(body + 3, size - 1)] == 86) & (buf[np.minimum(body + 4, size - 1)] == 68)
    bang_lines = np.flatnonzero(has_body & (bfirst == 33) & vd).astype(np.int64)
    dollar_lines = np.flatnonzero(has_body & (bfirst == 36)).astype(np.int64)
    alone = body[tb_lines] >= ends[tb_lines]
    tag_alone, tag_alone_time = tb_lines[alone], tb_time[alone]
    other = has_body & (bfirst != 33) & (bfirst != 36) & (bfirst != 35)
    rejected["unknown_format"] += int(other.sum())

    # Sentence fields: the six commas after "!" and the first "*" after the payload.
    b, e = body[bang_lines], ends[bang_lines]
    commas = np.flatnonzero(buf == 44).astype(np.int64)
    stars = np.flatnonzero(buf == 42).astype(np.int64)
    ci = np.searchsorted(commas, b)
    c = [commas[np.minimum(ci + j, len(commas) - 1)] if len(commas) else ci for j in range(6)]
    ok = (ci + 5 < len(commas)) & (c[0] == b + 6)
    ok &= (buf[np.minimum(b + 3, size - 1)] == 86) & (buf[np.minimum(b + 4, size - 1)] == 68)
    ok &= np.isin(buf[np.minimum(b + 5, size - 1)], (77, 79))  # VDM / VDO
    sj = np.searchsorted(stars, c[5])
    star = stars[np.minimum(sj, len(stars) - 1)] if len(stars) else sj
    ok &= (sj < len(stars)) & (c[5] < e) & (star + 3 <= e)
    total = buf[c[0] + 1].astype(np.int64) - 48 if len(b) else np.zeros(0, np.int64)
    num = buf[np.minimum(c[1] + 1, size - 1)].astype(np.int64) - 48
    ok &= (c[1] == c[0] + 2) & (c[2] == c[1] + 2) & (total >= 1) & (total <= 9)
    ok &= (num >= 1) & (num <= total)
    fill = buf[np.minimum(c[5] + 1, size - 1)].astype(np.int64) - 48
    after_fill = buf[np.minimum(c[5] + 2, size - 1)]
    ok &= (fill >= 0) & (fill <= 5) & ((after_fill == 42) | (after_fill == 44))
    seq_v, seq_n = _parse_uint(buf, c[2] + 1, 2)
    seq = np.where(c[3] == c[2] + 1, -1, seq_v)
    ok &= (c[3] == c[2] + 1) | (c[3] == c[2] + 1 + seq_n)
    chan = np.where(c[4] > c[3] + 1, buf[np.minimum(c[3] + 1, size - 1)], 0).astype(np.int64)
    rejected["unknown_format"] += int((~ok).sum())

    sel = np.flatnonzero(ok)
    b, e, star = b[sel], e[sel], star[sel]
    c = [x[sel] for x in c]
    if len(sel):
        xor = np.bitwise_xor.accumulate(buf)
        computed = (xor[star - 1] ^ xor[b]).astype(np.int64)
        given = _HEX[buf[star + 1]] * 16 + _HEX[buf[np.minimum(star + 2, size - 1)]]
        good = computed == given
    else:
        good = np.zeros(0, bool)
    rejected["bad_checksum"] += int((~good).sum())
    sel2 = sel[good]
    b, e, star = b[good], e[good], star[good]
    c = [x[good] for x in c]
    line = bang_lines[sel2]

    # Own time: tag block in front, else an epoch as the last field after the checksum.
    own_time = np.full(len(line), NO_TIME, np.int64)
    own_src = np.zeros(len(line), np.int64)
    if len(tb_lines) and len(line):
        pos = np.searchsorted(tb_lines, line)
        hit = (pos < len(tb_lines)) & (tb_lines[np.minimum(pos, len(tb_lines) - 1)] == line)
        t = tb_time[np.minimum(pos, len(tb_lines) - 1)]
        use = hit & (t != NO_TIME)
        own_time[use], own_src[use] = t[use], SRC_TAG
    trailing = (star + 3 < e) & (buf[np.minimum(star + 3, size - 1)] == 44) & (own_src == 0)
    tl = np.flatnonzero(trailing)
    if len(tl):
        last_comma = commas[np.searchsorted(commas, e[tl]) - 1]
        value, nd = _parse_uint(buf, last_comma + 1)
        valid = (nd > 0) & (last_comma + 1 + nd == e[tl])
        own_time[tl[valid]] = _epoch_us(value[valid], nd[valid])
        rpos = commas[(commas + 1 < size) & (buf[np.minimum(commas + 1, size - 1)] == 114)]
        r_line = np.searchsorted(starts, rpos, "right") - 1
        j = np.searchsorted(line, r_line)
        jc = np.minimum(j, max(len(line) - 1, 0))
        r_ok = (j < len(line)) & (line[jc] == r_line) & (rpos > star[jc])
        uscg = np.zeros(len(line), bool)
        uscg[jc[r_ok]] = True
        own_src[tl[valid]] = np.where(uscg[tl[valid]], SRC_USCG, SRC_TRAIL)

    return _Scan(
        buf=buf,
        n_lines=len(starts),
        starts=starts,
        ends=ends,
        body=body,
        bang_lines=bang_lines,
        line=line,
        star=star,
        total=total[sel2],
        num=num[sel2],
        seq=seq[sel2],
        chan=chan[sel2],
        pstart=c[4] + 1,
        plen=c[5] - c[4] - 1,
        fill=fill[sel2],
        own_time=own_time,
        own_src=own_src,
        dollar_lines=dollar_lines,
        tag_alone=tag_alone,
        tag_alone_time=tag_alone_time,
        rejected=rejected,
    )


def _checksum_ok(sentence: bytes) -> bool:
    """Return True when ``$...*hh`` has a matching checksum (or none at all)."""
    star = sentence.find(b"*")
    if star < 0:
        return True
    x = 0
    for ch in sentence[1:star]:
        x ^= ch
    return sentence[star + 1 : star + 3].upper() == f"{x:02X}".encode()


def _utc_us(y: int, mo: int, d: int, h: int, mi: int, s: float) -> int:
    secs = calendar.timegm((y, mo, d, h, mi, 0, 0, 0, 0))
    datetime(y, mo, d, h, mi, tzinfo=UTC)  # raises ValueError on an impossible date
    if not 0 <= s < 61:
        raise ValueError("second out of range")
    return secs * 1_000_000 + round(s * 1_000_000)


def _hms(text: bytes) -> tuple[int, int, float]:
    return int(text[0:2]), int(text[2:4]), float(text[4:] or b"0")


def _year(text: bytes) -> int:
    y = int(text)
    if len(text) <= 2:
        y += 1900 if y >= 80 else 2000
    return y


def parse_clock_line(sentence: bytes) -> tuple[int, int] | None:
    """Return (epoch µs, time-source code) of a $PGHP, $xxZDA or valid $xxRMC sentence, else None.

    Raises ValueError when the sentence is one of those but malformed.
    """
    head = sentence[:6]
    fields = sentence.split(b"*", 1)[0].split(b",")
    if head == b"$PGHP,":
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


def _fallback_us(when: datetime | None) -> int:
    if when is None:
        return NO_TIME
    if when.tzinfo is None:
        raise ValueError("fallback_time_utc must be timezone-aware")
    return int(when.timestamp() * 1_000_000)


def untimed_error(
    source: str, batch: DecodedBatch, hint: str = "give the decoder a fallback time"
) -> SourceError | None:
    """Return the error to raise when a whole input had AIS sentences but no time at all, else None.

    Call it with the batch merged over the whole input (after :meth:`NmeaDecoder.flush`): the
    input is untimed when ``batch.rejected["no_time"] > 0`` and nothing was accepted.
    """
    n = batch.rejected.get("no_time", 0)
    if n == 0 or batch.n_messages > 0:
        return None
    return SourceError(
        f"{source}: {n} AIS sentences but no time source (no tag block with c:, no $PGHP line, "
        "no epoch after the checksum, no $xxZDA/$xxRMC clock sentence); " + hint
    )


def _station(buf: U8, star: int, end: int) -> bytes:
    """Return the receiver station of a USCG-style line (``,rSTATION`` after the checksum)."""
    tail = buf[star + 3 : end].tobytes()
    at = tail.find(b",r")
    if at < 0:
        return b""
    return tail[at + 2 :].split(b",", 1)[0]


def _first_type(buf: U8, pstart: I64, plen: I64) -> I64:
    """Return the message type of each payload (-1 when empty or not a 6-bit character)."""
    ch = buf[np.minimum(pstart, len(buf) - 1)].astype(np.int64)
    valid = (plen > 0) & (ch >= 48) & (ch <= 119) & ~((ch > 87) & (ch < 96))
    v = ch - 48
    return np.where(valid, np.where(v > 40, v - 8, v), -1)


class NmeaDecoder:
    """Decodes raw NMEA AIS text, chunk by chunk, into position and static-report frames.

    ``feed`` takes chunks of complete lines (cut at ``b"\\n"``); the clock (ZDA/RMC), a pending
    ``$PGHP`` or tag-block line and unfinished multi-part messages carry over to the next chunk.
    ``flush`` ends the input: parts still waiting are counted as "expired_fragment".

    Rejections are counted per sentence line ("unknown_format", "bad_checksum", "no_time" for a
    single-part sentence) or per complete message ("truncated", "invalid_field", "invalid_mmsi",
    "invalid_position", "no_time" for a multi-part one). ``n_messages`` counts complete messages
    accepted, including the types the monitor does not store (those are in ``other_types``).
    An input without any time source shows as ``rejected["no_time"] > 0`` with
    ``n_messages == 0``; :func:`untimed_error` builds the matching error.
    """

    def __init__(
        self,
        source: str,
        *,
        fragment_timeout_s: float = 10.0,
        fallback_time_utc: datetime | None = None,
    ) -> None:
        self.source = source
        self._fragments = FragmentAssembler(fragment_timeout_s)
        self._fallback_us = _fallback_us(fallback_time_utc)
        #: (epoch µs, source code) of the last clock sentence seen.
        self._clock: tuple[int, int] | None = None
        #: (epoch µs, source code) of a $PGHP or lone tag block still waiting for its sentence.
        self._prefix: tuple[int, int] | None = None

    def feed(self, data: bytes) -> DecodedBatch:
        """Return what the complete lines in ``data`` decode to."""
        scan = _scan(data)
        batch = DecodedBatch(n_lines=scan.n_lines)
        batch.rejected.update(+scan.rejected)
        time, src = self._times(scan, batch)
        for code, n in enumerate(np.bincount(src, minlength=len(TIME_SOURCES)).tolist()):
            if code and n:
                batch.time_sources[TIME_SOURCES[code]] += n

        buf = scan.buf
        single = scan.total == 1
        timed = time != NO_TIME
        msg_type = _first_type(buf, scan.pstart, scan.plen)
        batch.rejected["no_time"] += int((single & ~timed).sum())
        live = single & timed
        batch.rejected["truncated"] += int((live & (scan.plen == 0)).sum())
        batch.rejected["invalid_field"] += int((live & (scan.plen > 0) & (msg_type < 0)).sum())
        fast = live & np.isin(msg_type, list(FAST_TYPES)) & (scan.plen <= _FAST_MAX_CHARS)
        stored = np.isin(msg_type, list(POSITION_TYPES | STATIC_TYPES))
        other = live & (msg_type >= 0) & ~stored
        slow = np.flatnonzero(live & stored & ~fast)

        types, counts = np.unique(msg_type[other], return_counts=True)
        batch.other_types.update(dict(zip(types.tolist(), counts.tolist(), strict=True)))
        batch.n_messages += int(other.sum())

        frames = [self._fast(scan, np.flatnonzero(fast), time, batch)]
        pos_rows: list[dict[str, Any]] = []
        stat_rows: list[dict[str, Any]] = []
        for i in slow.tolist():
            payload = buf[scan.pstart[i] : scan.pstart[i] + scan.plen[i]].tobytes()
            self._decode_one(payload, int(scan.fill[i]), int(time[i]), batch, pos_rows, stat_rows)
        for i in np.flatnonzero(~single).tolist():
            self._fragment(scan, i, int(time[i]), int(src[i]), batch, pos_rows, stat_rows)
        if timed.any():
            self._fragments.expire_before(int(time[np.flatnonzero(timed)[-1]]))
        batch.rejected["expired_fragment"] += self._fragments.take_expired()

        frames.append(rows_frame(pos_rows, POSITIONS_SCHEMA, self.source))
        batch.positions = pl.concat(frames, how="vertical")
        batch.statics = rows_frame(stat_rows, STATICS_SCHEMA, self.source)
        batch.rejected = +batch.rejected
        return batch

    def flush(self) -> DecodedBatch:
        """Return the end-of-input batch: every part still waiting counts as expired."""
        self._fragments.expire_all()
        batch = DecodedBatch()
        batch.rejected["expired_fragment"] += self._fragments.take_expired()
        batch.rejected = +batch.rejected
        return batch

    def _times(self, scan: _Scan, batch: DecodedBatch) -> tuple[I64, I64]:
        """Return the time (µs, NO_TIME if none) and time-source code of each good sentence."""
        buf, body, ends = scan.buf, scan.body, scan.ends
        pre: list[tuple[int, int, int]] = []
        clk: list[tuple[int, int, int]] = []
        if self._prefix is not None:
            pre.append((-1, *self._prefix))
        if self._clock is not None:
            clk.append((-1, *self._clock))
        d = scan.dollar_lines
        size = len(buf)

        def at(offset: int) -> npt.NDArray[np.uint8]:
            return buf[np.minimum(body[d] + offset, size - 1)]

        pghp = (at(1) == 80) & (at(2) == 71) & (at(3) == 72) & (at(4) == 80)
        clock_kind = (at(3) == 90) & (at(4) == 68) & (at(5) == 65)  # ZDA
        clock_kind |= (at(3) == 82) & (at(4) == 77) & (at(5) == 67)  # RMC
        for i in d[pghp | clock_kind].tolist():
            sentence = buf[body[i] : ends[i]].tobytes()
            if not _checksum_ok(sentence):
                batch.rejected["bad_checksum"] += 1
                continue
            try:
                parsed = parse_clock_line(sentence)
            except (ValueError, IndexError):
                batch.rejected["invalid_field"] += 1
                continue
            if parsed is not None:
                (pre if parsed[1] == SRC_PGHP else clk).append((i, *parsed))
        timed_alone = scan.tag_alone_time != NO_TIME
        pre.extend(
            (i, t, SRC_TAG)
            for i, t in zip(
                scan.tag_alone[timed_alone].tolist(),
                scan.tag_alone_time[timed_alone].tolist(),
                strict=True,
            )
        )
        pre.sort()

        line = scan.line
        time, src = scan.own_time.copy(), scan.own_src.copy()
        bang = scan.bang_lines
        if pre:
            p_idx, p_t, p_src = (np.array(x, np.int64) for x in zip(*pre, strict=True))
            p = np.searchsorted(p_idx, line, "right") - 1
            prev = np.searchsorted(bang, line) - 1
            prev_line = np.where(prev >= 0, bang[np.maximum(prev, 0)], -2)
            use = (time == NO_TIME) & (p >= 0) & (p_idx[np.maximum(p, 0)] > prev_line)
            time[use], src[use] = p_t[p[use]], p_src[p[use]]
            last_bang = int(bang[-1]) if len(bang) else -2
            self._prefix = (pre[-1][1], pre[-1][2]) if pre[-1][0] > last_bang else None
        if clk:
            c_idx, c_t, c_src = (np.array(x, np.int64) for x in zip(*clk, strict=True))
            c = np.searchsorted(c_idx, line, "right") - 1
            use = (time == NO_TIME) & (c >= 0)
            time[use], src[use] = c_t[c[use]], c_src[c[use]]
            self._clock = (clk[-1][1], clk[-1][2])
        if self._fallback_us != NO_TIME:
            use = time == NO_TIME
            time[use], src[use] = self._fallback_us, SRC_FALLBACK
        return time, src

    def _fast(self, scan: _Scan, idx: I64, time: I64, batch: DecodedBatch) -> pl.DataFrame:
        cols, reason = decode_fast(scan.buf, scan.pstart[idx], scan.plen[idx], scan.fill[idx])
        for code, n in enumerate(np.bincount(reason, minlength=len(REASONS)).tolist()):
            if code and n:
                batch.rejected[REASONS[code]] += n
        keep = reason == 0
        batch.n_messages += int(keep.sum())
        keys = payload_keys(scan.buf, scan.pstart[idx][keep], scan.plen[idx][keep])
        kept = {name: values[keep] for name, values in cols.items()}
        return positions_frame(kept, time[idx][keep], keys, self.source)

    def _fragment(
        self,
        scan: _Scan,
        i: int,
        time_us: int,
        src: int,
        batch: DecodedBatch,
        pos_rows: list[dict[str, Any]],
        stat_rows: list[dict[str, Any]],
    ) -> None:
        star, end = int(scan.star[i]), int(scan.ends[scan.line[i]])
        key = (
            int(scan.chan[i]),
            int(scan.seq[i]),
            int(scan.total[i]),
            _station(scan.buf, star, end),
        )
        start = int(scan.pstart[i])
        payload = scan.buf[start : start + int(scan.plen[i])].tobytes()
        done = self._fragments.add(
            key, int(scan.total[i]), int(scan.num[i]), payload, int(scan.fill[i]), time_us, src
        )
        if done is None:
            return
        if done.time_us == NO_TIME:
            batch.rejected["no_time"] += 1
            return
        self._decode_one(done.payload, done.fill, done.time_us, batch, pos_rows, stat_rows)

    def _decode_one(
        self,
        payload: bytes,
        fill: int,
        time_us: int,
        batch: DecodedBatch,
        pos_rows: list[dict[str, Any]],
        stat_rows: list[dict[str, Any]],
    ) -> None:
        status, msg = decode_payload(payload, fill)
        if status == "other":
            batch.other_types[msg] += 1
            batch.n_messages += 1
            return
        if status != "ok":
            batch.rejected[status] += 1
            return
        key = payload_key(payload)
        msg_type = int(msg.msg_type)
        reasons: list[str] = []
        accepted = False
        for wanted, to_row, rows in (
            (POSITION_TYPES, position_row, pos_rows),
            (STATIC_TYPES, static_row, stat_rows),
        ):
            if msg_type not in wanted:
                continue
            status, row = to_row(msg)
            if row is None:
                reasons.append(status)
                continue
            row["timestamp_us"] = time_us
            row["msg_key"] = key
            rows.append(row)
            accepted = True
        if accepted:
            batch.n_messages += 1
        else:
            batch.rejected[reasons[0]] += 1
