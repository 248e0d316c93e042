"""Scenario planning: each vessel's legs (berth stays, anchorage waits, voyages, transits, fishing,
loitering, meetings at sea) and the periods its AIS is off."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Point
from shapely.ops import nearest_points

from monitor.simulate.fleet import Vessel, make_fleet
from monitor.simulate.geo import Projection
from monitor.simulate.harbour import HARBOUR_ROLES, plan_crew_boat, plan_ferry, plan_trader
from monitor.simulate.identities import IdentityTruth, Rename, disguise
from monitor.simulate.kinematics import (
    AT_ANCHOR,
    FISHING,
    MOORED,
    UNDER_WAY,
    Leg,
    Move,
    Stay,
    make_move,
)
from monitor.simulate.params import SimulationParams
from monitor.simulate.ports import PortModel
from monitor.simulate.seaways import SeaGraph

HOUR_S = 3600.0


@dataclass(frozen=True)
class Silence:
    """A planned period with the AIS transponder off."""

    mmsi: int
    start_s: float
    end_s: float
    kind: str  # dark_arrival | dark_departure | dark_at_sea | meeting
    port_id: str | None = None


@dataclass(frozen=True)
class VoyageData:
    """Voyage-related static data a vessel broadcasts from ``t_s`` on (AIS type 5)."""

    t_s: float
    destination: str
    eta_s: float
    draught_m: float


#: How the pairs of meeting vessels meet, in turn (see :meth:`Planner.meeting`).
MEETING_KINDS = ("visible", "partly_dark", "dark")


@dataclass(frozen=True)
class Meeting:
    """Two vessels side by side at sea."""

    mmsi_a: int
    mmsi_b: int
    start_s: float
    end_s: float
    lat: float
    lon: float
    #: The vessel with AIS off during the meeting (None: both on).
    dark_mmsi: int | None
    #: One of MEETING_KINDS.
    kind: str


@dataclass
class VesselPlan:
    vessel: Vessel
    legs: list[Leg] = field(default_factory=list)
    silences: list[Silence] = field(default_factory=list)
    voyages: list[VoyageData] = field(default_factory=list)
    rename: Rename | None = None

    @property
    def end_s(self) -> float:
        return self.legs[-1].t1_s if self.legs else -math.inf


@dataclass
class Plan:
    """Every vessel's plan over [begin_s, horizon_s] for the period [start_s, end_s)."""

    vessels: list[VesselPlan]
    meetings: list[Meeting]
    ports: list[PortModel]
    projection: Projection
    begin_s: float
    start_s: float
    end_s: float
    #: Identity events the fleet's disguises should raise.
    identity: list[IdentityTruth] = field(default_factory=list)


