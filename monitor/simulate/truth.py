"""Ground truth: port calls and transits timed by exact polygon crossings, silences, meetings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import shapely
from shapely.geometry import LineString, Point

from monitor.core.safe_csv import undo_spreadsheet_safe
from monitor.schema import (
    CALLS_TRUTH_SCHEMA,
    IDENTITY_TRUTH_SCHEMA,
    MEETINGS_TRUTH_SCHEMA,
    SILENCES_TRUTH_SCHEMA,
    TRANSITS_TRUTH_SCHEMA,
    UTC_US,
    VESSELS_TRUTH_SCHEMA,
)
from monitor.simulate.kinematics import Move, Stay
from monitor.simulate.ports import PortModel
from monitor.simulate.voyages import Plan, VesselPlan

#: AIS must be on this long either side of a crossing for the crossing to count as observable.
OBSERVABLE_MARGIN_S = 600.0


@dataclass(frozen=True)
class Visit:
    """One continuous stay inside a port's zones."""

    port_id: str
    entry_s: float
    exit_s: float
    anchorage_s: float
    berth_s: float
    #: False when the vessel was already inside when its plan began.
    entry_known: bool
    #: False when the vessel is still inside when its plan ends.
    exit_known: bool


def _intervals_inside(vp: VesselPlan, port: PortModel) -> list[tuple[float, float]]:
    """Return the time intervals the vessel spends inside the port's zones, in leg order."""
    out: list[tuple[float, float]] = []
    minx, miny, maxx, maxy = port.area.bounds
    for leg in vp.legs:
        if isinstance(leg, Stay):
            if port.area.contains(Point(leg.x_m, leg.y_m)):
                out.append((leg.t0_s, leg.t1_s))
            continue
        if leg.x_m.max() < minx or leg.x_m.min() > maxx:
            continue
        if leg.y_m.max() < miny or leg.y_m.min() > maxy:
            continue
        out.extend(_move_inside(leg, port))
    return out


def _move_inside(move: Move, port: PortModel) -> list[tuple[float, float]]:
    line = LineString(np.column_stack([move.x_m, move.y_m]))
    inter = line.intersection(port.area)
    out: list[tuple[float, float]] = []
    for part in shapely.get_parts(inter):
        if not isinstance(part, LineString) or part.length == 0:
            continue
        coords = shapely.get_coordinates(part)
        d = line.project(shapely.points(coords))
        t = move.time_at(np.array([d.min(), d.max()]))
        out.append((float(t[0]), float(t[1])))
    return out


#: Two stays in one port's zones this close, with no stop between, are one call (an anchorage
#: outside the port polygon, or an approach through the port's own anchorage).
MERGE_GAP_S = 12 * 3600.0


def _one_call(vp: VesselPlan, gap_start_s: float, gap_end_s: float) -> bool:
    if gap_end_s - gap_start_s > MERGE_GAP_S:
        return False
    return not any(
        isinstance(leg, Stay) and leg.t0_s < gap_end_s and leg.t1_s > gap_start_s for leg in vp.legs
    )


def port_visits(vp: VesselPlan, ports: list[PortModel]) -> list[Visit]:
    """Return every visit of the vessel to every port, with time at anchor and at berth."""
    if not vp.legs:
        return []
    plan_t0, plan_t1 = vp.legs[0].t0_s, vp.legs[-1].t1_s
    visits: list[Visit] = []
    for port in ports:
        merged: list[list[float]] = []
        for a, b in sorted(_intervals_inside(vp, port)):
            if merged and (a <= merged[-1][1] + 1.0 or _one_call(vp, merged[-1][1], a)):
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        for a, b in merged:
            anchorage = berth = 0.0
            for leg in vp.legs:
                if isinstance(leg, Stay) and leg.port_id == port.port_id and a <= leg.t0_s < b:
                    if leg.kind == "anchor":
                        anchorage += leg.t1_s - leg.t0_s
                    elif leg.kind == "berth":
                        berth += leg.t1_s - leg.t0_s
            visits.append(Visit(port.port_id, a, b, anchorage, berth, a > plan_t0, b < plan_t1))
    return sorted(visits, key=lambda v: v.entry_s)


def _observable(t_s: float, plan: Plan, silences: list[tuple[float, float]]) -> bool:
    if not plan.start_s + OBSERVABLE_MARGIN_S <= t_s <= plan.end_s - OBSERVABLE_MARGIN_S:
        return False
    return all(not (a - OBSERVABLE_MARGIN_S <= t_s <= b + OBSERVABLE_MARGIN_S) for a, b in silences)


def _visible_s(a: float, b: float, plan: Plan, silences: list[tuple[float, float]]) -> float:
    lo, hi = max(a, plan.start_s), min(b, plan.end_s)
    if hi <= lo:
        return 0.0
    hidden = sum(max(0.0, min(hi, e) - max(lo, s)) for s, e in silences)
    return max(0.0, hi - lo - hidden)


def _us(t_s: float | None) -> int | None:
    return None if t_s is None else round(t_s * 1e6)


@dataclass
class Truth:
    calls: pl.DataFrame
    transits: pl.DataFrame
    silences: pl.DataFrame
    meetings: pl.DataFrame
    vessels: pl.DataFrame
    identity: pl.DataFrame


