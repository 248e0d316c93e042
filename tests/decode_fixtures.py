"""Test helpers for the decoders: reference parsers written independently of the library's, and
wrappers that run the library's compiled helpers over many inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from monitor.core.jit import I64, U8, U64, kernel
from monitor.decode.ais.payload import Pieces, read_payload, room
from monitor.decode.codes import Reject
from monitor.decode.nmea.clock import pghp_line
from monitor.decode.nmea.fragments import NO_TIME
from monitor.schema import DecodedBatch


def merge(batch: DecodedBatch, other: DecodedBatch) -> None:
    """Add ``other`` into ``batch`` (frames are concatenated, counters summed)."""
    batch.positions = pl.concat([batch.positions, other.positions], how="vertical")
    batch.statics = pl.concat([batch.statics, other.statics], how="vertical")
    batch.n_lines += other.n_lines
    batch.n_messages += other.n_messages
    batch.rejected.update(other.rejected)
    batch.other_types.update(other.other_types)
    batch.time_sources.update(other.time_sources)


def pghp_reference(sentence: bytes) -> int | None:
    """Return the epoch µs of a Gatehouse ``$PGHP,1,...`` sentence, None for another type.

    Raises ValueError or IndexError when the sentence is malformed.
    """
    fields = sentence.split(b"*", 1)[0].split(b",")
    if fields[0] != b"$PGHP":
        raise ValueError("not a $PGHP sentence")
    if fields[1] != b"1":
        return None
    y, mo, d, h, mi, s, ms = (int(f) for f in fields[2:9])
    when = datetime(y, mo, d, h, mi, s, ms * 1000, UTC)
    return int(when.timestamp()) * 1_000_000 + when.microsecond


def pghp_statuses(buf: U8, body: I64, end: I64) -> tuple[list[int], list[str]]:
    """Return the time (µs, NO_TIME if none) and what :func:`pghp_line` makes of each ``$PGHP``
    line ``buf[body:end]``: "ok" (timed), "other" (another message type, not timed and not
    rejected) or the reject label."""
    times: list[int] = []
    statuses: list[str] = []
    for b, e in zip(body.tolist(), end.tolist(), strict=True):
        time_us, reason = pghp_line(buf, b, e)
        times.append(time_us)
        if reason != Reject.NONE:
            statuses.append(Reject(reason).label)
        else:
            statuses.append("ok" if time_us != NO_TIME else "other")
    return times, statuses


@kernel
def _keys_kernel(buf: U8, s1: I64, l1: I64, s2: I64, l2: I64, words: int) -> U64:
    keys = np.empty(len(s1), np.uint64)
    bits = np.empty(words, np.int64)
    for m in range(len(s1)):
        keys[m] = read_payload(buf, s1[m], l1[m], s2[m], l2[m], bits, 0)[1]
    return keys


def payload_keys(buf: U8, pieces: Pieces) -> U64:
    """Return the message key the bulk decoders compute for each message's payload."""
    buf, words = room(buf, pieces, 0)
    keys: U64 = _keys_kernel(buf, pieces.s1, pieces.l1, pieces.s2, pieces.l2, words)
    return keys
