"""What the fleet transmits: position reports at ITU-R M.1371 rates (thinned) and static reports,
only inside the simulated period and never while a transponder is off."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from monitor.simulate.kinematics import (
    AT_ANCHOR,
    MOORED,
    Move,
    Samples,
    concat_samples,
    in_intervals,
    report_times,
    sample_move,
    sample_stay,
)
from monitor.simulate.params import SimulationParams
from monitor.simulate.voyages import Plan, VesselPlan

#: A field value pyais can encode.
AisValue = str | int | float | bool


@dataclass
class PositionReports:
    """Parallel arrays, one entry per transmitted position report."""

    mmsi: NDArray[np.int64]
    t_s: NDArray[np.int64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    sog_kn: NDArray[np.float64]
    cog_deg: NDArray[np.float64]
    heading_deg: NDArray[np.int64]
    status: NDArray[np.int64]
    msg_type: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.mmsi)


@dataclass(frozen=True)
class StaticReport:
    """One static/voyage transmission: ``fields`` for ``pyais.encode_dict``."""

    t_s: int
    mmsi: int
    fields: tuple[tuple[str, AisValue], ...]


def _interval_s(ais_class: str, status: int, params: SimulationParams) -> float:
    if ais_class == "B":
        return (
            params.class_b_s if status not in (AT_ANCHOR, MOORED) else max(params.class_b_s, 180.0)
        )
    if status in (AT_ANCHOR, MOORED):
        return params.class_a_stationary_s
    return params.class_a_moving_s


def _vessel_samples(
    vp: VesselPlan, plan: Plan, params: SimulationParams, rng: np.random.Generator
) -> Samples:
    parts: list[Samples] = []
    for leg in vp.legs:
        t0, t1 = max(leg.t0_s, plan.start_s), min(leg.t1_s, plan.end_s)
        if t1 <= t0:
            continue
        times = report_times(t0, t1, _interval_s(vp.vessel.ais_class, leg.status, params), rng)
        if len(times) == 0:
            continue
        parts.append(
            sample_move(leg, times, rng) if isinstance(leg, Move) else sample_stay(leg, times, rng)
        )
    samples = concat_samples(parts)
    dark = in_intervals(samples.t_s, [(s.start_s, s.end_s) for s in vp.silences])
    if dark.any():
        keep = ~dark
        samples = Samples(*(getattr(samples, f)[keep] for f in _SAMPLE_FIELDS))
    return samples


_SAMPLE_FIELDS = ("t_s", "x_m", "y_m", "sog_kn", "cog_deg", "heading_deg", "status")


def position_reports(
    plan: Plan, params: SimulationParams, rng: np.random.Generator
) -> PositionReports:
    """Return every position report of the period, ordered by time."""
    chunks: list[tuple[int, str, Samples]] = [
        (vp.vessel.mmsi, vp.vessel.ais_class, _vessel_samples(vp, plan, params, rng))
        for vp in plan.vessels
    ]
    t = np.concatenate([c[2].t_s for c in chunks]).astype(np.int64)
    x = np.concatenate([c[2].x_m for c in chunks])
    y = np.concatenate([c[2].y_m for c in chunks])
    lat, lon = plan.projection.to_latlon(x, y)
    mmsi = np.concatenate([np.full(len(c[2].t_s), c[0], dtype=np.int64) for c in chunks])
    class_b = np.concatenate([np.full(len(c[2].t_s), c[1] == "B") for c in chunks])
    msg_type = np.where(class_b, 18, np.where(rng.random(len(t)) < 0.1, 3, 1)).astype(np.int64)
    heading = np.concatenate([c[2].heading_deg for c in chunks]).astype(np.int64) % 360
    # Many class B units have no heading sensor.
    heading = np.where(class_b, 511, heading)
    reports = PositionReports(
        mmsi=mmsi,
        t_s=t,
        lat=np.asarray(lat),
        lon=np.asarray(lon),
        sog_kn=np.round(np.concatenate([c[2].sog_kn for c in chunks]), 1),
        cog_deg=np.round(np.concatenate([c[2].cog_deg for c in chunks]), 1) % 360.0,
        heading_deg=heading,
        status=np.concatenate([c[2].status for c in chunks]).astype(np.int64),
        msg_type=msg_type,
    )
    order = np.argsort(reports.t_s, kind="stable")
    return PositionReports(*(getattr(reports, f)[order] for f in _REPORT_FIELDS))


_REPORT_FIELDS = (
    "mmsi",
    "t_s",
    "lat",
    "lon",
    "sog_kn",
    "cog_deg",
    "heading_deg",
    "status",
    "msg_type",
)


def static_reports(
    plan: Plan, params: SimulationParams, rng: np.random.Generator
) -> list[StaticReport]:
    """Return type 5 (class A) and type 24 A/B (class B) transmissions of the period."""
    out: list[StaticReport] = []
    for vp in plan.vessels:
        v = vp.vessel
        times = report_times(plan.start_s, plan.end_s, params.static_s, rng)
        times = times[~in_intervals(times, [(s.start_s, s.end_s) for s in vp.silences])]
        dims: dict[str, AisValue] = {
            "to_bow": v.to_bow_m,
            "to_stern": v.to_stern_m,
            "to_port": v.to_port_m,
            "to_starboard": v.to_starboard_m,
        }
        voyage_starts = np.array([voy.t_s for voy in vp.voyages])
        for t in times.astype(np.int64).tolist():
            if vp.rename is not None and t >= vp.rename.t_s:
                v = replace(vp.vessel, name=vp.rename.name, callsign=vp.rename.callsign)
            if v.ais_class == "B":
                part_a = (("type", 24), ("mmsi", v.mmsi), ("partno", 0), ("shipname", v.name))
                part_b: tuple[tuple[str, AisValue], ...] = (
                    ("type", 24), ("mmsi", v.mmsi), ("partno", 1), ("ship_type", v.ship_type),
                    ("callsign", v.callsign), *dims.items(),
                )  # fmt: skip
                out.append(StaticReport(t, v.mmsi, part_a))
                out.append(StaticReport(t + 1, v.mmsi, part_b))
                continue
            fields: list[tuple[str, AisValue]] = [
                ("type", 5), ("mmsi", v.mmsi), ("ais_version", 0), ("imo", v.imo or 0),
                ("callsign", v.callsign), ("shipname", v.name), ("ship_type", v.ship_type),
                *dims.items(), ("epfd", 1),
            ]  # fmt: skip
            current = int(np.searchsorted(voyage_starts, t, side="right")) - 1
            if current >= 0:
                voyage = vp.voyages[current]
                eta = np.datetime64(int(voyage.eta_s), "s").astype(object)
                fields += [
                    ("month", eta.month), ("day", eta.day), ("hour", eta.hour),
                    ("minute", eta.minute), ("draught", voyage.draught_m),
                    ("destination", voyage.destination),
                ]  # fmt: skip
            out.append(StaticReport(t, v.mmsi, tuple(fields)))
    return sorted(out, key=lambda r: (r.t_s, r.mmsi))
