"""Codes the decoders count by: why a line, message or row was not stored, and where each
message's time came from.

Compiled kernels write the codes into integer arrays; the counters of a
:class:`monitor.schema.DecodedBatch` are keyed by their labels ("bad_checksum", "tag_block"),
which summaries and reports show.
"""

from __future__ import annotations

from collections import Counter
from enum import IntEnum
from typing import TYPE_CHECKING, Self

import numpy as np

if TYPE_CHECKING:
    from monitor.core.jit import I64


class _Code(IntEnum):
    @property
    def label(self) -> str:
        """Return the name counters and summaries use for this code."""
        return self.name.lower()

    @classmethod
    def of_label(cls, label: str | None) -> Self:
        """Return the code named ``label``; code 0 for none ("" or None) or an unknown one."""
        member = cls.__members__.get(label.upper()) if label else None
        return member if member is not None else cls(0)

    @classmethod
    def add_counts(cls, counts: I64, counter: Counter[str]) -> None:
        """Add ``counts`` (indexed by code) to ``counter`` by label; code 0 is not counted."""
        for code, n in enumerate(counts.tolist()):
            if code and n:
                counter[cls(code).label] += n

    @classmethod
    def tally(cls, codes: I64, counter: Counter[str]) -> None:
        """Add how often each code (but 0) occurs in ``codes`` to ``counter`` by label."""
        cls.add_counts(np.bincount(codes, minlength=len(cls)), counter)


class Reject(_Code):
    """Why a line, message or CSV row was not stored; NONE (0) when it was."""

    NONE = 0
    #: A character outside the AIS 6-bit alphabet, a field with an impossible value.
    INVALID_FIELD = 1
    #: A payload too short for every stored field of its type.
    TRUNCATED = 2
    #: MMSI 0 or above 999999999.
    INVALID_MMSI = 3
    #: A coordinate outside +-90 / +-180 that does not mean "not available".
    INVALID_POSITION = 4
    #: A line that is no NMEA sentence the decoder knows.
    UNKNOWN_FORMAT = 5
    BAD_CHECKSUM = 6
    #: No time source for the sentence (see :mod:`monitor.decode.nmea.decoder`).
    NO_TIME = 7
    #: A part of a multi-part message whose other parts did not come in time.
    EXPIRED_FRAGMENT = 8
    #: A CSV line the CSV reader cannot read.
    INVALID_CSV = 9
    #: Not a rejection: a message of a type the monitor does not store, counted by type in
    #: ``DecodedBatch.other_types``.
    OTHER_TYPE = 10
    #: A message time outside the accepted window (by default 1990-2100): a broken clock.
    TIME_OUT_OF_RANGE = 11
    #: A tag block whose ``*hh`` checksum fails, in an input whose tag-block checksums are real.
    BAD_TAG_CHECKSUM = 12
    #: A line longer than any AIS sentence or CSV row, dropped as it is read.
    LINE_TOO_LONG = 13


class TimeSource(_Code):
    """Where a message's time came from; NONE (0) when it has none."""

    NONE = 0
    #: An NMEA 4.0 tag block with ``c:`` on the sentence's line, or alone on the line before.
    TAG_BLOCK = 1
    #: An epoch after the checksum, without a US Coast Guard station field.
    TRAILING_EPOCH = 2
    #: US Coast Guard ``*hh,...,rSTATION,EPOCH``.
    USCG = 3
    #: A Gatehouse ``$PGHP`` line just before the sentence.
    PGHP = 4
    #: The last ``$xxZDA`` clock sentence.
    ZDA = 5
    #: The last valid ``$xxRMC`` clock sentence.
    RMC = 6
    #: The time the caller gave for messages without one.
    FALLBACK = 7
    #: A CSV row's timestamp column.
    CSV = 8
