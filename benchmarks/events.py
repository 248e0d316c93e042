"""Benchmark of dark periods (gaps) and encounters on 1M, 3M and 10M positions of 5,000 vessels.

Run: ``python benchmarks/events.py [--sizes 1000000,3000000,10000000] [--vessels 5000]``.

Each size runs in a process of its own, so that its peak memory (maximum resident set) is its
own. Generated traffic: 5,000 vessels in a 10 x 10 degree sea, one report every 5 minutes (the
span grows with the size: about 0.7, 2.1 and 7 days), legs of 4 hours either lying still (a
third) or under way at 5-15 kn, silences of 2-20 hours, and pairs lying side by side for
hours. Prints, per size, positions per second of the dark periods (silences and their causes)
and of the encounters, each against the baseline measured in the same process: sorting the
same positions by vessel and time, the step every analysis starts from; and the peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.analyse.encounters import encounters
from monitor.analyse.gaps import dark_periods
from monitor.analyse.geofences import Zone, circle_polygon
from monitor.analyse.positions import sort_by_vessel_and_time
from monitor.config import EncounterSettings, GapSettings

REPORT_S = 300
LEG_H = 4.0
KN_TO_DEG_PER_S = 1852.0 / 3600.0 / 111_195.0


def synthetic_zones() -> list[Zone]:
    """Return 9 ports of 5 km radius on a grid over the sea."""
    return [
        Zone(
            f"p{i}",
            f"Port {i}",
            "port",
            f"p{i}",
            None,
            circle_polygon(121 + 4 * (i % 3), 31 + 4 * (i // 3), 5000),
        )
        for i in range(9)
    ]


def synthetic_positions(n_target: int, n_vessels: int, seed: int = 1) -> pl.DataFrame:
    """Return about ``n_target`` positions of ``n_vessels`` vessels, in no particular order."""
    rng = np.random.default_rng(seed)
    per_vessel = max(n_target // n_vessels, 2)
    n = per_vessel * n_vessels
    vessel = np.repeat(np.arange(n_vessels), per_vessel)
    step = np.tile(np.arange(per_vessel), n_vessels)
    t_s = 1_709_251_200 + step * REPORT_S + rng.integers(-20, 20, n)
    legs_per_vessel = int(per_vessel * REPORT_S / (LEG_H * 3600)) + 1
    leg = (step * REPORT_S // int(LEG_H * 3600)).astype(np.int64)
    leg_id = vessel * legs_per_vessel + leg
    n_legs = n_vessels * legs_per_vessel
    speed = np.where(rng.random(n_legs) < 1 / 3, 0.0, rng.uniform(5, 15, n_legs))
    heading = rng.uniform(0, 2 * np.pi, n_legs)
    dlat = (speed * np.cos(heading) * KN_TO_DEG_PER_S * REPORT_S)[leg_id]
    dlon = (speed * np.sin(heading) * KN_TO_DEG_PER_S * REPORT_S)[leg_id] / np.cos(np.radians(35))
    start = rng.uniform(0, 10, (n_vessels, 2))
    lat = start[vessel, 0] + _cumsum_by(dlat, vessel)
    lon = start[vessel, 1] + _cumsum_by(dlon, vessel)
    lat = 30.0 + np.abs((lat + 10) % 20 - 10)
    lon = 120.0 + np.abs((lon + 10) % 20 - 10)
    lat += rng.normal(0, 0.00005, n)
    lon += rng.normal(0, 0.00005, n)
    sog = speed[leg_id] + rng.normal(0, 0.1, n).clip(-0.1, None)
    # A tenth of the vessels lie beside another for a leg: the second copies the first, 200 m off.
    pairs = rng.choice(n_vessels, size=(n_vessels // 20, 2), replace=False)
    for a, b in pairs:
        when = int(rng.integers(0, max(per_vessel - 48, 1)))
        rows_a = a * per_vessel + when + np.arange(min(48, per_vessel - when))
        rows_b = b * per_vessel + when + np.arange(rows_a.size)
        lat[rows_a] = lat[rows_a[0]]
        lon[rows_a] = lon[rows_a[0]]
        lat[rows_b] = lat[rows_a[0]] + 0.0018
        lon[rows_b] = lon[rows_a[0]]
        sog[rows_a] = 0.1
        sog[rows_b] = 0.1
    keep = np.ones(n, dtype=bool)
    # Silences of 2 to 20 hours, about one per vessel and two days.
    n_silences = max(int(n_vessels * per_vessel * REPORT_S / (2 * 86_400)), 1)
    for v, first, length in zip(
        rng.integers(0, n_vessels, n_silences),
        rng.integers(0, per_vessel, n_silences),
        rng.integers(2 * 12, 20 * 12, n_silences),
        strict=True,
    ):
        keep[v * per_vessel + first : v * per_vessel + min(first + length, per_vessel)] = False
    frame = pl.DataFrame(
        {
            "mmsi": (200_000_000 + vessel).astype(np.uint32),
            "timestamp_utc": (t_s * 1_000_000).astype(np.int64),
            "lat": lat,
            "lon": lon,
            "sog_kn": sog.clip(0, None),
            "cog_deg": np.degrees(heading[leg_id]) % 360,
        }
    ).filter(pl.Series(keep))
    frame = frame.with_columns(pl.col("timestamp_utc").cast(pl.Datetime("us", "UTC")))
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


def _cumsum_by(
    values: npt.NDArray[np.float64], group: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Return the running sums of ``values`` restarting at each new ``group``."""
    total = np.cumsum(values)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    offset = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, group.size]))
    out: npt.NDArray[np.float64] = total - offset
    return out


