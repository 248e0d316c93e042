"""Point-in-zone lookup speed: ``zones_for_points`` against a plain shapely baseline.

The baseline tests every point against every zone with ``shapely.contains_xy`` (no bounding-box
prefilter, no prepared geometries) and keeps the most specific zone, as a straightforward
implementation would. Both run in this process on the same points; the ratio is what matters.

    python benchmarks/geofence_lookup.py [--points 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import numpy.typing as npt
import shapely

from monitor.analyse.geofences import (
    KIND_PRIORITY,
    Zone,
    buffer_metres,
    load_zones,
    zones_for_points,
)
from monitor.config import load_config, shipped_config_path


def baseline(
    zones: list[Zone], lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> npt.NDArray[np.int32]:
    out = np.full(lon.shape, -1, dtype=np.int32)
    rank = np.full(lon.shape, 99, dtype=np.int32)
    for i, zone in enumerate(zones):
        inside = shapely.intersects_xy(zone.geometry, lon, lat)
        better = inside & (KIND_PRIORITY[zone.kind] < rank)
        out[better] = i
        rank[better] = KIND_PRIORITY[zone.kind]
    return out


def best_of(repeat: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    zones = load_zones(load_config(shipped_config_path("korea")))
    rng = np.random.default_rng(7)
    n = args.points
    # "region": every point inside the watched region's box (worst case for the prefilter);
    # "near ports": half the points within ~5 km of a port, as in a feed filtered to the region.
    minx, miny, maxx, maxy = shapely.total_bounds([z.geometry for z in zones])
    region = (rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n))
    centres = np.array([shapely.centroid(z.geometry).coords[0] for z in zones if z.kind == "port"])
    pick = centres[rng.integers(0, len(centres), n)]
    near = (pick[:, 0] + rng.normal(0, 0.05, n), pick[:, 1] + rng.normal(0, 0.04, n))
    near[0][: n // 2] = region[0][: n // 2]
    near[1][: n // 2] = region[1][: n // 2]

    print(f"{len(zones)} zones (shipped korea), {n:,} points, best of {args.repeat}")
    header = ("points", "buffer_m", "zones_for_points", "baseline", "speed-up")
    print("{:12s} {:>8s} {:>17s} {:>10s} {:>9s}".format(*header))
    for label, (lon, lat) in (("region", region), ("near ports", near)):
        expected = baseline(zones, lon, lat)
        assert np.array_equal(zones_for_points(zones, lon, lat), expected)
        for buffer_m in (0.0, 1000.0):
            grown = [
                Zone(
                    z.id, z.name, z.kind, z.port_id, z.country, buffer_metres(z.geometry, buffer_m)
                )
                for z in zones
            ]
            ours = best_of(args.repeat, partial(zones_for_points, zones, lon, lat, buffer_m))
            base = best_of(args.repeat, partial(baseline, grown, lon, lat))
            print(
                f"{label:12s} {buffer_m:8.0f} {ours * 1e3:14.1f} ms {base * 1e3:7.1f} ms "
                f"{base / ours:8.1f}x"
            )


if __name__ == "__main__":
    main()
