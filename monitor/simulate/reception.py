"""What the feed hears: coastal receivers near ports (with outages), satellite passes farther
out, and a receiver clock that lags and steps back, at the rates of a ``ReceptionParams``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from monitor.simulate.kinematics import in_intervals
from monitor.simulate.nmea_writer import Lines
from monitor.simulate.params import ReceptionParams
from monitor.simulate.transmissions import PositionReports, StaticReport
from monitor.simulate.voyages import Plan

DAY_S = 86_400.0
#: How far the receiver's clock steps back.
CLOCK_STEP_S = 120


def _windows(
    start_s: float,
    end_s: float,
    every_s: tuple[float, float],
    length_s: tuple[float, float],
    rng: np.random.Generator,
) -> list[tuple[float, float]]:
    """Return [start, end) windows recurring every ``every_s`` (drawn) for ``length_s``."""
    out: list[tuple[float, float]] = []
    t = start_s - float(rng.uniform(*every_s))
    while t < end_s:
        out.append((t, t + float(rng.uniform(*length_s))))
        t += float(rng.uniform(*every_s))
    return out


#: The receiver that hears everything when the scenario has no coverage limits.
EVERYWHERE = b"rx1"
#: The station id of the satellite feed: a provider delivers what all its satellites hear as
#: one feed (exactEarth's ``s:rEV02``, for one).
SATELLITE = b"sat"


def coastal_receiver(port_id: str) -> bytes:
    """Return the station id of the coastal receiver of port ``port_id``."""
    return b"rx-" + port_id.encode("ascii")


@dataclass
class Heard:
    """Which position reports the feed hears and by which receiver, and the coastal receivers'
    outages."""

    sent: PositionReports
    #: Per report sent; None when everything is heard.
    mask: np.ndarray | None
    outages: list[dict[str, object]]
    #: Per report sent, the station id of the receiver that heard it (None: ``EVERYWHERE``).
    receiver: np.ndarray | None = None

    def positions(self) -> PositionReports:
        """Return the position reports heard."""
        if self.mask is None:
            return self.sent
        fields = dataclasses.fields(PositionReports)
        return PositionReports(*(getattr(self.sent, f.name)[self.mask] for f in fields))

    def receivers(self) -> list[bytes]:
        """Return the station id of the receiver of each position report heard."""
        if self.receiver is None:
            return [EVERYWHERE] * self.count(np.arange(len(self.sent)))
        heard = self.receiver if self.mask is None else self.receiver[self.mask]
        return list(heard.tolist())

    def count(self, rows: np.ndarray) -> int:
        """Return how many of the reports sent at ``rows`` are heard."""
        return int(rows.size if self.mask is None else self.mask[rows].sum())

    def statics(self, statics: list[StaticReport]) -> tuple[list[StaticReport], list[bytes]]:
        """Return the static reports whose vessel's nearest position report in time was heard,
        and the receiver of each (that report's)."""
        if self.mask is None:
            return statics, [EVERYWHERE] * len(statics)
        return _nearest_heard(self.sent, self.mask, self.receiver, statics)


def hear(
    reports: PositionReports, plan: Plan, params: ReceptionParams, rng: np.random.Generator
) -> Heard:
    """Return what the feed hears of ``reports`` (sent, undamaged).

    Within ``coverage_km`` of a port its coastal receiver hears every report, except during its
    outages (where two ports' coverage overlaps, the first port's receiver that works hears
    it); elsewhere (and then) a satellite hears a share of the reports sent during a pass.
    """
    if params.coverage_km is None:
        return Heard(reports, None, [])
    days = (plan.end_s - plan.start_s) / DAY_S
    x, y = plan.projection.to_xy(reports.lat, reports.lon)
    t_s = reports.t_s.astype(np.float64)
    coastal = np.zeros(len(reports), dtype=bool)
    receiver = np.full(len(reports), b"", dtype="S24")
    outages: list[dict[str, object]] = []
    for port in plan.ports:
        minx, miny, maxx, maxy = port.area.bounds
        dx = np.maximum(np.maximum(minx - x, x - maxx), 0.0)
        dy = np.maximum(np.maximum(miny - y, y - maxy), 0.0)
        near = np.hypot(dx, dy) <= params.coverage_km * 1000.0
        down: list[tuple[float, float]] = []
        for _ in range(int(rng.poisson(params.outages_per_port_day * days))):
            start = float(rng.uniform(plan.start_s, plan.end_s))
            down.append((start, start + float(rng.uniform(1.0, 6.0)) * 3600.0))
            outages.append(
                {
                    "port_id": port.port_id,
                    "receiver": coastal_receiver(port.port_id).decode("ascii"),
                    "start_utc": round(down[-1][0] * 1e6),
                    "end_utc": round(down[-1][1] * 1e6),
                }
            )
        hears = near & ~in_intervals(t_s, down) & ~coastal
        receiver[hears] = coastal_receiver(port.port_id)
        coastal |= hears
    passes = _windows(
        plan.start_s,
        plan.end_s,
        (params.pass_every_min[0] * 60.0, params.pass_every_min[1] * 60.0),
        (params.pass_min[0] * 60.0, params.pass_min[1] * 60.0),
        rng,
    )
    satellite = in_intervals(t_s, passes) & (rng.random(len(reports)) < params.pass_share)
    receiver[satellite & ~coastal] = SATELLITE
    sent = PositionReports(*(getattr(reports, f.name).copy() for f in dataclasses.fields(reports)))
    return Heard(sent, coastal | satellite, outages, receiver)


def _nearest_heard(
    reports: PositionReports,
    heard: np.ndarray,
    receiver: np.ndarray | None,
    statics: list[StaticReport],
) -> tuple[list[StaticReport], list[bytes]]:
    """Return the static reports whose vessel's nearest position report in time was heard,
    and the receiver of each (that report's)."""
    order = np.lexsort((reports.t_s, reports.mmsi))
    mmsi, t_s, ok = reports.mmsi[order], reports.t_s[order], heard[order]
    by = np.full(len(order), EVERYWHERE, dtype="S24") if receiver is None else receiver[order]
    out: list[StaticReport] = []
    receivers: list[bytes] = []
    for report in statics:
        lo = int(np.searchsorted(mmsi, report.mmsi, side="left"))
        hi = int(np.searchsorted(mmsi, report.mmsi, side="right"))
        if lo == hi:
            continue
        k = lo + int(np.searchsorted(t_s[lo:hi], report.t_s))
        near = [j for j in (k - 1, k) if lo <= j < hi]
        nearest = min(near, key=lambda j: abs(int(t_s[j]) - report.t_s))
        if ok[nearest]:
            out.append(report)
            receivers.append(bytes(by[nearest]))
    return out, receivers


def shift_clock(
    lines: Lines,
    params: ReceptionParams,
    start_s: float,
    end_s: float,
    rng: np.random.Generator,
    *,
    n_first: int,
) -> list[dict[str, object]]:
    """Make the logging clock of the first receptions (``lines[:n_first]``; the rest are
    copies heard by second receivers) late by up to ``clock_jitter_s`` for position reports,
    and ``CLOCK_STEP_S`` early during clock steps (in place); return the steps."""
    if params.clock_steps_per_day <= 0 and params.clock_jitter_s <= 0:
        return []
    logged = (np.arange(len(lines)) < n_first) & (lines.group < 0)
    steps: list[dict[str, object]] = []
    days = (end_s - start_s) / DAY_S
    for _ in range(int(rng.poisson(params.clock_steps_per_day * days))):
        start = float(rng.uniform(start_s, end_s))
        end = start + float(rng.uniform(20.0, 60.0)) * 60.0
        stepped = logged & (lines.t_s >= start) & (lines.t_s < end)
        lines.t_s[stepped] -= CLOCK_STEP_S
        steps.append(
            {
                "start_utc": round(start * 1e6),
                "end_utc": round(end * 1e6),
                "offset_s": -CLOCK_STEP_S,
            }
        )
    if params.clock_jitter_s > 0:
        lag = rng.integers(0, int(params.clock_jitter_s) + 1, int(logged.sum()))
        lines.t_s[logged] += lag
    return steps
