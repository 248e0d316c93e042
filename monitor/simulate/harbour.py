"""Harbour traffic as real reception shows it: the patterns that naive port-call rules get wrong.

* ``ferry``: a fast ferry shuttling between two neighbouring ports at 25-30 kn, docking briefly
  by day and overnight at home, where its docking is unheard (out of the receivers' reach): it
  is heard arriving and leaving at speed, often only while crossing the port's anchorage.
* ``crewboat``: a crew boat running from its port to oil platforms 5-20 km off, holding
  station there for an hour or two, back to its berth, several times a day.
* ``unheard_berth``: a cargo ship that crosses the port's anchorage area under way to a berth
  it reaches unheard, and leaves the same way; on some calls it is heard entering and leaving
  the basin, on others only crossing the anchorage.
* ``noisy_sog``: a cargo ship whose GPS reports 0.3-3 kn while it is moored or at anchor.
* ``silent_in_port``: a cargo ship that stays alongside for one to four days and goes silent
  there for most of it (22-96 h).

Each is planned with the :class:`monitor.simulate.voyages.Planner` of the simulation, from its
one random generator; the ground truth comes from the legs and silences as for every vessel.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from shapely.geometry import Point

from monitor.simulate.kinematics import AT_ANCHOR, MOORED, UNDER_WAY, Stay
from monitor.simulate.ports import PortModel

if TYPE_CHECKING:
    from monitor.simulate.voyages import Planner, VesselPlan

HOUR_S = 3600.0
#: Roles planned here.
HARBOUR_ROLES = ("ferry", "crewboat", "unheard_berth", "noisy_sog", "silent_in_port")
#: Ferries link ports this far apart (km between their zones).
FERRY_KM = (8.0, 80.0)


def _ferry_ports(planner: Planner) -> tuple[PortModel, PortModel]:
    pairs = [
        (a, b)
        for i, a in enumerate(planner.ports)
        for b in planner.ports[i + 1 :]
        if FERRY_KM[0] * 1000 <= a.area.distance(b.area) <= FERRY_KM[1] * 1000
    ]
    if not pairs:
        ordered = sorted(planner.ports, key=lambda p: p.port_id)
        return ordered[0], ordered[-1]
    a, b = pairs[int(planner.rng.integers(len(pairs)))]
    return (a, b) if planner.rng.random() < 0.5 else (b, a)


def plan_ferry(planner: Planner, vp: VesselPlan) -> None:
    """Plan days of round trips from a home port; overnight docking there is unheard."""
    rng = planner.rng
    home, away = _ferry_ports(planner)
    home_berth = home.berth_point(rng, planner._gate(home))
    away_berth = away.berth_point(rng, planner._gate(away))
    # Inbound to the home port across its anchorage area, as ferries cross outer anchorages.
    via = home.anchorage_point(rng)
    speed = float(rng.uniform(25.0, 30.0))
    fast = {"kind": "ferry", "cruise_kn": speed, "slow_start": False, "slow_end": False}
    day = math.floor(planner.begin_s / 86400.0) * 86400.0
    t_s = planner.begin_s
    while t_s < planner.horizon_s:
        leave = max(t_s, day + float(rng.uniform(5.5, 7.0)) * HOUR_S)
        vp.legs.append(Stay(t_s, leave, *home_berth, MOORED, "berth", home.port_id))
        if t_s > planner.begin_s:
            # Unheard from a few minutes before docking to a few minutes after leaving.
            quiet = (t_s - float(rng.uniform(3, 8)) * 60.0, leave + float(rng.uniform(3, 8)) * 60.0)
            planner._silence(vp, *quiet, "unheard_berth", home.port_id)
        t_s = leave
        trips = int(rng.integers(2, 4))
        for trip in range(trips):
            out = planner._sail(vp, t_s, home_berth, away_berth, **fast)  # type: ignore[arg-type]
            dock = out.t1_s + float(rng.uniform(0.5, 1.0)) * HOUR_S
            vp.legs.append(Stay(out.t1_s, dock, *away_berth, MOORED, "berth", away.port_id))
            back = planner._sail(vp, dock, away_berth, via or home_berth, **fast)  # type: ignore[arg-type]
            if via is not None:
                back = planner._sail(vp, back.t1_s, via, home_berth, route=False, **fast)  # type: ignore[arg-type]
            t_s = back.t1_s
            if trip < trips - 1:
                turn = t_s + float(rng.uniform(1.0, 2.0)) * HOUR_S
                vp.legs.append(Stay(t_s, turn, *home_berth, MOORED, "berth", home.port_id))
                t_s = turn
        day += 86400.0


def _platforms(planner: Planner, port: PortModel, n: int) -> list[tuple[float, float]]:
    """Return ``n`` spots 5-20 km off ``port`` towards the sea, 2 km or more from any port."""
    rng = planner.rng
    gate = planner._gate(port)
    centre = port.area.representative_point()
    base = math.atan2(gate[1] - centre.y, gate[0] - centre.x)
    edge = port.area.boundary.interpolate(port.area.boundary.project(Point(gate)))
    spots: list[tuple[float, float]] = []
    for _ in range(200):
        if len(spots) == n:
            break
        angle = base + float(rng.uniform(-0.8, 0.8))
        reach = float(rng.uniform(5000.0, 20000.0))
        xy = (edge.x + reach * math.cos(angle), edge.y + reach * math.sin(angle))
        if planner._far_from_ports(xy, 2000.0):
            spots.append(xy)
    return spots or [(edge.x + 12000.0 * math.cos(base), edge.y + 12000.0 * math.sin(base))]


def plan_crew_boat(planner: Planner, vp: VesselPlan) -> None:
    """Plan runs from a berth to platforms and back, holding station at each platform."""
    rng = planner.rng
    port = planner.ports[int(rng.integers(len(planner.ports)))]
    berth = port.berth_point(rng, planner._gate(port))
    platforms = _platforms(planner, port, int(rng.integers(2, 5)))
    day = math.floor(planner.begin_s / 86400.0) * 86400.0
    t_s = planner.begin_s
    while t_s < planner.horizon_s:
        start = max(t_s, day + float(rng.uniform(5.0, 7.0)) * HOUR_S)
        vp.legs.append(Stay(t_s, start, *berth, MOORED, "berth", port.port_id))
        t_s = start
        for _ in range(int(rng.integers(2, 6))):
            spot = platforms[int(rng.integers(len(platforms)))]
            speed = float(rng.uniform(14.0, 18.0))
            out = planner._sail(vp, t_s, berth, spot, kind="crew", cruise_kn=speed, route=False)
            hold = out.t1_s + float(rng.uniform(0.5, 2.5)) * HOUR_S
            # Holding station off a platform: engines on, SOG a few tenths of a knot.
            vp.legs.append(
                Stay(out.t1_s, hold, *spot, UNDER_WAY, "platform", jitter_m=8.0, sog_noise_kn=0.6)
            )
            back = planner._sail(vp, hold, spot, berth, kind="crew", cruise_kn=speed, route=False)
            t_s = back.t1_s + float(rng.uniform(0.5, 2.0)) * HOUR_S
            vp.legs.append(Stay(back.t1_s, t_s, *berth, MOORED, "berth", port.port_id))
        day += 86400.0


def _port_with_anchorage(planner: Planner, here: PortModel | None) -> PortModel:
    choices = [p for p in planner.ports if p.anchorages and (here is None or p is not here)]
    return choices[int(planner.rng.integers(len(choices)))] if choices else planner._next_port(here)


def plan_trader(planner: Planner, vp: VesselPlan) -> None:
    """Plan calls port to port for a cargo ship of one of the roles ``unheard_berth``,
    ``noisy_sog`` and ``silent_in_port`` (see the module docstring)."""
    rng = planner.rng
    role = vp.vessel.role
    noise_kn = 3.0 if role == "noisy_sog" else 0.0
    port = _port_with_anchorage(planner, None)
    xy = port.berth_point(rng, planner._gate(port))
    t_s = planner.begin_s - float(rng.uniform(0.0, 24.0)) * HOUR_S
    # Reached across the anchorage unheard: where it came in, and when it fell silent.
    via_in: tuple[float, float] | None = None
    quiet_from = 0.0
    basin = False
    while t_s < planner.horizon_s:
        if role == "silent_in_port":
            hours = float(rng.uniform(30.0, 100.0))
        else:
            hours = planner._loguniform(planner.params.berth_h)
        stay = Stay(t_s, t_s + hours * HOUR_S, *xy, MOORED, "berth", port.port_id,
                    sog_noise_kn=noise_kn)  # fmt: skip
        vp.legs.append(stay)
        if role == "silent_in_port" and t_s > planner.begin_s:
            quiet = (
                stay.t0_s + float(rng.uniform(2.0, 4.0)) * HOUR_S,
                stay.t1_s - float(rng.uniform(2.0, 4.0)) * HOUR_S,
            )
            planner._silence(vp, *quiet, "in_port", port.port_id)
        t_s = stay.t1_s
        start = xy
        if via_in is not None:
            # Out the way it came, across the anchorage area without stopping.
            out = planner._sail(vp, t_s, xy, via_in, kind="shift", cruise_kn=8.0, route=False,
                                slow_end=False)  # fmt: skip
            heard_again = out.t0_s + (0.15 if basin else 0.95) * (out.t1_s - out.t0_s)
            planner._silence(vp, quiet_from, heard_again, "unheard_berth", port.port_id)
            start, t_s = via_in, out.t1_s
        dest = _port_with_anchorage(planner, port)
        berth = dest.berth_point(rng, planner._gate(dest))
        if role == "unheard_berth" and dest.anchorages:
            via = dest.anchorage_point(rng)
            assert via is not None
            move = planner._sail(vp, t_s, start, via, slow_start=via_in is None, slow_end=False)
            shift = planner._sail(vp, move.t1_s, via, berth, kind="shift",
                                  cruise_kn=float(rng.uniform(6.0, 10.0)), route=False,
                                  slow_start=False)  # fmt: skip
            # Heard entering the basin on some calls, only crossing the anchorage on others.
            basin = bool(rng.random() < 0.5)
            quiet_from = shift.t0_s + (0.85 if basin else 0.05) * (shift.t1_s - shift.t0_s)
            via_in, t_s = via, shift.t1_s
        else:
            p = planner.params
            wait = dest.anchorage_point(rng) if rng.random() < p.anchorage_wait_p else None
            move = planner._sail(vp, t_s, start, wait or berth, slow_start=via_in is None)
            t_s = move.t1_s
            if wait is not None:
                hold = t_s + planner._loguniform(p.anchorage_h) * HOUR_S
                vp.legs.append(Stay(t_s, hold, *wait, AT_ANCHOR, "anchor", dest.port_id,
                                    jitter_m=4.0, swing_m=60.0, sog_noise_kn=noise_kn))  # fmt: skip
                shift = planner._sail(vp, hold, wait, berth, kind="shift", cruise_kn=5.0,
                                      route=False)  # fmt: skip
                t_s = shift.t1_s
            via_in = None
        xy, port = berth, dest