def _roles(n: int, params: SimulationParams) -> list[str]:
    # A meeting takes two vessels: small fleets get fewer pairs, so most vessels still trade.
    pairs = min(params.meeting_pairs, n // 8)
    rest = n - 2 * pairs
    transit = round(params.share_transit * rest)
    fishing = round(params.share_fishing * rest)
    loiterer = round(params.share_loiterer * rest)
    harbour = {
        "ferry": params.ferries,
        "crewboat": params.crew_boats,
        "unheard_berth": params.unheard_berth,
        "noisy_sog": params.noisy_sog,
        "silent_in_port": params.silent_in_port,
    }
    cargo = max(rest - transit - fishing - loiterer - sum(harbour.values()), 0)
    return (
        ["meeting"] * (2 * pairs)
        + ["cargo"] * cargo
        + ["transit"] * transit
        + ["fishing"] * fishing
        + ["loiterer"] * loiterer
        + [role for role, count in harbour.items() for _ in range(count)]
    )


class Planner:
    """Builds plans; one instance per simulation, all randomness from one Generator."""

    def __init__(
        self,
        ports: list[PortModel],
        graph: SeaGraph,
        projection: Projection,
        params: SimulationParams,
        rng: np.random.Generator,
        begin_s: float,
        horizon_s: float,
    ) -> None:
        self.ports = ports
        self.graph = graph
        self.proj = projection
        self.params = params
        self.rng = rng
        self.begin_s = begin_s
        self.horizon_s = horizon_s
        self.sea_points = self._sea_points()

    # --- geometry ---------------------------------------------------------------------------

    def _latlon(self, xy: tuple[float, float]) -> tuple[float, float]:
        lat, lon = self.proj.to_latlon(np.array(xy[0]), np.array(xy[1]))
        return float(lat), float(lon)

    def _path(
        self, origin: tuple[float, float], target: tuple[float, float]
    ) -> tuple[list[float], list[float]]:
        waypoints = self.graph.route(self._latlon(origin), self._latlon(target))
        xs, ys = [origin[0]], [origin[1]]
        for lat, lon in waypoints:
            x, y = self.proj.point(lat, lon)
            xs.append(x)
            ys.append(y)
        xs.append(target[0])
        ys.append(target[1])
        return xs, ys

    def _gate(self, port: PortModel) -> tuple[float, float]:
        near = self.graph.nearest(port.anchor_latlon)
        if near is None or near[1] > 80.0:
            point = port.area.representative_point()
            return point.x, point.y
        return self.proj.point(*self.graph.nodes[near[0]])

    def _far_from_ports(self, xy: tuple[float, float], min_m: float) -> bool:
        return all(port.area.distance(Point(xy)) > min_m for port in self.ports)

    def _sea_points(self) -> list[tuple[float, float]]:
        """Open-water spots for fishing, loitering and meetings, at least 20 km from any port."""
        # Only waypoints of the configured region: a config elsewhere fishes off its own ports.
        candidates = [
            xy
            for xy in (self.proj.point(*where) for where in self.graph.nodes.values())
            if any(port.area.distance(Point(xy)) < 300_000.0 for port in self.ports)
        ]
        if not candidates:
            for port in self.ports:
                c = port.area.centroid
                candidates.append((c.x + 40_000.0, c.y - 40_000.0))
        spots = [p for p in candidates if self._far_from_ports(p, 20_000.0)]
        if not spots:
            c = self.ports[0].area.centroid
            spots = [(c.x + 60_000.0, c.y - 60_000.0)]
        return spots

    def _sea_spot(self, spread_m: float) -> tuple[float, float]:
        for _ in range(50):
            base = self.sea_points[int(self.rng.integers(len(self.sea_points)))]
            angle = self.rng.uniform(0, 2 * math.pi)
            r = self.rng.uniform(0.3, 1.0) * spread_m
            xy = (base[0] + r * math.cos(angle), base[1] + r * math.sin(angle))
            if self._far_from_ports(xy, 20_000.0):
                return xy
        return self.sea_points[0]

    def _loguniform(self, bounds: tuple[float, float]) -> float:
        return math.exp(self.rng.uniform(math.log(bounds[0]), math.log(bounds[1])))

    # --- legs ----------------------------------------------------------------------------------

    def _sail(
        self,
        vp: VesselPlan,
        t_s: float,
        origin: tuple[float, float],
        target: tuple[float, float],
        *,
        kind: str = "voyage",
        cruise_kn: float | None = None,
        route: bool = True,
        slow_start: bool = True,
        slow_end: bool = True,
    ) -> Move:
        xs, ys = (
            self._path(origin, target)
            if route
            else ([origin[0], target[0]], [origin[1], target[1]])
        )
        speed = cruise_kn if cruise_kn is not None else self.rng.uniform(*self.params.cruise_kn)
        move = make_move(
            t_s,
            np.array(xs),
            np.array(ys),
            speed,
            slow_start=slow_start,
            slow_end=slow_end,
            kind=kind,
        )
        vp.legs.append(move)
        return move

    def _silence(
        self, vp: VesselPlan, start: float, end: float, kind: str, port: str | None
    ) -> bool:
        if end - start < 0.5 * HOUR_S:
            return False
        for s in vp.silences:
            if start < s.end_s + HOUR_S and s.start_s < end + HOUR_S:
                return False
        vp.silences.append(Silence(vp.vessel.mmsi, start, end, kind, port))
        return True

    def _next_port(self, here: PortModel | None) -> PortModel:
        others = [p for p in self.ports if here is None or p.port_id != here.port_id] or self.ports
        if here is not None and here.country:
            abroad = [p for p in others if p.country and p.country != here.country]
            if abroad and self.rng.random() < 0.8:
                others = abroad
        return others[int(self.rng.integers(len(others)))]

    # --- roles ---------------------------------------------------------------------------------

    def cargo(
        self,
        vp: VesselPlan,
        t_s: float,
        xy: tuple[float, float],
        port: PortModel | None,
        *,
        first_stay_share: float = 1.0,
    ) -> None:
        """Plan calls until the horizon, from berth ``xy`` in ``port`` (or at sea if None)."""
        p = self.params
        last_berth: Stay | None = None
        while t_s < self.horizon_s:
            if port is not None:
                stay_s = self._loguniform(p.berth_h) * HOUR_S * first_stay_share
                first_stay_share = 1.0
                last_berth = Stay(t_s, t_s + stay_s, xy[0], xy[1], MOORED, "berth", port.port_id)
                vp.legs.append(last_berth)
                t_s += stay_s
            dest = self._next_port(port)
            anchor = (
                dest.anchorage_point(self.rng) if self.rng.random() < p.anchorage_wait_p else None
            )
            berth = dest.berth_point(self.rng, self._gate(dest))
            move = self._sail(vp, t_s, xy, anchor or berth)
            laden = self.rng.random() < 0.6
            draught = self.rng.uniform(6.0, 11.0) if laden else self.rng.uniform(3.5, 6.0)
            vp.voyages.append(VoyageData(t_s, dest.name.upper()[:20], move.t1_s, round(draught, 1)))
            if (
                last_berth is not None
                and port is not None
                and self.rng.random() < p.dark_departure_p
            ):
                span = last_berth.t1_s - last_berth.t0_s
                off = last_berth.t1_s - self.rng.uniform(0.2, 0.6) * span
                # Evasive silences last hours to a day, longer than a detector's gap threshold.
                on = move.t0_s + min(
                    self.rng.uniform(5, 24) * HOUR_S, 0.7 * (move.t1_s - move.t0_s)
                )
                self._silence(vp, off, on, "dark_departure", port.port_id)
            duration = move.t1_s - move.t0_s
            if duration > 24 * HOUR_S and self.rng.random() < p.dark_at_sea_p:
                off = move.t0_s + self.rng.uniform(0.25, 0.5) * duration
                on = min(off + self.rng.uniform(6, 20) * HOUR_S, move.t1_s - 3 * HOUR_S)
                self._silence(vp, off, on, "dark_at_sea", None)
            t_s = move.t1_s
            arrival_leg_t0 = t_s
            first_stop: Stay
            if anchor is not None:
                wait_s = self._loguniform(p.anchorage_h) * HOUR_S
                first_stop = Stay(
                    t_s,
                    t_s + wait_s,
                    anchor[0],
                    anchor[1],
                    AT_ANCHOR,
                    "anchor",
                    dest.port_id,
                    jitter_m=4.0,
                    swing_m=60.0,
                )
                vp.legs.append(first_stop)
                shift = self._sail(
                    vp, t_s + wait_s, anchor, berth, kind="shift", cruise_kn=5.0, route=False
                )
                t_s = shift.t1_s
            if self.rng.random() < p.dark_arrival_p:
                stop_t0 = arrival_leg_t0
                stop_span = (vp.legs[-2].t1_s - stop_t0) if anchor is not None else 6 * HOUR_S
                off = move.t1_s - min(self.rng.uniform(5, 24) * HOUR_S, 0.7 * duration)
                on = stop_t0 + min(self.rng.uniform(0.3, 3) * HOUR_S, 0.5 * stop_span)
                self._silence(vp, off, on, "dark_arrival", dest.port_id)
            xy, port = berth, dest

    def transit(self, vp: VesselPlan) -> None:
        """Plan passes through port areas at cruise speed, never stopping."""
        xy = self._sea_spot(10_000.0)
        t_s = self.begin_s
        while t_s < self.horizon_s:
            port = self.ports[int(self.rng.integers(len(self.ports)))]
            gx, gy = self._gate(port)
            edge = nearest_points(port.area, Point(gx, gy))[0]
            dx, dy = edge.x - gx, edge.y - gy
            norm = math.hypot(dx, dy) or 1.0
            ux, uy = dx / norm, dy / norm
            inside = (edge.x + 1200.0 * ux, edge.y + 1200.0 * uy)
            if not port.area.contains(Point(inside)):
                inside = (edge.x + 200.0 * ux, edge.y + 200.0 * uy)
            side = 6000.0
            a = (gx + side * uy, gy - side * ux)
            c = (gx - side * uy, gy + side * ux)
            xs, ys = self._path(xy, a)
            xs += [inside[0], c[0]]
            ys += [inside[1], c[1]]
            speed = self.rng.uniform(*self.params.cruise_kn)
            move = make_move(
                t_s,
                np.array(xs),
                np.array(ys),
                speed,
                slow_start=False,
                slow_end=False,
                kind="transit",
            )
            vp.legs.append(move)
            t_s, xy = move.t1_s, c

    def fishing(self, vp: VesselPlan) -> None:
        """Plan trawling zig-zags and drifts on one fishing ground."""
        centre = self._sea_spot(30_000.0)
        t_s = self.begin_s
        xy = centre
        while t_s < self.horizon_s:
            n = int(self.rng.integers(3, 8))
            pts = self.rng.normal(0.0, 5000.0, (n, 2)) + np.array(centre)
            xs = np.concatenate([[xy[0]], pts[:, 0]])
            ys = np.concatenate([[xy[1]], pts[:, 1]])
            move = make_move(
                t_s,
                xs,
                ys,
                self.rng.uniform(2.5, 5.0),
                slow_start=False,
                slow_end=False,
                status=FISHING,
                kind="fishing",
            )
            vp.legs.append(move)
            xy = (float(xs[-1]), float(ys[-1]))
            drift_s = self.rng.uniform(1, 4) * HOUR_S
            vp.legs.append(
                Stay(move.t1_s, move.t1_s + drift_s, xy[0], xy[1], FISHING, "drift", jitter_m=40.0)
            )
            t_s = move.t1_s + drift_s

    def loiterer(self, vp: VesselPlan) -> None:
        """Plan long slow drifts and anchored waits off the coast, outside any port."""
        centre = self._sea_spot(20_000.0)
        t_s, xy = self.begin_s, centre
        while t_s < self.horizon_s:
            target = (
                centre[0] + self.rng.normal(0, 3000.0),
                centre[1] + self.rng.normal(0, 3000.0),
            )
            move = self._sail(
                vp,
                t_s,
                xy,
                target,
                kind="loiter",
                cruise_kn=self.rng.uniform(0.6, 2.0),
                route=False,
                slow_start=False,
                slow_end=False,
            )
            wait_s = self.rng.uniform(4, 24) * HOUR_S
            status = AT_ANCHOR if self.rng.random() < 0.4 else UNDER_WAY
            vp.legs.append(
                Stay(
                    move.t1_s,
                    move.t1_s + wait_s,
                    target[0],
                    target[1],
                    status,
                    "loiter",
                    jitter_m=30.0,
                    swing_m=50.0 if status == AT_ANCHOR else 0.0,
                )
            )
            t_s, xy = move.t1_s + wait_s, target

    def meeting(
        self, a: VesselPlan, b: VesselPlan, start_s: float, end_s: float, kind: str
    ) -> Meeting:
        """Plan two vessels sailing from ports to one sea spot and lying together.

        ``kind`` is MEETING_KINDS' ``visible`` (both AIS on, the meeting across a midnight UTC),
        ``partly_dark`` (b switches off after arriving at the spot and on again before leaving)
        or ``dark`` (b is dark from before it arrives until after it leaves: no feed shows it).
        """
        spot = self._sea_spot(25_000.0)
        meet_s = start_s + self.rng.uniform(0.25, 0.75) * (end_s - start_s)
        hold_s = self.rng.uniform(3, 10) * HOUR_S
        if kind == "partly_dark":
            hold_s += 5 * HOUR_S
        elif kind == "visible":
            # Both arrive some hours before a midnight and leave after it.
            midnight = math.ceil(meet_s / 86_400.0) * 86_400.0
            if midnight + hold_s > end_s:
                midnight -= 86_400.0
            meet_s = max(midnight - self.rng.uniform(0.3, 0.6) * hold_s, start_s + HOUR_S)
        times: list[tuple[float, float]] = []
        for index, vp in enumerate((a, b)):
            port = self.ports[int(self.rng.integers(len(self.ports)))]
            berth = port.berth_point(self.rng, self._gate(port))
            here = (spot[0] + 80.0 * index, spot[1] + 40.0 * index)
            xs, ys = self._path(berth, here)
            probe = make_move(0.0, np.array(xs), np.array(ys), 11.0)
            arrive = meet_s + self.rng.uniform(0, 0.5) * HOUR_S * index
            depart = max(self.begin_s + HOUR_S, arrive - probe.t1_s)
            vp.legs.append(
                Stay(self.begin_s, depart, berth[0], berth[1], MOORED, "berth", port.port_id)
            )
            move = make_move(depart, np.array(xs), np.array(ys), 11.0, kind="voyage")
            vp.legs.append(move)
            leave = move.t1_s + hold_s - 0.3 * HOUR_S * index
            vp.legs.append(
                Stay(move.t1_s, leave, here[0], here[1], UNDER_WAY, "meet", jitter_m=8.0)
            )
            times.append((move.t1_s, leave))
            self.cargo(vp, leave, here, None)
            if index == 1 and kind != "visible":
                after = next((leg for leg in vp.legs if leg.t0_s >= leave), None)
                if kind == "dark":
                    off = max(move.t0_s + HOUR_S, move.t1_s - self.rng.uniform(2, 5) * HOUR_S)
                    on = leave + self.rng.uniform(2, 5) * HOUR_S
                else:
                    together = max(t[0] for t in times)
                    off = together + self.rng.uniform(0.5, 1.0) * HOUR_S
                    on = leave - self.rng.uniform(0.5, 1.0) * HOUR_S
                if after is not None:
                    on = min(on, after.t1_s - HOUR_S)
                vp.silences = [
                    s for s in vp.silences if s.end_s + HOUR_S < off or s.start_s > on + HOUR_S
                ]
                vp.silences.insert(0, Silence(vp.vessel.mmsi, off, on, "meeting", None))
        lat, lon = self._latlon(spot)
        return Meeting(
            a.vessel.mmsi,
            b.vessel.mmsi,
            max(t[0] for t in times),
            min(t[1] for t in times),
            lat,
            lon,
            None if kind == "visible" else b.vessel.mmsi,
            kind,
        )


def plan_simulation(
    ports: list[PortModel],
    graph: SeaGraph,
    projection: Projection,
    params: SimulationParams,
    *,
    vessels: int,
    start_s: float,
    end_s: float,
    rng: np.random.Generator,
) -> Plan:
    """Return the plans of ``vessels`` vessels covering [start_s, end_s) and a warm-up before it."""
    begin_s = start_s - params.warmup_h * HOUR_S
    horizon_s = end_s + 6 * HOUR_S
    planner = Planner(ports, graph, projection, params, rng, begin_s, horizon_s)
    fleet = disguise(make_fleet(_roles(vessels, params), rng), params, rng, start_s, end_s)
    plans = [VesselPlan(v, rename=fleet.renames.get(i)) for i, v in enumerate(fleet.fleet)]
    meetings: list[Meeting] = []
    meeting_plans = [vp for vp in plans if vp.vessel.role == "meeting"]
    for k, (a, b) in enumerate(zip(meeting_plans[::2], meeting_plans[1::2], strict=True)):
        kind = MEETING_KINDS[k % len(MEETING_KINDS)]
        meetings.append(planner.meeting(a, b, start_s, end_s, kind))
    for vp in plans:
        role = vp.vessel.role
        if role == "cargo":
            port = ports[int(rng.integers(len(ports)))]
            berth = port.berth_point(rng, planner._gate(port))
            planner.cargo(vp, begin_s, berth, port, first_stay_share=float(rng.random()))
        elif role == "transit":
            planner.transit(vp)
        elif role == "fishing":
            planner.fishing(vp)
        elif role == "loiterer":
            planner.loiterer(vp)
        elif role == "ferry":
            plan_ferry(planner, vp)
        elif role == "crewboat":
            plan_crew_boat(planner, vp)
        elif role in HARBOUR_ROLES:
            plan_trader(planner, vp)
    return Plan(plans, meetings, ports, projection, begin_s, start_s, end_s, fleet.truth)
