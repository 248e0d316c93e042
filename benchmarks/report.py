"""Report size and load time for a busy port: 300 vessels over a week, millions of positions.

Builds an offline report from generated frames (no store needed), writes it, and opens it in
headless Chromium (Debian's /usr/bin/chromium) to time how long the map takes to be ready. The
baseline, measured in the same run, is the report of the same period with no vessels: the
ratio says what the week of traffic adds.

    python benchmarks/report.py [--vessels 300] [--days 7] [--step-s 60]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from shapely.geometry import box

from monitor.analyse.geofences import Zone
from monitor.report import ReportInputs, build_report
from monitor.report.build import publish
from monitor.schema import CALLS_SCHEMA, POSITIONS_SCHEMA, STATICS_SCHEMA

SINCE = datetime(2024, 5, 1, tzinfo=UTC)
PORT = (38.73, 125.35)  # lat, lon
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def zones() -> list[Zone]:
    lat, lon = PORT
    return [
        Zone(
            "PORT",
            "Busy port",
            "port",
            "PORT",
            None,
            box(lon - 0.05, lat - 0.03, lon + 0.05, lat + 0.03),
        ),
        Zone(
            "ANCH",
            "Outer anchorage",
            "anchorage",
            "PORT",
            None,
            box(lon - 0.25, lat - 0.12, lon - 0.12, lat - 0.05),
        ),
    ]


def vessel_track(rng: np.random.Generator, n: int, step_s: int) -> tuple[np.ndarray, ...]:
    """Return lat, lon, sog for one vessel: legs at sea with gentle turns, stops in port."""
    lat = np.empty(n)
    lon = np.empty(n)
    sog = np.empty(n)
    y, x = PORT[0] + rng.normal(0, 0.3), PORT[1] + rng.normal(0, 0.3)
    heading = rng.uniform(0, 2 * math.pi)
    i = 0
    while i < n:
        stopped = rng.random() < 0.4
        length = int(rng.integers(60, 720) * 60 / step_s)
        end = min(n, i + length)
        for j in range(i, end):
            if stopped:
                speed = 0.0
                lat[j], lon[j] = y + rng.normal(0, 0.00005), x + rng.normal(0, 0.00005)
            else:
                speed = 11.0 + rng.normal(0, 0.5)
                heading += rng.normal(0, 0.01)
                # Stay near the port: turn back when drifting more than ~50 km away.
                if abs(y - PORT[0]) > 0.45 or abs(x - PORT[1]) > 0.6:
                    heading = math.atan2(PORT[0] - y, PORT[1] - x) + rng.normal(0, 0.2)
                d = speed * step_s / 3600 / 60  # degrees of latitude (1 nm = 1/60 degree)
                y += d * math.sin(heading)
                x += d * math.cos(heading) / math.cos(math.radians(y))
                lat[j], lon[j] = y, x
            sog[j] = speed
        i = end
    return lat, lon, sog


def positions(n_vessels: int, days: int, step_s: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = days * 86_400 // step_s
    base = np.datetime64(SINCE.replace(tzinfo=None), "us")
    frames = []
    for v in range(n_vessels):
        lat, lon, sog = vessel_track(rng, n, step_s)
        t = base + (np.arange(n) * step_s * 1_000_000).astype("timedelta64[us]")
        keep = np.ones(n, dtype=bool)
        if v % 5 == 0:  # a fifth of the fleet goes dark for 6-30 h once
            start = int(rng.integers(0, n // 2))
            keep[start : start + int(rng.integers(6, 30) * 3600 / step_s)] = False
        frames.append(
            pl.DataFrame(
                {
                    "mmsi": np.full(keep.sum(), 412_000_000 + v, dtype=np.uint32),
                    "timestamp_utc": t[keep],
                    "lat": lat[keep],
                    "lon": lon[keep],
                    "sog_kn": sog[keep],
                }
            )
        )
    frame = pl.concat(frames).with_columns(pl.col("timestamp_utc").dt.replace_time_zone("UTC"))
    missing = [
        pl.lit(None).cast(t).alias(c) for c, t in POSITIONS_SCHEMA.items() if c not in frame.columns
    ]
    return frame.with_columns(missing).select(list(POSITIONS_SCHEMA))


def statics(n_vessels: int) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "mmsi": np.arange(n_vessels, dtype=np.uint32) + 412_000_000,
            "timestamp_utc": [SINCE] * n_vessels,
            "vessel_name": [f"VESSEL {v:03d} & <CO>" for v in range(n_vessels)],
            "ship_type": np.array(
                [[70, 80, 30, 52, 60][v % 5] for v in range(n_vessels)], dtype=np.uint8
            ),
        }
    )
    missing = [
        pl.lit(None).cast(t).alias(c) for c, t in STATICS_SCHEMA.items() if c not in frame.columns
    ]
    return frame.with_columns(missing).select(list(STATICS_SCHEMA))


def calls(n_vessels: int, days: int, seed: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(n_vessels):
        for k in range(int(rng.integers(0, 3))):
            arrival = SINCE + timedelta(hours=float(rng.uniform(0, days * 24 - 2)))
            stay = float(rng.uniform(2, 60))
            departure = arrival + timedelta(hours=stay)
            open_call = departure > SINCE + timedelta(days=days)
            row = dict.fromkeys(CALLS_SCHEMA)
            row.update(
                call_id=f"{v}-{k}",
                mmsi=412_000_000 + v,
                vessel_name=f"VESSEL {v:03d} & <CO>",
                ship_type="Cargo",
                flag="KP",
                port_id="PORT",
                port_name="Busy port",
                arrival_utc=arrival,
                departure_utc=None if open_call else departure,
                duration_h=stay,
                status="in_port" if open_call else "departed",
                confidence=int(rng.integers(1, 5)),
                arrival_observed=True,
                departure_observed=not open_call,
                stopped=True,
                n_positions=100,
            )
            rows.append(row)
    return pl.DataFrame(rows, schema=CALLS_SCHEMA)


def load_time_s(index: Path, runs: int = 3) -> float:
    """Return the median time from navigation to a ready map in headless Chromium."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            page.goto(index.as_uri())
            page.wait_for_function(
                "window.monitorReport && monitorReport.state && monitorReport.state.ready",
                timeout=120_000,
            )
            times.append(time.perf_counter() - start)
            page.close()
        browser.close()
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vessels", type=int, default=300)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--step-s", type=int, default=60)
    args = parser.parse_args()
    until = SINCE + timedelta(days=args.days)

    t0 = time.perf_counter()
    pos = positions(args.vessels, args.days, args.step_s)
    elapsed = time.perf_counter() - t0
    print(f"generated {pos.height:,} positions of {args.vessels} vessels in {elapsed:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results = {}
        for label, frame, call_frame in (
            ("baseline (no vessels)", pos.clear(), calls(0, args.days)),
            ("busy port", pos, calls(args.vessels, args.days)),
        ):
            inputs = ReportInputs(
                calls=call_frame,
                positions=frame,
                statics=statics(args.vessels),
                zones=zones(),
                since=SINCE,
                until=until,
                title="Benchmark",
                offline=True,
            )
            t0 = time.perf_counter()
            content = build_report(inputs)
            build_s = time.perf_counter() - t0
            folder = label.split()[0]
            index = publish(root, folder, content, {"folder": folder, "numbers": content.numbers})
            size_mb = index.stat().st_size / 1e6
            load_s = load_time_s(index)
            results[label] = (build_s, size_mb, load_s)
            print(
                f"{label:22s} build {build_s:6.2f} s   index.html {size_mb:6.2f} MB   "
                f"ready in Chromium {load_s:5.2f} s   calls {content.numbers['calls']}"
            )
        base, busy = results["baseline (no vessels)"], results["busy port"]
        print(
            f"busy/baseline: size x{busy[1] / base[1]:.1f}, load time x{busy[2] / base[2]:.1f}; "
            f"{pos.height / 1e6:.1f} M positions -> {busy[1]:.1f} MB"
        )


if __name__ == "__main__":
    main()