def measure(n_target: int, n_vessels: int) -> dict[str, Any]:
    """Return the timings and peak memory of one size (run in a process of its own)."""
    positions = synthetic_positions(n_target, n_vessels)
    zones = synthetic_zones()
    t0 = time.perf_counter()
    tracks = sort_by_vessel_and_time(positions).with_columns(speed_kn=pl.col("sog_kn"))
    t1 = time.perf_counter()
    times = tracks["timestamp_utc"]
    first, end = times.min(), times.max()
    assert isinstance(first, datetime) and isinstance(end, datetime)
    gaps = dark_periods(tracks, zones, GapSettings(), data_end=end)
    t2 = time.perf_counter()
    met = encounters(tracks, zones, EncounterSettings())
    t3 = time.perf_counter()
    return {
        "positions": tracks.height,
        "vessels": tracks["mmsi"].n_unique(),
        "days": (end - first).total_seconds() / 86_400,
        "sort_s": t1 - t0,
        "gaps_s": t2 - t1,
        "encounters_s": t3 - t2,
        "gaps": gaps.height,
        "dark": gaps.filter(pl.col("cause") == "dark").height,
        "encounters": met.height,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _warm_up(n_vessels: int) -> None:
    """Compile (or load) the kernels on a small input, so that no size pays for it."""
    measure(20_000, min(n_vessels, 200))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3000000,10000000")
    parser.add_argument("--vessels", type=int, default=5000)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _warm_up(args.vessels)
        print(json.dumps(measure(args.child, args.vessels)))
        return
    print(
        f"{'positions':>11} {'days':>5} {'sort/s':>10} {'gaps pos/s':>11} {'x sort':>6} "
        f"{'enc. pos/s':>11} {'x sort':>6} {'gaps':>6} {'dark':>5} {'enc.':>5} {'peak MB':>8}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--vessels", str(args.vessels)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        n = r["positions"]
        sort_rate, gaps_rate, enc_rate = n / r["sort_s"], n / r["gaps_s"], n / r["encounters_s"]
        print(
            f"{n:>11,} {r['days']:>5.1f} {sort_rate:>10,.0f} {gaps_rate:>11,.0f} "
            f"{gaps_rate / sort_rate:>6.2f} {enc_rate:>11,.0f} {enc_rate / sort_rate:>6.2f} "
            f"{r['gaps']:>6,} {r['dark']:>5,} {r['encounters']:>5,} {r['peak_mb']:>8,.0f}"
        )


if __name__ == "__main__":
    main()
