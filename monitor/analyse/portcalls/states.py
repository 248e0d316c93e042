"""The port-call state machine: states, events and the transition table, tested entry by entry.

Like Global Fishing Watch's ``create_in_out_events``, a table maps (previous state, new state) to
the events the step means for a port visit; :func:`transition_events` composes the table's steps
for a silence (``dark_*`` states) or a move straight from one port into another.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import numpy as np
import polars as pl

from monitor.schema import UTC_US


class State(StrEnum):
    """Where a vessel is at one position (the ``dark_*`` states are silences longer than a gap)."""

    AT_SEA = "at_sea"
    IN_PORT = "in_port"
    STOPPED = "stopped"
    #: Silent after being seen inside a port, moving.
    DARK_IN_PORT = "dark_in_port"
    #: Silent after being seen stopped inside a port.
    DARK_STOPPED = "dark_stopped"


class Event(StrEnum):
    """What a transition between two states means for a port visit."""

    #: Seen outside, then inside: the arrival was observed.
    ENTER = "enter"
    #: First seen inside (start of the data, or after a silence at sea): arrival not observed.
    OPEN = "open"
    #: Seen inside, then beyond the exit buffer: the departure was observed.
    EXIT = "exit"
    #: Seen inside, silent, then seen at sea: departure not observed.
    CLOSE = "close"
    STOP_BEGIN = "stop_begin"
    STOP_END = "stop_end"
    GAP_BEGIN = "gap_begin"
    GAP_END = "gap_end"


#: ``(previous state, new state) -> events``. ``None`` is "no earlier position": the start of the
#: vessel's data, or a silence at sea longer than ``max_gap_h`` (what came before says nothing
#: about the arrival). A move from one port straight into another is decomposed into
#: ``(old, AT_SEA)`` then ``(AT_SEA, new)``; a silence into ``(old, DARK_*)`` then
#: ``(DARK_*, new)``.
TRANSITIONS: dict[tuple[State | None, State], tuple[Event, ...]] = {
    (None, State.AT_SEA): (),
    (None, State.IN_PORT): (Event.OPEN,),
    (None, State.STOPPED): (Event.OPEN, Event.STOP_BEGIN),
    (State.AT_SEA, State.AT_SEA): (),
    (State.AT_SEA, State.IN_PORT): (Event.ENTER,),
    (State.AT_SEA, State.STOPPED): (Event.ENTER, Event.STOP_BEGIN),
    (State.IN_PORT, State.AT_SEA): (Event.EXIT,),
    (State.IN_PORT, State.IN_PORT): (),
    (State.IN_PORT, State.STOPPED): (Event.STOP_BEGIN,),
    (State.STOPPED, State.AT_SEA): (Event.STOP_END, Event.EXIT),
    (State.STOPPED, State.IN_PORT): (Event.STOP_END,),
    (State.STOPPED, State.STOPPED): (),
    (State.IN_PORT, State.DARK_IN_PORT): (Event.GAP_BEGIN,),
    (State.STOPPED, State.DARK_STOPPED): (Event.GAP_BEGIN,),
    (State.DARK_IN_PORT, State.AT_SEA): (Event.CLOSE,),
    (State.DARK_IN_PORT, State.IN_PORT): (Event.GAP_END,),
    (State.DARK_IN_PORT, State.STOPPED): (Event.GAP_END, Event.STOP_BEGIN),
    (State.DARK_STOPPED, State.AT_SEA): (Event.STOP_END, Event.CLOSE),
    (State.DARK_STOPPED, State.IN_PORT): (Event.GAP_END, Event.STOP_END),
    (State.DARK_STOPPED, State.STOPPED): (Event.GAP_END,),
}

DARK_OF: dict[State, State] = {
    State.IN_PORT: State.DARK_IN_PORT,
    State.STOPPED: State.DARK_STOPPED,
}
IN_PORT_STATES = (State.IN_PORT, State.STOPPED)

#: Events that belong to the visit of the row before the transition (they close or continue it).
EVENTS_OF_PREVIOUS_VISIT = frozenset({Event.EXIT, Event.CLOSE, Event.STOP_END, Event.GAP_BEGIN})

STATE_CODES: tuple[State, ...] = (State.AT_SEA, State.IN_PORT, State.STOPPED)


def transition_events(
    previous: State | None,
    new: State,
    *,
    gap: bool = False,
    same_port: bool = True,
    bridged: bool = True,
) -> list[Event]:
    """Return the events of one step from ``previous`` to ``new`` (states without ``dark_*``).

    ``gap`` is a silence longer than ``max_gap_h`` between the two positions; ``same_port`` is
    False when both are in port but in different ports; ``bridged`` is False when a silence
    inside one port is not one stay (too long, or passing through on both sides): the visit is
    closed at its last position and a new one opens, as between two ports.
    """
    hops: list[tuple[State | None, State]] = []
    if gap and previous is not None:
        dark = DARK_OF.get(previous)
        if dark is None:
            previous = None
        else:
            hops.append((previous, dark))
            if new in IN_PORT_STATES and not (same_port and bridged):
                hops.append((dark, State.AT_SEA))
                previous = None
            else:
                previous = dark
    elif previous in IN_PORT_STATES and new in IN_PORT_STATES and not same_port:
        hops.append((previous, State.AT_SEA))
        previous = State.AT_SEA
    hops.append((previous, new))
    return [event for hop in hops for event in TRANSITIONS[hop]]


def state_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Return the state machine's events, found by applying :data:`TRANSITIONS` to change rows.

    ``frame`` is classified positions (:func:`monitor.analyse.portcalls.detect.classify`): per
    row ``first``, ``state`` (a code of :data:`STATE_CODES`), ``port``, ``gap``, ``split`` and
    ``visit``. Each event is given the visit it belongs to. A first row with a
    ``_prior_state`` goes on from a restart point: the row before it was in that state, in the
    same port and visit.
    """
    state = frame["state"].to_numpy()
    port = frame["port"].to_numpy()
    first = frame["first"].to_numpy()
    changed = first.copy()
    gap = frame["gap"].to_numpy()
    changed[1:] |= (
        (state[1:] != state[:-1]) | (port[1:] != port[:-1]) | (gap[1:] & (state[:-1] > 0))
    )
    at = np.flatnonzero(changed)
    # The row before a vessel's first row is another vessel's: unused, the step has no previous.
    before = np.maximum(at - 1, 0)
    prior = (
        frame["_prior_state"].gather(at)
        if "_prior_state" in frame.columns
        else pl.Series([None] * at.size, dtype=pl.Int8)
    )
    goes_on = prior.is_not_null() & pl.Series(first[at])
    changes = frame.select(
        "mmsi", "timestamp_utc", "first", "state", "gap", "split", "port", "visit"
    )[at].with_columns(
        first=pl.col("first") & ~goes_on,
        prev_state=pl.when(goes_on).then(prior).otherwise(pl.Series(state[before])),
        prev_port=pl.when(goes_on).then(pl.col("port")).otherwise(pl.Series(port[before])),
        prev_visit=pl.when(goes_on).then(pl.col("visit")).otherwise(frame["visit"].gather(before)),
    )
    rows: dict[str, list[object]] = {"mmsi": [], "timestamp_utc": [], "event": [], "visit": []}
    columns = ("mmsi", "timestamp_utc", "first", "prev_state", "state", "gap", "split")
    cols = [changes[c].to_list() for c in (*columns, "prev_port", "port", "visit", "prev_visit")]
    for mmsi, ts, first, prev, new, gap, split, prev_port, port, visit, prev_visit in zip(
        *cols, strict=True
    ):
        previous = None if first else STATE_CODES[prev]
        events = transition_events(
            previous,
            STATE_CODES[new],
            gap=bool(gap),
            same_port=prev_port == port,
            bridged=not split,
        )
        for event in events:
            rows["mmsi"].append(mmsi)
            rows["timestamp_utc"].append(ts)
            rows["event"].append(str(event))
            rows["visit"].append(prev_visit if event in EVENTS_OF_PREVIOUS_VISIT else visit)
    events_frame = pl.DataFrame(
        rows,
        schema={
            "mmsi": pl.UInt32(),
            "timestamp_utc": UTC_US,
            "event": pl.String(),
            "visit": pl.UInt32(),
        },
    )
    return events_frame


