"""Sea routes between ports: a small graph of open-water waypoints, shortest paths over it.

Coastlines are not modelled; every waypoint and link was checked to stay off land against Natural
Earth's 1:110m coastline. The waypoints around the Korean peninsula (Peter the Great Gulf, the
East Sea, the Korea Strait, south of Jeju, the Yellow Sea and Korea Bay) keep voyages between the
Russian Far East and both Korean coasts at sea. Ports far from every waypoint are joined by straight
lines, which suits small or open-water configs.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from monitor.core.geo import EARTH_RADIUS_M

#: Open-water waypoints (lat, lon).
WAYPOINTS: dict[str, tuple[float, float]] = {
    "vladivostok_bosphorus": (43.045, 131.965),
    "ussuri_bay": (42.86, 132.12),
    "strelok_bay": (42.80, 132.32),
    "nakhodka_bay": (42.68, 132.97),
    "peter_gulf": (42.45, 132.00),
    "troitsa_bay": (42.56, 131.15),
    "posyet_bay": (42.50, 130.95),
    "rajin_bay": (42.13, 130.45),
    # Off the Tumen mouth: Rajin <-> Peter the Great Gulf traffic passes outside Posyet Bay.
    "tumen_offshore": (42.35, 130.95),
    "chongjin_road": (41.66, 129.96),
    "east_sea_north": (41.70, 131.20),
    "east_sea_mid": (40.40, 130.00),
    "hungnam_road": (39.70, 127.80),
    "wonsan_road": (39.28, 127.72),
    "east_sea_south": (38.70, 129.00),
    "gangneung_off": (37.50, 129.60),
    "pohang_off": (36.00, 129.85),
    "korea_strait_east": (35.20, 129.60),
    "korea_strait": (34.85, 129.15),
    "geoje_south": (34.35, 128.50),
    "jeju_east": (33.75, 127.60),
    "jeju_south": (32.90, 126.30),
    "jeju_west": (33.50, 125.20),
    "yellow_sea_south": (34.80, 124.80),
    "yellow_sea_mid": (36.50, 124.60),
    "baengnyeong_west": (37.70, 124.30),
    "ongjin_south": (37.55, 125.10),
    "haeju_road": (37.65, 125.60),
    "korea_bay_south": (38.40, 124.40),
    "taedong_outer": (38.68, 124.62),
    "taedong_road": (38.69, 125.10),
    "korea_bay": (39.00, 124.00),
    "sohae_road": (39.50, 124.45),
}

_EDGES: tuple[tuple[str, str], ...] = (
    ("vladivostok_bosphorus", "ussuri_bay"),
    ("ussuri_bay", "strelok_bay"),
    ("ussuri_bay", "peter_gulf"),
    ("strelok_bay", "peter_gulf"),
    ("strelok_bay", "nakhodka_bay"),
    ("nakhodka_bay", "peter_gulf"),
    ("peter_gulf", "troitsa_bay"),
    ("troitsa_bay", "posyet_bay"),
    ("tumen_offshore", "rajin_bay"),
    ("tumen_offshore", "peter_gulf"),
    ("tumen_offshore", "posyet_bay"),
    ("tumen_offshore", "troitsa_bay"),
    ("peter_gulf", "east_sea_north"),
    ("east_sea_north", "rajin_bay"),
    ("rajin_bay", "chongjin_road"),
    ("east_sea_north", "chongjin_road"),
    ("chongjin_road", "east_sea_mid"),
    ("east_sea_north", "east_sea_mid"),
    ("east_sea_mid", "hungnam_road"),
    ("east_sea_mid", "east_sea_south"),
    ("hungnam_road", "wonsan_road"),
    ("wonsan_road", "east_sea_south"),
    ("east_sea_south", "gangneung_off"),
    ("gangneung_off", "pohang_off"),
    ("pohang_off", "korea_strait_east"),
    ("korea_strait_east", "korea_strait"),
    ("korea_strait", "geoje_south"),
    ("geoje_south", "jeju_east"),
    ("jeju_east", "jeju_south"),
    ("jeju_south", "jeju_west"),
    ("jeju_west", "yellow_sea_south"),
    ("yellow_sea_south", "yellow_sea_mid"),
    ("yellow_sea_mid", "baengnyeong_west"),
    ("baengnyeong_west", "ongjin_south"),
    ("ongjin_south", "haeju_road"),
    ("baengnyeong_west", "korea_bay_south"),
    ("korea_bay_south", "taedong_outer"),
    ("taedong_outer", "taedong_road"),
    ("korea_bay_south", "korea_bay"),
    ("taedong_outer", "korea_bay"),
    ("korea_bay", "sohae_road"),
)

#: A port this close (km) to a waypoint joins the graph there; farther ports sail straight.
GATE_RADIUS_KM = 80.0


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Return the great-circle distance in km between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M / 1000.0 * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class SeaGraph:
    """Waypoints and their open-water links."""

    nodes: dict[str, tuple[float, float]]
    edges: tuple[tuple[str, str], ...]

    def nearest(self, point: tuple[float, float]) -> tuple[str, float] | None:
        """Return the nearest waypoint and its distance (km), or None without waypoints."""
        best: tuple[str, float] | None = None
        for name, where in self.nodes.items():
            d = distance_km(point, where)
            if best is None or d < best[1]:
                best = (name, d)
        return best

    def shortest_path(self, start: str, goal: str) -> list[str]:
        """Return the waypoint names from ``start`` to ``goal`` (Dijkstra), both included."""
        adjacency: dict[str, list[tuple[str, float]]] = {name: [] for name in self.nodes}
        for a, b in self.edges:
            d = distance_km(self.nodes[a], self.nodes[b])
            adjacency[a].append((b, d))
            adjacency[b].append((a, d))
        best = {start: 0.0}
        previous: dict[str, str] = {}
        queue = [(0.0, start)]
        while queue:
            dist, node = heapq.heappop(queue)
            if node == goal:
                break
            if dist > best.get(node, math.inf):
                continue
            for neighbour, step in adjacency[node]:
                candidate = dist + step
                if candidate < best.get(neighbour, math.inf):
                    best[neighbour] = candidate
                    previous[neighbour] = node
                    heapq.heappush(queue, (candidate, neighbour))
        if goal not in best:
            return [start, goal]
        path = [goal]
        while path[-1] != start:
            path.append(previous[path[-1]])
        return path[::-1]

    def route(
        self, origin: tuple[float, float], destination: tuple[float, float]
    ) -> list[tuple[float, float]]:
        """Return the sea waypoints (lat, lon) between two points, endpoints excluded."""
        a = self.nearest(origin)
        b = self.nearest(destination)
        if a is None or b is None or a[1] > GATE_RADIUS_KM or b[1] > GATE_RADIUS_KM:
            return []
        names = self.shortest_path(a[0], b[0])
        return [self.nodes[name] for name in names]


KOREA_SEAS = SeaGraph(WAYPOINTS, _EDGES)
