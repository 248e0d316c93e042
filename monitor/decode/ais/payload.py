"""Armoured AIS payloads in a chunk's bytes, as the compiled kernels read them: where each
payload is, its bits as 48-bit words, its fields and its message key.

A payload is one or two pieces of the chunk's buffer (two for a 2-part type 5 whose parts are
both in the chunk). The bulk decoders (:mod:`monitor.decode.ais.positions`,
:mod:`monitor.decode.ais.statics`) read each message's payload once with :func:`read_payload`,
then its fields by bit offset.

The helpers here are inlined into the kernels' loops over messages and receive the kernels'
arrays as new references. Where a helper keeps an array alive on some paths and not on others (an
early return, a test of "and"/"or" terms that read the array), numba keeps the increments and
decrements of the array's reference count: two atomic operations per array and message, which
cost about as much as decoding the message. Hence single exits and scalar tests below.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from monitor.core.jit import I64, U8, Bool, inline
from monitor.decode.ais.rules import MMSI_MAX
from monitor.decode.bytes import (
    ALL_BITS,
    HASH_K1,
    HASH_K2,
    HIGH_BITS,
    LOW_BITS,
    ZEROS,
    load_u64,
    low_bytes,
    repeated,
)


class Pieces:
    """Where each message's payload is: ``buf[s1:s1+l1] + buf[s2:s2+l2]`` (``l2`` 0 if one)."""

    def __init__(self, s1: I64, l1: I64, s2: I64 | None = None, l2: I64 | None = None) -> None:
        self.s1, self.l1 = s1, l1
        self.s2 = s1 if s2 is None else s2
        self.l2 = np.zeros_like(l1) if l2 is None else l2
        self.length = self.l1 + self.l2

    def __len__(self) -> int:
        return len(self.s1)

    def subset(self, keep: Bool) -> Pieces:
        """Return the messages where ``keep`` is True."""
        return Pieces(self.s1[keep], self.l1[keep], self.s2[keep], self.l2[keep])


