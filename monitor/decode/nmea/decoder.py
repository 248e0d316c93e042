"""Raw NMEA 0183 AIS input: the chunk decoder, its time sources and its rejection counts.

A chunk of complete lines is parsed by one compiled pass over its raw bytes
(:mod:`monitor.decode.nmea.lines`), each sentence timed by another
(:mod:`monitor.decode.nmea.clock`), and its messages decoded in bulk
(:mod:`monitor.decode.ais.positions`, :mod:`monitor.decode.ais.statics`); only rare lines are
handled one by one in Python: ``$xxZDA``/``$xxRMC`` clock sentences, type 19, and multi-part
messages whose parts are not next to each other in one chunk (those are decoded with pyais,
:mod:`monitor.decode.ais.rules`).

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

Tag-block checksums (``\\...*hh\\``) are checked when the input writes real ones: some feeds
write dummy ones, so the first checksummed tag blocks of each input decide. Where they are
checked, a sentence (or a tag block alone on its line) whose tag block fails is rejected as
"bad_tag_checksum": a flipped bit in ``c:`` would otherwise move the message by years.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Final, TypeVar

import numpy as np
import polars as pl
import pyarrow as pa

from monitor.core.jit import I64, U8
from monitor.decode.ais.payload import Pieces
from monitor.decode.ais.positions import decode_positions, positions_frame
from monitor.decode.ais.rules import (
    FAST_POSITION_TYPES,
    FAST_STATIC_TYPES,
    POSITION_TYPES,
    SIXBIT,
    STATIC_TYPES,
    decode_payload,
    payload_key,
    position_row,
    rows_frame,
    static_row,
)
from monitor.decode.ais.statics import decode_statics
from monitor.decode.codes import Reject, TimeSource
from monitor.decode.nmea.clock import ClockState, parse_clock_line, resolve_times
from monitor.decode.nmea.fragments import NO_TIME, FragmentAssembler
from monitor.decode.nmea.lines import (
    TAG_BAD,
    TAG_GOOD,
    TAG_NONE,
    LineScan,
    scan_lines,
)
from monitor.errors import SourceError
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA, DecodedBatch

_NO_FRAME = pl.DataFrame()
T = TypeVar("T")


def _scan_or_none(data: bytes) -> LineScan | None:
    return scan_lines(data) if data else None


#: Default bounds of the message times accepted: outside them a time comes from a broken clock
#: (AIS began in the 1990s) and the message is rejected as "time_out_of_range" rather than stored
#: decades away. Ingest passes the configured, narrower window.
TIME_MIN_US = 631_152_000_000_000  # 1990-01-01
TIME_MAX_US = 4_102_444_800_000_000  # 2100-01-01

#: How many checksummed tag blocks, at the start of an input, decide whether its tag-block
#: checksums are real (then checked) or dummies: a feed that writes dummies gets almost none
#: right (1 in 256 by chance), one that writes real ones almost all.
TAG_SAMPLE = 20

#: The longest payload the bulk path takes; longer ones are not position reports.
_FAST_MAX_CHARS = 64

_OTHER, _FAST_POS, _FAST_STAT, _ONE_BY_ONE = range(4)


def _kinds() -> I64:
    """Return how each message type is decoded (index: type + 1, so 0 is "not AIS")."""
    kind = np.full(65, _OTHER, np.int64)
    kind[[t + 1 for t in POSITION_TYPES | STATIC_TYPES]] = _ONE_BY_ONE
    kind[[t + 1 for t in FAST_POSITION_TYPES]] = _FAST_POS
    kind[[t + 1 for t in FAST_STATIC_TYPES]] = _FAST_STAT
    return kind


_KIND = _kinds()


#: Station names are cut to this many bytes.
STATION_MAX_LEN: Final = 32


def station_names(buf: U8, at: I64, length: I64, key: I64) -> pa.Array:
    """Return the station names at ``at`` (``length`` bytes, 0: none, then null; ``key`` a
    hash of each) in ``buf``."""
    known = length > 0
    if not known.any():
        return pa.nulls(at.size, pa.string())
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    names = [
        buf[a : a + min(n, STATION_MAX_LEN)].tobytes().decode("latin-1")
        for a, n in zip(at[first].tolist(), length[first].tolist(), strict=True)
    ]
    return pa.array(names, pa.string()).take(pa.array(inverse.astype(np.int64), mask=~known))


class _Rows:
    """Position and static rows of messages decoded one by one, with pyais."""

    def __init__(self) -> None:
        self.positions: list[dict[str, Any]] = []
        self.statics: list[dict[str, Any]] = []

    def add_to(self, batch: DecodedBatch, source: str) -> None:
        """Append the rows to the frames of ``batch``."""
        if self.positions:
            batch.positions = pl.concat(
                [batch.positions, rows_frame(self.positions, POSITIONS_SCHEMA, source)]
            )
        if self.statics:
            batch.statics = pl.concat(
                [batch.statics, rows_frame(self.statics, STATICS_SCHEMA, source)]
            )


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
    n = batch.rejected.get(Reject.NO_TIME.label, 0)
    if n == 0 or batch.n_messages > 0:
        return None
    return SourceError(
        f"{source}: {n} AIS sentences but no time source (no tag block with c:, no $PGHP line, "
        "no epoch after the checksum, no $xxZDA/$xxRMC clock sentence); " + hint
    )


class NmeaDecoder:
    """Decodes raw NMEA AIS text, chunk by chunk, into position and static-report frames.

    ``feed`` takes chunks of complete lines (cut at ``b"\\n"``); the clock (ZDA/RMC), a pending
    ``$PGHP`` or tag-block line and unfinished multi-part messages carry over to the next chunk.
    ``flush`` ends the input: parts still waiting are counted as "expired_fragment".

    Rejections are counted per sentence line ("unknown_format", "bad_checksum",
    "bad_tag_checksum", "no_time" for a single-part sentence) or per complete message
    ("truncated", "invalid_field", "invalid_mmsi", "invalid_position", "no_time" for a multi-part
    one, "time_out_of_range" for a time outside ``time_window_us``). ``n_messages`` counts
    complete messages accepted, including the types the monitor does not store (those are in
    ``other_types``).
    An input without any time source shows as ``rejected["no_time"] > 0`` with
    ``n_messages == 0``; :func:`untimed_error` builds the matching error.
    """

    def __init__(
        self,
        source: str,
        *,
        fragment_timeout_s: float = 10.0,
        fallback_time_utc: datetime | None = None,
        time_window_us: tuple[int, int] = (TIME_MIN_US, TIME_MAX_US),
        clock: ClockState | None = None,
    ) -> None:
        self.source = source
        #: Accepted message times, epoch µs [first, end).
        self._window_us = time_window_us
        self._fragments = FragmentAssembler(fragment_timeout_s)
        self._timeout_us = int(fragment_timeout_s * 1_000_000)
        self._fallback_us = _fallback_us(fallback_time_utc)
        #: Time and source of a $PGHP or lone tag block still waiting for its sentence, then of
        #: the last clock sentence seen (NO_TIME if none); ``clock`` resumes an earlier run's.
        self._state = (clock or ClockState()).to_array()
        #: Whether this input's tag-block checksums are checked (None: not decided yet).
        self._check_tags: bool | None = None

    @property
    def clock(self) -> ClockState:
        """Return what times the lines after those fed so far (to resume a later run there)."""
        return ClockState.from_array(self._state)

    def feed(self, data: bytes) -> DecodedBatch:
        """Return what the complete lines in ``data`` decode to."""
        if not data:
            return DecodedBatch()
        return self._decode(scan_lines(data))

    def feed_each(
        self, items: Iterable[T], data: Callable[[T], bytes]
    ) -> Iterator[tuple[T, DecodedBatch]]:
        """Yield each item with what its chunk ``data(item)`` decodes to, as :meth:`feed` would.

        The next chunk's lines are parsed on a second thread while this one is decoded, which
        keeps a second core busy (the compiled scan releases the interpreter lock).
        """
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nmea-scan")
        try:
            pending: tuple[T, Future[LineScan | None]] | None = None
            for item in items:
                chunk = data(item)
                upcoming = (item, pool.submit(_scan_or_none, chunk))
                if pending is not None:
                    yield pending[0], self._decode_future(pending[1])
                pending = upcoming
            if pending is not None:
                yield pending[0], self._decode_future(pending[1])
        finally:
            # Not joined: a generator left unfinished (an error in the caller) is closed by the
            # garbage collector on any thread, also inside threading's own locks, where a join
            # never returns. The scan thread ends by itself after its last chunk.
            pool.shutdown(wait=False, cancel_futures=True)

    def _decode_future(self, future: Future[LineScan | None]) -> DecodedBatch:
        scan = future.result()
        return DecodedBatch() if scan is None else self._decode(scan)

    def _decode(self, scan: LineScan) -> DecodedBatch:
        # The frames are set by _bulk; building empty ones first would be wasted work.
        batch = DecodedBatch(positions=_NO_FRAME, statics=_NO_FRAME, n_lines=scan.n_lines)
        batch.rejected.update(scan.rejected)
        scan = self._tag_checked(scan, batch)
        time, src = self._times(scan, batch)
        TimeSource.tally(src, batch.time_sources)

        single = np.flatnonzero(scan.total == 1)
        first, second = self._pairs(scan, time)
        rest = np.ones(len(scan.line), bool)
        rest[single] = rest[first] = rest[second] = False
        pair_time = np.where(time[first] != NO_TIME, time[first], time[second])
        m_time = np.concatenate([time[single], pair_time])
        untimed = m_time == NO_TIME
        batch.rejected[Reject.NO_TIME.label] += int(untimed.sum())
        first_us, end_us = self._window_us
        implausible = ~untimed & ((m_time < first_us) | (m_time >= end_us))
        batch.rejected[Reject.TIME_OUT_OF_RANGE.label] += int(implausible.sum())
        untimed |= implausible
        zeros = np.zeros(len(single), np.int64)
        msgs = Pieces(
            np.concatenate([scan.pstart[single], scan.pstart[first]]),
            np.concatenate([scan.plen[single], scan.plen[first]]),
            np.concatenate([scan.pstart[single], scan.pstart[second]]),
            np.concatenate([zeros, scan.plen[second]]),
        ).subset(~untimed)
        m_fill = np.concatenate([scan.fill[single], scan.fill[second]])[~untimed]
        m_time = m_time[~untimed]
        # A message's station is its first part's.
        m_station = np.stack(
            [
                np.concatenate([getattr(scan, name)[single], getattr(scan, name)[first]])
                for name in ("station_at", "station_len", "station_name_key")
            ]
        )[:, ~untimed]
        self._bulk(scan.buf, msgs, m_fill, m_time, m_station, batch)

        rows = _Rows()
        for i in np.flatnonzero(rest).tolist():
            self._fragment(scan, i, int(time[i]), int(src[i]), batch, rows)
        timed = np.flatnonzero(time != NO_TIME)
        if len(timed):
            self._fragments.expire_before(int(time[timed[-1]]))
        batch.rejected[Reject.EXPIRED_FRAGMENT.label] += self._fragments.take_expired()
        rows.add_to(batch, self.source)
        batch.rejected = +batch.rejected
        return batch

    def _tag_checked(self, scan: LineScan, batch: DecodedBatch) -> LineScan:
        """Return ``scan`` without the lines whose tag-block checksum fails, when this input's
        checksums are real (decided on its first TAG_SAMPLE checksummed tag blocks)."""
        prefix_tags = scan.prefixes[3]
        if self._check_tags is None:
            lines = np.concatenate([scan.line, scan.prefixes[0]])
            states = np.concatenate([scan.tag_ok, prefix_tags])
            sample = states[np.argsort(lines, kind="stable")]
            sample = sample[sample != TAG_NONE][:TAG_SAMPLE]
            if len(sample) == 0:
                return scan
            self._check_tags = bool((sample == TAG_GOOD).mean() > 0.5)
        if not self._check_tags:
            return scan
        good, good_prefix = scan.tag_ok != TAG_BAD, prefix_tags != TAG_BAD
        n_bad = int((~good).sum() + (~good_prefix).sum())
        if n_bad == 0:
            return scan
        batch.rejected[Reject.BAD_TAG_CHECKSUM.label] += n_bad
        return scan.subset(good, good_prefix)

    def _pairs(self, scan: LineScan, time: I64) -> tuple[I64, I64]:
        """Return the 2-part messages whose parts are next to each other: (part 1s, part 2s)."""
        multi = np.flatnonzero(scan.total > 1)
        a, b = multi[:-1], multi[1:]
        ok = (scan.total[a] == 2) & (scan.num[a] == 1) & (scan.total[b] == 2) & (scan.num[b] == 2)
        ok &= (scan.seq[a] == scan.seq[b]) & (scan.chan[a] == scan.chan[b])
        ok &= scan.station[a] == scan.station[b]
        ta, tb = time[a], time[b]
        ok &= (ta == NO_TIME) | (tb == NO_TIME) | (np.abs(ta - tb) <= self._timeout_us)
        return a[ok], b[ok]

    def _bulk(
        self, buf: U8, msgs: Pieces, fill: I64, time: I64, station: I64, batch: DecodedBatch
    ) -> None:
        """Decode complete messages in bulk, the rare kinds with pyais; add them to ``batch``.
        ``station`` holds where each message's station name is in ``buf``, its length and a
        hash of it."""
        msg_type = np.where(msgs.l1 > 0, SIXBIT[buf[msgs.s1]], -1)
        batch.rejected[Reject.TRUNCATED.label] += int((msgs.length == 0).sum())
        batch.rejected[Reject.INVALID_FIELD.label] += int(
            ((msgs.length > 0) & (msg_type < 0)).sum()
        )
        kind = _KIND[msg_type + 1]
        fast_pos = (kind == _FAST_POS) & (msgs.length <= _FAST_MAX_CHARS)
        fast_stat = (kind == _FAST_STAT) & (msgs.length <= _FAST_MAX_CHARS * 2)
        stored = kind != _OTHER
        other = (msg_type >= 0) & ~stored
        types, counts = np.unique(msg_type[other], return_counts=True)
        batch.other_types.update(dict(zip(types.tolist(), counts.tolist(), strict=True)))
        batch.n_messages += int(other.sum())

        pieces = msgs.subset(fast_pos)
        cols, reason = decode_positions(buf, pieces, fill[fast_pos])
        self._count(reason, batch)
        decoded = reason == 0
        pos_time = time[fast_pos][decoded]
        at, length, key = (row[fast_pos][decoded] for row in station)
        batch.positions = positions_frame(
            cols, pos_time, cols["msg_key"], self.source, station_names(buf, at, length, key)
        )
        batch.statics, reason = decode_statics(
            buf, msgs.subset(fast_stat), fill[fast_stat], time[fast_stat], self.source
        )
        self._count(reason, batch)

        rows = _Rows()
        for i in np.flatnonzero(stored & ~fast_pos & ~fast_stat).tolist():
            s1, l1, s2, l2 = (int(x[i]) for x in (msgs.s1, msgs.l1, msgs.s2, msgs.l2))
            payload = buf[s1 : s1 + l1].tobytes() + buf[s2 : s2 + l2].tobytes()
            at, length = int(station[0, i]), min(int(station[1, i]), STATION_MAX_LEN)
            name = buf[at : at + length].tobytes().decode("latin-1") if length > 0 else None
            self._decode_one(payload, int(fill[i]), int(time[i]), batch, rows, name)
        rows.add_to(batch, self.source)

    @staticmethod
    def _count(reason: I64, batch: DecodedBatch) -> None:
        Reject.tally(reason, batch.rejected)
        batch.n_messages += int((reason == Reject.NONE).sum())

    def flush(self) -> DecodedBatch:
        """Return the end-of-input batch: every part still waiting counts as expired."""
        self._fragments.expire_all()
        batch = DecodedBatch()
        batch.rejected[Reject.EXPIRED_FRAGMENT.label] += self._fragments.take_expired()
        batch.rejected = +batch.rejected
        return batch

    def _times(self, scan: LineScan, batch: DecodedBatch) -> tuple[I64, I64]:
        """Return the time (µs, NO_TIME if none) and time-source code of each good sentence."""
        clocks: list[tuple[int, int, int]] = []
        for line, body, end, checksum_ok in scan.clocks.T.tolist():
            if not checksum_ok:
                batch.rejected[Reject.BAD_CHECKSUM.label] += 1
                continue
            try:
                parsed = parse_clock_line(scan.buf[body:end].tobytes())
            except (ValueError, IndexError):
                batch.rejected[Reject.INVALID_FIELD.label] += 1
                continue
            if parsed is not None:
                clocks.append((line, *parsed))
        # Contiguous whatever their shape: numba compiles a kernel once per array layout.
        time, src, self._state = resolve_times(
            scan.line,
            scan.own_time,
            scan.own_src,
            scan.ais_lines,
            np.ascontiguousarray(scan.prefixes),
            np.ascontiguousarray(np.array(clocks, np.int64).reshape(-1, 3).T),
            self._state,
            self._fallback_us,
        )
        return time, src

    def _fragment(
        self,
        scan: LineScan,
        i: int,
        time_us: int,
        src: int,
        batch: DecodedBatch,
        rows: _Rows,
    ) -> None:
        key = (int(scan.chan[i]), int(scan.seq[i]), int(scan.total[i]), int(scan.station[i]))
        start = int(scan.pstart[i])
        payload = scan.buf[start : start + int(scan.plen[i])].tobytes()
        done = self._fragments.add(
            key, int(scan.total[i]), int(scan.num[i]), payload, int(scan.fill[i]), time_us, src
        )
        if done is None:
            return
        if done.time_us == NO_TIME:
            batch.rejected[Reject.NO_TIME.label] += 1
            return
        if not self._window_us[0] <= done.time_us < self._window_us[1]:
            batch.rejected[Reject.TIME_OUT_OF_RANGE.label] += 1
            return
        self._decode_one(done.payload, done.fill, done.time_us, batch, rows)

    @staticmethod
    def _decode_one(
        payload: bytes,
        fill: int,
        time_us: int,
        batch: DecodedBatch,
        rows: _Rows,
        station: str | None = None,
    ) -> None:
        reason, msg = decode_payload(payload, fill)
        if reason == Reject.OTHER_TYPE:
            batch.other_types[msg] += 1
            batch.n_messages += 1
            return
        if reason != Reject.NONE:
            batch.rejected[reason.label] += 1
            return
        key = payload_key(payload)
        msg_type = int(msg.msg_type)
        reasons: list[Reject] = []
        accepted = False
        for wanted, to_row, kept in (
            (POSITION_TYPES, position_row, rows.positions),
            (STATIC_TYPES, static_row, rows.statics),
        ):
            if msg_type not in wanted:
                continue
            reason, row = to_row(msg)
            if row is None:
                reasons.append(reason)
                continue
            row["timestamp_us"] = time_us
            row["msg_key"] = key
            if kept is rows.positions:
                row["station"] = station
            kept.append(row)
            accepted = True
        if accepted:
            batch.n_messages += 1
        else:
            batch.rejected[reasons[0].label] += 1
