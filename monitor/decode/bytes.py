"""Byte helpers for the compiled kernels: ASCII codes, 8-byte words, tests on eight bytes at a
time, NMEA checksums and decimal numbers.

Kernels read text eight bytes at a time, as a 64-bit word loaded at any offset: one unaligned
load, not eight byte loads. Hosts are little-endian, so the byte at the lowest offset is the
word's lowest byte. Helpers that read words may read up to 15 bytes past the last byte they
judge; callers pad their buffers with zero bytes to cover that.

Tests on a word's eight bytes at once give a word of flags: the high bit of each byte that
passes set, every other bit clear.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

import numpy as np
from numba.core import types
from numba.cpython.unsafe import numbers
from numba.extending import intrinsic

from monitor.core.jit import U8, inline

#: ASCII codes of the bytes that structure NMEA and AIS text.
NEWLINE: Final = ord("\n")
CARRIAGE_RETURN: Final = ord("\r")
SPACE: Final = ord(" ")
EXCLAMATION: Final = ord("!")
HASH: Final = ord("#")
DOLLAR: Final = ord("$")
STAR: Final = ord("*")
COMMA: Final = ord(",")
DASH: Final = ord("-")
ZERO: Final = ord("0")
NINE: Final = ord("9")
COLON: Final = ord(":")
BACKSLASH: Final = ord("\\")
_UPPER_A, _UPPER_F = ord("A"), ord("F")
_LOWER_A, _LOWER_F = ord("a"), ord("f")

#: Odd 64-bit multipliers for hashing words: 2**64 over the golden ratio, and a mixing constant.
HASH_K1: Final = 0x9E3779B97F4A7C15
HASH_K2: Final = 0xD6E8FEB86659FD93


def repeated(byte: int) -> np.uint64:
    """Return the word of eight ``byte`` bytes."""
    return np.uint64(0x0101_0101_0101_0101 * byte)


def text_word(text: bytes) -> np.uint64:
    """Return the word whose lowest bytes are ``text`` (up to 8 bytes) and the others zero."""
    return np.uint64(int.from_bytes(text.ljust(8, b"\0"), "little"))


def low_bytes(n: int) -> np.uint64:
    """Return the word with its lowest ``n`` (0-8) bytes all ones and the others zero."""
    return np.uint64((1 << (8 * n)) - 1)


#: Words of eight equal bytes.
ONES: Final = repeated(0x01)
LOW_BITS: Final = repeated(0x7F)
HIGH_BITS: Final = repeated(0x80)
ZEROS: Final = repeated(ZERO)
ALL_BITS: Final = repeated(0xFF)
#: Added to the low 7 bits of a byte, sets its high bit when the byte is above "9".
_ABOVE_NINE: Final = repeated(0x80 - (NINE + 1))
_POWERS_OF_TEN = np.array([10**k for k in range(17)], np.int64)


# ---- 8-byte loads and stores ----


def _load_u64_typer(typingctx: Any, array: Any, index: Any) -> tuple[Any, Any]:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        pointer = context.get_value_type(types.uint64).as_pointer()
        word = builder.bitcast(builder.gep(data, [args[1]]), pointer)
        return builder.load(word, align=1)

    return types.uint64(array, types.intp), codegen


def _store_u64_typer(typingctx: Any, array: Any, index: Any, value: Any) -> tuple[Any, Any]:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        pointer = context.get_value_type(types.uint64).as_pointer()
        builder.store(args[2], builder.bitcast(builder.gep(data, [args[1]]), pointer), align=1)
        return context.get_dummy_value()

    return types.none(array, types.intp, types.uint64), codegen


#: Returns the 8 bytes from ``index`` of a C-contiguous uint8 array as one word; no bounds check.
load_u64 = cast(Callable[[U8, int], np.uint64], intrinsic(_load_u64_typer))
#: Writes a word as the 8 bytes from ``index``, counted in bytes from the start of a C-contiguous
#: uint8 array of any shape; no bounds check.
store_u64 = cast(Callable[[U8, int, np.uint64], None], intrinsic(_store_u64_typer))
#: The count of zero bits above the highest and below the lowest set bit of a word (64 if 0).
_leading_zeros = cast(Callable[[np.uint64], np.uint64], numbers.leading_zeros)
_trailing_zeros = cast(Callable[[np.uint64], np.uint64], numbers.trailing_zeros)


# ---- bits and bytes of a word ----


@inline
def lowest_bit(word: np.uint64) -> int:
    """Return the index (0-63) of the lowest set bit of ``word``, 64 if none."""
    # As a signed integer: mixed with unsigned ones, numba's integers become floats.
    return int(np.int64(_trailing_zeros(word)))


@inline
def lowest_byte(word: np.uint64) -> int:
    """Return the index (0-7) of the lowest byte of ``word`` with a bit set, 8 if none."""
    return lowest_bit(word) // 8


@inline
def highest_byte(word: np.uint64) -> int:
    """Return the index (0-7) of the highest byte of ``word`` (not 0) with a bit set."""
    return 7 - int(np.int64(_leading_zeros(word))) // 8


@inline
def matches(word: np.uint64, pattern: np.uint64) -> np.uint64:
    """Return the flags of the bytes of ``word`` equal to those of ``pattern``."""
    t = word ^ pattern
    # A byte of t is zero when neither its high bit nor the sum of its low bits and 0x7F has the
    # high bit set; that sum never carries into the next byte, so the test is exact.
    return ~(((t & LOW_BITS) + LOW_BITS) | t | LOW_BITS)


# ---- searches and checksums ----


@inline
def find_byte(buf: U8, byte: int, start: int, end: int) -> int:
    """Return the index of the first ``byte`` in ``buf[start:end]``, -1 if none; reads up to 7
    bytes past ``end``."""
    pattern = np.uint64(byte) * ONES
    k = start
    flags = matches(load_u64(buf, k), pattern)
    # Loops here have one exit and tests read no array, so that kernels that inline them into
    # their own loops need no reference counting of ``buf``.
    while flags == 0 and k + 8 < end:
        k += 8
        flags = matches(load_u64(buf, k), pattern)
    at = k + lowest_byte(flags)
    return at if flags != 0 and at < end else -1


@inline
def xor_bytes(buf: U8, start: int, stop: int) -> int:
    """Return the XOR of the bytes in ``[start, stop)`` (an NMEA checksum); reads up to 7 bytes
    past ``stop``."""
    x = np.uint64(0)
    k = start
    while k + 8 <= stop:
        x ^= load_u64(buf, k)
        k += 8
    # The last 0-7 bytes: a whole word with the bytes past ``stop`` masked out.
    x ^= load_u64(buf, k) & ((np.uint64(1) << np.uint64(8 * (stop - k))) - np.uint64(1))
    x ^= x >> np.uint64(32)
    x ^= x >> np.uint64(16)
    x ^= x >> np.uint64(8)
    return int(np.int64(x & np.uint64(0xFF)))


@inline
def hex_digit(c: int) -> int:
    """Return the value of a hexadecimal digit byte, -1 if it is not one."""
    if ZERO <= c <= NINE:
        return c - ZERO
    if _UPPER_A <= c <= _UPPER_F:
        return c - _UPPER_A + 10
    if _LOWER_A <= c <= _LOWER_F:
        return c - _LOWER_A + 10
    return -1


@inline
def checksum_ok(buf: U8, body: int, star: int) -> bool:
    """Return whether the ``*hh`` at ``star`` is the checksum of the sentence ``buf[body:star]``
    (its leading "!" or "$" excluded)."""
    x = xor_bytes(buf, body + 1, star)
    high, low = hex_digit(buf[star + 1]), hex_digit(buf[star + 2])
    return (high >= 0) & (low >= 0) & (x == high * 16 + low)


# ---- decimal numbers ----


@inline
def digit_count(word: np.uint64) -> int:
    """Return how many bytes of ``word``, from its lowest, are ASCII digits in a row (0-8)."""
    below = ~(((word | HIGH_BITS) - ZEROS) | word) & HIGH_BITS  # under "0", exactly
    above = (((word & LOW_BITS) + _ABOVE_NINE) | word) & HIGH_BITS  # over "9", exactly
    return lowest_byte(below | above)


@inline
def digits_value(word: np.uint64, n: int) -> int:
    """Return the number written by the lowest ``n`` (0-8) bytes of ``word``, ASCII digits."""
    # The digits shifted to the top bytes, zeros below (two shifts, as one of 64 bits is not
    # defined), then pairs, fours and eights of digits combined in place: the first digit is
    # the lowest byte, and no partial sum overflows its lane.
    shift = np.uint64(4 * (8 - n))
    v = ((word - ZEROS) << shift) << shift
    v = (v * np.uint64(10) + (v >> np.uint64(8))) & np.uint64(0x00FF_00FF_00FF_00FF)
    v = (v * np.uint64(100) + (v >> np.uint64(16))) & np.uint64(0x0000_FFFF_0000_FFFF)
    v = (v * np.uint64(10_000) + (v >> np.uint64(32))) & np.uint64(0xFFFF_FFFF)
    return int(v)


@inline
def uint_after(buf: U8, at: int, limit: int) -> tuple[int, int]:
    """Return the value and digit count (up to ``limit``, 1-16) of the number starting at ``at``;
    reads 16 bytes from ``at``."""
    high, low = load_u64(buf, at), load_u64(buf, at + 8)
    n_high = digit_count(high)
    n_low = digit_count(low) if n_high == 8 else 0
    n = n_high + n_low
    value = digits_value(high, n_high) * _POWERS_OF_TEN[n_low] + digits_value(low, n_low)
    cut = max(n - limit, 0)
    return value // _POWERS_OF_TEN[cut], n - cut


@inline
def two_digits(v: int) -> np.uint64:
    """Return ``v`` (0-99) as two ASCII digits, the first in the low byte."""
    return np.uint64(ZERO + v // 10) | (np.uint64(ZERO + v % 10) << np.uint64(8))


@inline
def uint_before(buf: U8, end: int, limit: int) -> tuple[int, int]:
    """Return the value and digit count (up to ``limit``) of the number ending before ``end``."""
    value, n, scale = 0, 0, 1
    k = end - 1
    d = int(buf[max(k, 0)]) - ZERO
    while (n < limit) & (k >= 0) & (d >= 0) & (d <= 9):
        value += d * scale
        scale *= 10
        n += 1
        k -= 1
        d = int(buf[max(k, 0)]) - ZERO
    return value, n
