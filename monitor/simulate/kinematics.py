"""Kinematics: legs of a vessel's plan and the positions it reports along them.

A ``Move`` follows a polyline (metres, see ``geo.Projection``) with a piecewise-constant speed
profile, so the distance covered is an exact piecewise-linear function of time; ground truth uses
the same function to time zone crossings. A ``Stay`` holds a point (berth, anchorage, meeting)
with a little jitter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from monitor.core.geo import MPS_PER_KN
from monitor.simulate.geo import FloatArray, bearing_deg

# Navigation status codes (ITU-R M.1371).
UNDER_WAY = 0
AT_ANCHOR = 1
MOORED = 5
FISHING = 7

#: Speed steps (distance m, speed kn) when leaving a berth or anchorage, nearest first.
_START_STEPS: tuple[tuple[float, float], ...] = ((800.0, 3.0), (2500.0, 6.0))
#: Speed steps when approaching, farthest first (slow down over the last ~20 km).
_END_STEPS: tuple[tuple[float, float], ...] = ((12_000.0, 9.0), (5_000.0, 6.0), (1_500.0, 3.5))


@dataclass(frozen=True)
class Move:
    """Sailing along a polyline; ``knot_t_s``/``knot_d_m`` give distance covered over time."""

    x_m: FloatArray
    y_m: FloatArray
    cum_m: FloatArray
    knot_t_s: FloatArray
    knot_d_m: FloatArray
    speed_kn: FloatArray
    status: int
    kind: str

    @property
    def t0_s(self) -> float:
        return float(self.knot_t_s[0])

    @property
    def t1_s(self) -> float:
        return float(self.knot_t_s[-1])

    @property
    def length_m(self) -> float:
        return float(self.cum_m[-1])

    def time_at(self, distance_m: FloatArray) -> FloatArray:
        """Return the times at which the vessel has covered ``distance_m``."""
        return np.interp(distance_m, self.knot_d_m, self.knot_t_s)

    def position_at(self, t_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return (x_m, y_m) at times ``t_s``."""
        d = np.interp(t_s, self.knot_t_s, self.knot_d_m)
        return np.interp(d, self.cum_m, self.x_m), np.interp(d, self.cum_m, self.y_m)


@dataclass(frozen=True)
class Stay:
    """Holding a point: moored, at anchor, fishing drift or a meeting at sea."""

    t0_s: float
    t1_s: float
    x_m: float
    y_m: float
    status: int
    kind: str
    port_id: str | None = None
    #: Standard deviation of reported position noise around the point.
    jitter_m: float = 3.0
    #: Anchored vessels swing around the anchor on this radius.
    swing_m: float = 0.0
    #: A GPS that reports noise as speed: SOG drawn from 0.3 kn to this (0: a quiet GPS).
    sog_noise_kn: float = 0.0


Leg = Move | Stay


def make_move(
    t0_s: float,
    x_m: FloatArray,
    y_m: FloatArray,
    cruise_kn: float,
    *,
    slow_start: bool = True,
    slow_end: bool = True,
    status: int = UNDER_WAY,
    kind: str = "voyage",
) -> Move:
    """Return a move along the polyline starting at ``t0_s``, slowing near its ends."""
    x = np.asarray(x_m, dtype=np.float64)
    y = np.asarray(y_m, dtype=np.float64)
    keep = np.concatenate([[True], (np.diff(x) != 0) | (np.diff(y) != 0)])
    x, y = x[keep], y[keep]
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    if cum[-1] < 1.0:
        # A degenerate path becomes a one-metre hop so that speeds and times stay finite.
        x, y = np.array([x[0], x[0]]), np.array([y[0], y[0] + 1.0])
        cum = np.array([0.0, 1.0])
    length = float(cum[-1])
    # A ramp never speeds a slow move up: steps above the cruise speed are capped at it.
    start = [(d, min(v, cruise_kn)) for d, v in _START_STEPS if slow_start]
    end = [(d, min(v, cruise_kn)) for d, v in _END_STEPS if slow_end]
    ramp = sum(d for d, _ in start) + sum(d for d, _ in end)
    # Short moves squeeze the ramps so that some distance is left at cruise speed.
    scale = min(1.0, 0.8 * length / ramp) if ramp else 1.0
    pieces = [(d * scale, v) for d, v in start]
    cruise = length - ramp * scale
    pieces.append((cruise, cruise_kn))
    pieces.extend((d * scale, v) for d, v in end)
    dist = np.array([d for d, _ in pieces])
    speed = np.array([v for _, v in pieces])
    ok = dist > 0
    dist, speed = dist[ok], speed[ok]
    knot_d = np.concatenate([[0.0], np.cumsum(dist)])
    knot_d[-1] = length
    knot_t = t0_s + np.concatenate([[0.0], np.cumsum(dist / (speed * MPS_PER_KN))])
    return Move(x, y, cum, knot_t, knot_d, speed, status, kind)


