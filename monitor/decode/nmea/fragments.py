"""Reassembly of multi-part AIS messages (type 5, long type 6/8 and friends sent as 2-9 sentences).

Parts are matched by (channel, sequence id, fragment count, receiver station) and must arrive in
order. A part waits at most ``timeout_s`` of *message* time for the next one: receivers reuse
sequence ids 0-9 every few seconds, so a stale part 1 joined to a later part 2 would produce a
plausible-looking but wrong message. Everything dropped is counted as an expired fragment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Sentinel for "no time known" in int64 microsecond columns (numpy's NaT value).
NO_TIME = -(2**63)

#: (channel, sequence id, fragment count, receiver station key)
FragmentKey = tuple[int, int, int, int]


@dataclass
class _Pending:
    total: int
    next_num: int
    time_us: int
    time_source: int
    payloads: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class Assembled:
    """A complete multi-part message: concatenated payload, fill bits of the last part, time."""

    payload: bytes
    fill: int
    time_us: int
    time_source: int


class FragmentAssembler:
    """Joins the parts of multi-part messages; counts the parts it has to give up on."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_us = int(timeout_s * 1_000_000)
        self._pending: dict[FragmentKey, _Pending] = {}
        #: Fragments dropped since the last call to :meth:`take_expired`.
        self._expired = 0

    def _too_far(self, a_us: int, b_us: int) -> bool:
        if a_us == NO_TIME or b_us == NO_TIME:
            return False
        return abs(a_us - b_us) > self._timeout_us

    def _drop(self, key: FragmentKey) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None:
            self._expired += len(pending.payloads)

    def add(
        self,
        key: FragmentKey,
        total: int,
        num: int,
        payload: bytes,
        fill: int,
        time_us: int,
        time_source: int,
    ) -> Assembled | None:
        """Return the assembled message when this part completes one, else None."""
        if num == 1:
            self._drop(key)
            pending = _Pending(total, 1, time_us, time_source)
            self._pending[key] = pending
        else:
            found = self._pending.get(key)
            if found is None or found.next_num != num or self._too_far(found.time_us, time_us):
                # An orphan: its earlier parts were lost or belong to another message.
                self._drop(key)
                self._expired += 1
                return None
            pending = found
            if pending.time_us == NO_TIME and time_us != NO_TIME:
                pending.time_us, pending.time_source = time_us, time_source
        pending.payloads.append(payload)
        pending.next_num = num + 1
        if num < total:
            return None
        del self._pending[key]
        return Assembled(b"".join(pending.payloads), fill, pending.time_us, pending.time_source)

    def expire_before(self, now_us: int) -> None:
        """Drop the parts that have waited longer than the timeout as seen from ``now_us``."""
        if now_us == NO_TIME:
            return
        stale = [k for k, p in self._pending.items() if self._too_far(p.time_us, now_us)]
        for key in stale:
            self._drop(key)

    def expire_all(self) -> None:
        """Drop every waiting part (end of input)."""
        for key in list(self._pending):
            self._drop(key)

    def take_expired(self) -> int:
        """Return the number of fragments dropped since the last call, and reset it."""
        n, self._expired = self._expired, 0
        return n