def confidence(entry: pl.Expr, exit_: pl.Expr, stop: pl.Expr) -> pl.Expr:
    """Return the confidence (1-4) of a call from what was observed, as in GFW's port visits.

    4: entry, stop and exit observed. 3: a stop, and one of entry and exit. 2: a stop alone, or
    both entry and exit without a stop. 1: no stop, and at most one of entry and exit. Only
    what was seen counts: a stop inferred from a silence in port does not.
    """
    seen = entry.cast(pl.UInt8) + exit_.cast(pl.UInt8)
    return (
        pl.when(stop)
        .then(pl.lit(2, pl.UInt8) + seen)
        .otherwise(pl.when(seen == 2).then(2).otherwise(1))
        .cast(pl.UInt8)
    )


class CallStatus(StrEnum):
    """Where a call stands at the newest position of the data."""

    #: The vessel's last position is in the port, and it was heard lately.
    IN_PORT = "in_port"
    DEPARTED = "departed"
    #: The vessel's last position is in the port, but it has not been heard for longer than
    #: ``max_unheard_h``: last seen in port, whereabouts unknown.
    UNKNOWN = "unknown"


def open_status(
    calls: pl.DataFrame, data_end: datetime | None, max_unheard_h: float
) -> pl.DataFrame:
    """Return ``calls`` with the status of each open call (no departure) as of ``data_end``.

    ``in_port`` when its vessel was last heard (``last_seen_utc``) at most ``max_unheard_h``
    before ``data_end``, the newest message time of the data, else ``unknown``; departed calls
    keep their status. Applying it again with a later ``data_end`` gives the later status.
    """
    if data_end is None or calls.is_empty():
        return calls
    limit = pl.lit(data_end, dtype=calls.schema["last_seen_utc"]) - pl.duration(
        microseconds=round(max_unheard_h * 3_600_000_000)
    )
    heard = pl.col("last_seen_utc") >= limit
    return calls.with_columns(
        status=pl.when(pl.col("departure_utc").is_not_null())
        .then(pl.col("status"))
        .when(heard)
        .then(pl.lit(CallStatus.IN_PORT.value))
        .otherwise(pl.lit(CallStatus.UNKNOWN.value))
    )