@dataclass
class Samples:
    """Reported kinematics of one vessel (parallel arrays)."""

    t_s: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    sog_kn: FloatArray
    cog_deg: FloatArray
    heading_deg: FloatArray
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))


def report_times(
    t0_s: float, t1_s: float, interval_s: float, rng: np.random.Generator
) -> FloatArray:
    """Return whole-second report times in [t0, t1) every ``interval_s`` with a random phase."""
    phase = rng.uniform(0.0, interval_s)
    times = np.arange(t0_s + phase, t1_s, interval_s)
    times = np.floor(times + rng.uniform(-2.0, 2.0, len(times)))
    times = times[(times >= t0_s) & (times < t1_s)]
    return np.unique(times)


def sample_move(move: Move, t_s: FloatArray, rng: np.random.Generator) -> Samples:
    """Return what the vessel reports at ``t_s`` along ``move``."""
    d = np.interp(t_s, move.knot_t_s, move.knot_d_m)
    x = np.interp(d, move.cum_m, move.x_m)
    y = np.interp(d, move.cum_m, move.y_m)
    piece = np.clip(
        np.searchsorted(move.knot_t_s, t_s, side="right") - 1, 0, len(move.speed_kn) - 1
    )
    sog = np.maximum(move.speed_kn[piece] + rng.normal(0.0, 0.15, len(t_s)), 0.0)
    seg = np.clip(np.searchsorted(move.cum_m, d, side="right") - 1, 0, len(move.x_m) - 2)
    course = bearing_deg(np.diff(move.x_m), np.diff(move.y_m))[seg]
    cog = np.mod(course + rng.normal(0.0, 1.5, len(t_s)), 360.0)
    heading = np.mod(np.round(course + rng.normal(0.0, 2.0, len(t_s))), 360.0)
    status = np.full(len(t_s), move.status, dtype=np.uint8)
    return Samples(t_s, x, y, sog, cog, heading, status)


def sample_stay(stay: Stay, t_s: FloatArray, rng: np.random.Generator) -> Samples:
    """Return what the vessel reports at ``t_s`` while holding ``stay``'s point."""
    n = len(t_s)
    x = np.full(n, stay.x_m) + rng.normal(0.0, stay.jitter_m, n)
    y = np.full(n, stay.y_m) + rng.normal(0.0, stay.jitter_m, n)
    heading = np.full(n, float(rng.integers(0, 360)))
    if stay.swing_m > 0:
        # The bow points into the tide, which turns twice a day.
        angle = 2 * np.pi * (t_s - stay.t0_s) / (12.42 * 3600.0) + rng.uniform(0, 2 * np.pi)
        x += stay.swing_m * np.sin(angle)
        y += stay.swing_m * np.cos(angle)
        heading = np.mod(np.round(np.degrees(angle) + 180.0), 360.0)
    if stay.sog_noise_kn > 0:
        sog = np.round(rng.uniform(0.3, stay.sog_noise_kn, n), 1)
    else:
        spread_kn = 0.08 if stay.status == MOORED else 0.15
        sog = np.round(np.abs(rng.normal(0.0, spread_kn, n)), 1).astype(np.float64)
    cog = rng.uniform(0.0, 360.0, n)
    status = np.full(n, stay.status, dtype=np.uint8)
    return Samples(t_s, x, y, sog, cog, heading, status)


def concat_samples(parts: list[Samples]) -> Samples:
    """Return the samples of ``parts`` in one set, ordered by time."""
    if not parts:
        empty = np.zeros(0)
        return Samples(empty, empty, empty, empty, empty, empty, np.zeros(0, dtype=np.uint8))
    out = Samples(
        *(np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS),
    )
    order = np.argsort(out.t_s, kind="stable")
    return Samples(*(getattr(out, name)[order] for name in _FIELDS))


_FIELDS = ("t_s", "x_m", "y_m", "sog_kn", "cog_deg", "heading_deg", "status")


def in_intervals(t_s: FloatArray, intervals: list[tuple[float, float]]) -> np.ndarray:
    """Return a mask of the times that fall inside any [start, end) interval."""
    mask = np.zeros(len(t_s), dtype=bool)
    for start, end in intervals:
        mask |= (t_s >= start) & (t_s < end)
    return mask