def build_truth(plan: Plan) -> Truth:
    """Return the ground-truth tables of ``plan``, restricted to its period."""
    calls: list[dict[str, object]] = []
    transits: list[dict[str, object]] = []
    for vp in plan.vessels:
        silences = [(s.start_s, s.end_s) for s in vp.silences]
        for visit in port_visits(vp, plan.ports):
            if visit.exit_s < plan.start_s or visit.entry_s >= plan.end_s:
                continue
            arrival = visit.entry_s if visit.entry_known else None
            departure = visit.exit_s if visit.exit_known else None
            arr_obs = arrival is not None and _observable(arrival, plan, silences)
            dep_obs = departure is not None and _observable(departure, plan, silences)
            if visit.berth_s == 0 and visit.anchorage_s == 0:
                transits.append(
                    {
                        "mmsi": vp.vessel.mmsi,
                        "port_id": visit.port_id,
                        "entry_utc": _us(arrival),
                        "exit_utc": _us(departure),
                        "duration_h": (visit.exit_s - visit.entry_s) / 3600.0,
                        "observable": arr_obs and dep_obs,
                    }
                )
                continue
            if visit.anchorage_s and visit.berth_s:
                kind = "anchorage_then_berth"
            elif visit.berth_s:
                kind = "berth"
            else:
                kind = "anchorage_only"
            calls.append(
                {
                    "mmsi": vp.vessel.mmsi,
                    "vessel_name": vp.vessel.name,
                    "port_id": visit.port_id,
                    "arrival_utc": _us(arrival),
                    "departure_utc": _us(departure),
                    "arrival_observable": arr_obs,
                    "departure_observable": dep_obs,
                    "kind": kind,
                    "anchorage_h": visit.anchorage_s / 3600.0,
                    "berth_h": visit.berth_s / 3600.0,
                    "visible_h": _visible_s(visit.entry_s, visit.exit_s, plan, silences) / 3600.0,
                }
            )
    silences_rows = [
        {
            "mmsi": s.mmsi,
            "start_utc": _us(s.start_s),
            "end_utc": _us(s.end_s),
            "duration_h": (s.end_s - s.start_s) / 3600.0,
            "kind": s.kind,
            "port_id": s.port_id,
        }
        for vp in plan.vessels
        for s in vp.silences
        if s.end_s > plan.start_s and s.start_s < plan.end_s
    ]
    meetings_rows = [
        {
            "mmsi_a": m.mmsi_a,
            "mmsi_b": m.mmsi_b,
            "start_utc": _us(m.start_s),
            "end_utc": _us(m.end_s),
            "duration_h": (m.end_s - m.start_s) / 3600.0,
            "lat": m.lat,
            "lon": m.lon,
            "dark_mmsi": m.dark_mmsi,
            "kind": m.kind,
        }
        for m in plan.meetings
    ]
    vessels_rows = [
        {
            "mmsi": vp.vessel.mmsi,
            "imo": vp.vessel.imo,
            "vessel_name": vp.vessel.name,
            "callsign": vp.vessel.callsign,
            "ship_type": vp.vessel.ship_type,
            "ais_class": vp.vessel.ais_class,
            "role": vp.vessel.role,
        }
        for vp in plan.vessels
    ]
    return Truth(
        calls=_frame(calls, CALLS_TRUTH_SCHEMA).sort("arrival_utc", "mmsi", nulls_last=False),
        transits=_frame(transits, TRANSITS_TRUTH_SCHEMA).sort("entry_utc", "mmsi"),
        silences=_frame(silences_rows, SILENCES_TRUTH_SCHEMA).sort("start_utc", "mmsi"),
        meetings=_frame(meetings_rows, MEETINGS_TRUTH_SCHEMA),
        vessels=_frame(vessels_rows, VESSELS_TRUTH_SCHEMA),
        identity=_frame(
            [
                {
                    "kind": t.kind,
                    "mmsi": t.mmsi,
                    "other_mmsi": t.other_mmsi,
                    "start_utc": _us(t.start_s),
                    "end_utc": _us(t.end_s),
                    "detail": t.detail,
                }
                for t in plan.identity
            ],
            IDENTITY_TRUTH_SCHEMA,
        ),
    )


def truth_frame(
    rows: Sequence[Mapping[str, object]], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """Return truth rows (times in microseconds) as a frame of ``schema``."""
    return _frame(rows, schema)


def _frame(rows: Sequence[Mapping[str, object]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    raw = {name: (pl.Int64() if dtype == UTC_US else dtype) for name, dtype in schema.items()}
    frame = pl.DataFrame(rows, schema=raw, orient="row") if rows else pl.DataFrame(schema=raw)
    return frame.with_columns(
        pl.col(name).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        for name, dtype in schema.items()
        if dtype == UTC_US
    )


def read_truth_csv(path: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Return a truth CSV (as ``monitor.core.safe_csv.write_csv`` wrote it) with its schema."""
    text_schema = {
        name: (pl.String() if dtype == UTC_US else dtype) for name, dtype in schema.items()
    }
    frame = undo_spreadsheet_safe(pl.read_csv(path, schema=text_schema))
    return frame.with_columns(
        pl.col(name).str.to_datetime(time_zone="UTC", time_unit="us")
        for name, dtype in schema.items()
        if dtype == UTC_US
    )