def room(buf: U8, pieces: Pieces, n_words: int) -> tuple[U8, int]:
    """Return ``buf`` (zero-padded if too short to read ``n_words`` words past every payload)
    and the number of words :func:`read_payload` fills for the longest payload."""
    longest = int(pieces.length.max(initial=0))
    size = max(longest + 8, 8 * n_words + 8)
    # The kernels read whole words: up to ``size`` bytes from each piece's start.
    if len(pieces) and max(int(pieces.s1.max()), int(pieces.s2.max())) + size > len(buf):
        buf = np.concatenate([buf, np.zeros(size, np.uint8)])
    return buf, max((longest + 7) // 8, n_words)


_HASH_K1, _HASH_K2 = np.uint64(HASH_K1), np.uint64(HASH_K2)
#: Added to a character less "0", sets its high bit from the value 40 up (from "`" on), where
#: the armour skips 8 characters.
_FROM_40 = repeated(0x80 - 40)
_SIX_BITS = repeated(0x3F)
# Added to the low 7 bits of a byte, these set its high bit from "0", past "W", from "`" and
# past "w": the armour is "0".."W" and "`".."w".
_FROM_0, _PAST_W = repeated(0x80 - ord("0")), repeated(0x80 - ord("W") - 1)
_FROM_BACKTICK, _PAST_LOWER_W = repeated(0x80 - ord("`")), repeated(0x80 - ord("w") - 1)
_LANES16, _LANES32 = np.uint64(0x00FF00FF00FF00FF), np.uint64(0x0000FFFF0000FFFF)
_LOW32 = low_bytes(4)


@inline
def _payload_word(buf: U8, s1: int, l1: int, s2: int, at: int) -> np.uint64:
    """Return the bytes ``at`` to ``at + 7`` of the payload ``buf[s1:s1+l1] + buf[s2:]``."""
    # Both reads always, then the bytes of each piece, without a branch around the reads.
    d = l1 - at
    first, second = load_u64(buf, s1 + at), load_u64(buf, s2 + max(-d, 0))
    # Half of the number of bits from the first piece (0-64): two shifts, as one of 64 bits is
    # not defined.
    half = np.uint64(4 * min(max(d, 0), 8))
    return (first & ~((ALL_BITS << half) << half)) | ((second << half) << half)


@inline
def _dearmoured(w: np.uint64) -> np.int64:
    """Return 8 armoured characters (first in the lowest byte) as 48 bits, first highest."""
    # De-armour 8 characters at once; a borrow or carry only moves towards later bytes.
    y = w - ZEROS
    y = (y - (((y + _FROM_40) & HIGH_BITS) >> np.uint64(4))) & _SIX_BITS
    # Join neighbours, first character highest: 6+6 bits, then 12+12, then 24+24.
    y = ((y & _LANES16) << np.uint64(6)) | ((y >> np.uint64(8)) & _LANES16)
    y = ((y & _LANES32) << np.uint64(12)) | ((y >> np.uint64(16)) & _LANES32)
    return np.int64(((y & _LOW32) << np.uint64(24)) | (y >> np.uint64(32)))


@inline
def read_payload(
    buf: U8, s1: int, l1: int, s2: int, l2: int, bits: I64, n_words: int
) -> tuple[bool, np.uint64]:
    """Fill ``bits`` with the payload ``buf[s1:s1+l1] + buf[s2:s2+l2]`` as 48-bit words (8
    characters each); return (a character is not AIS 6-bit armour, the payload's key).

    The key is :func:`monitor.decode.ais.rules.payload_key`. Words are filled for the whole
    payload and at least ``n_words``, which ``bits`` must have room for; past the payload's end
    they hold garbage, and fields there must not be read.
    """
    n = l1 + l2
    n_keyed = (n + 7) // 8
    h = _HASH_K1 ^ np.uint64(n)
    bad = np.uint64(0)
    for k in range(max(n_keyed, n_words)):
        # Most payloads are one piece: plain reads then.
        w = load_u64(buf, s1 + 8 * k) if l2 == 0 else _payload_word(buf, s1, l1, s2, 8 * k)
        bits[k] = _dearmoured(w)
        if k < n_keyed:
            # The bytes of the payload in this word; the last word's others are ignored.
            inside = ALL_BITS >> np.uint64(8 * (8 - min(n - 8 * k, 8)))
            w &= inside
            # Armour characters, 8 bytes at a time.
            y = w & LOW_BITS
            ok = ((y + _FROM_0) & ~(y + _PAST_W)) | ((y + _FROM_BACKTICK) & ~(y + _PAST_LOWER_W))
            bad |= ((~ok | w) & HIGH_BITS) & inside
            h = (h ^ w) * _HASH_K2
            h ^= h >> np.uint64(29)
    h *= _HASH_K1
    return bad != 0, h ^ (h >> np.uint64(32))


@inline
def field(bits: I64, start: int, width: int) -> int:
    """Return the unsigned field of ``width`` bits (at most 48) at bit ``start``."""
    word, off = start // 48, start % 48
    # Most calls have a constant start and width: the compiler keeps one of the two ways.
    low = off + width - 48
    if low <= 0:
        v = (bits[word] >> (48 - off - width)) & ((1 << width) - 1)
    else:
        v = ((bits[word] & ((1 << (48 - off)) - 1)) << low) | (bits[word + 1] >> (48 - low))
    return int(v)


@inline
def signed(bits: I64, start: int, width: int) -> int:
    """Return the two's complement field of ``width`` bits at bit ``start``."""
    sign = 1 << (width - 1)
    return (field(bits, start, width) ^ sign) - sign


class Message(NamedTuple):
    """A message as a kernel first sees it, its payload read into the kernel's bit words."""

    #: A payload character is not AIS 6-bit armour.
    bad: bool
    #: The payload's key (:func:`monitor.decode.ais.rules.payload_key`).
    key: np.uint64
    #: Payload bits, fill bits excluded.
    n_bits: int
    #: The type (0 for an empty payload) and the MMSI: garbage if the payload is too short.
    msg_type: int
    mmsi: int


@inline
def read_message(
    buf: U8, s1: int, l1: int, s2: int, l2: int, fill: int, bits: I64, n_words: int
) -> Message:
    """Return the message whose payload is ``buf[s1:s1+l1] + buf[s2:s2+l2]``, with ``fill`` fill
    bits, and fill ``bits`` with its payload (see :func:`read_payload`)."""
    bad, key = read_payload(buf, s1, l1, s2, l2, bits, n_words)
    length = l1 + l2
    msg_type = field(bits, 0, 6) if length > 0 else 0
    return Message(bad, key, length * 6 - fill, msg_type, field(bits, 8, 30))


@inline
def valid_mmsi(mmsi: int) -> bool:
    """Return whether ``mmsi`` is a possible MMSI (1 to 999999999)."""
    return (mmsi != 0) & (mmsi <= MMSI_MAX)
