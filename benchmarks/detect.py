"""Benchmark of port-call detection (geofencing included), and real tracks through the detector.

Run: ``python benchmarks/detect.py [--positions N] [--baseline-points N] [--skip-real]``.

1. Speed: positions per second of ``portcalls.detect_all`` (sort, tracks, geofencing with and
   without the exit buffer, state machine, calls) on generated tracks around 20 zones, and per
   CPU-second (the figure that holds when other work shares the machine).
2. Baseline in the same run: MovingPandas' ``TrajectoryStopDetector`` (stops only, no geofences)
   against the monitor on the same subset of points, as a ratio of throughputs.
3. Real tracks: SoCal (MarineCadastre CSV) and New York harbour (tracktable .traj), with the
   small geofences in ``benchmarks/geofences/``; prints calls and transits per port.
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from monitor.analyse.geofences import Zone, circle_polygon, load_geojson
from monitor.analyse.portcalls.detect import detect_all
from monitor.config import DetectSettings

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("MONITOR_DATA", HERE.parent.parent / "shared" / "data"))
SOCAL = DATA / "positions" / "derived" / "socal_2018-06-01_07_marinecadastre.csv.gz"
NY = DATA / "positions" / "tracktable_NYHarbor_2020_12_first_week.traj.gz"


# ---------------------------------------------------------------------------------------------
# Synthetic tracks


def synthetic_zones(n_ports: int = 10) -> list[Zone]:
    """Return 2 x n_ports zones: ports on a grid, each with an anchorage just outside."""
    zones: list[Zone] = []
    for i in range(n_ports):
        lon, lat = 120.0 + 3.0 * (i % 5), 30.0 + 3.0 * (i // 5)
        pid = f"port{i}"
        zones.append(Zone(pid, f"Port {i}", "port", pid, None, circle_polygon(lon, lat, 5000)))
        zones.append(
            Zone(
                f"{pid}-anch",
                "Anchorage",
                "anchorage",
                pid,
                None,
                circle_polygon(lon + 0.09, lat, 2500),
            )
        )
    return zones


def port_centres(n_ports: int = 10) -> np.ndarray:
    return np.array([(120.0 + 3.0 * (i % 5), 30.0 + 3.0 * (i // 5)) for i in range(n_ports)])


def synthetic_positions(n_target: int, seed: int = 1) -> pl.DataFrame:
    """Return about ``n_target`` positions: vessels sailing port to port, stopping or passing."""
    rng = np.random.default_rng(seed)
    centres = port_centres()
    n_vessels = max(1, n_target // 5000)
    legs_per_vessel = 16
    n_legs = n_vessels * legs_per_vessel
    vessel = np.repeat(np.arange(n_vessels), legs_per_vessel)
    leg_no = np.tile(np.arange(legs_per_vessel), n_vessels)
    # Even legs sail from a point at sea towards a port; odd legs stay there (or at its anchorage)
    # stopped, or sail through it without stopping.
    port = rng.integers(0, len(centres), n_legs // 2 + 1)
    target = centres[np.repeat(port, 2)[:n_legs]]
    at_anchor = np.repeat(rng.random(n_legs // 2 + 1) < 0.3, 2)[:n_legs]
    target = target + np.where(at_anchor[:, None], [0.09, 0.0], [0.0, 0.0])
    sea = target + rng.normal(0, 0.6, (n_legs, 2))
    stays = leg_no % 2 == 1
    passes = stays & (rng.random(n_legs) < 0.2)
    end = np.where(passes[:, None], target + (target - sea), target)
    # Each leg starts where the vessel's previous one ended: ships do not teleport.
    start = np.where((leg_no == 0)[:, None], sea, np.roll(end, 1, axis=0))
    n = np.where(stays & ~passes, rng.integers(200, 500, n_legs), rng.integers(150, 350, n_legs))
    n = (n * (n_target / (n.sum()))).astype(np.int64).clip(2)
    dist_km = np.hypot(*(end - start).T * [[np.cos(np.radians(35.0))], [1.0]]) * 111.2
    speed_kn = np.where(stays & ~passes, 0.0, rng.uniform(8, 16, n_legs))
    hours = np.where(speed_kn > 0, dist_km / (np.maximum(speed_kn, 1) * 1.852), n / 60.0)
    step_s = hours * 3600.0 / n

    leg_of = np.repeat(np.arange(n_legs), n)
    offset = np.arange(leg_of.size) - np.repeat(np.cumsum(n) - n, n)
    frac = offset / np.repeat(n, n)
    xy = start[leg_of] + (end - start)[leg_of] * frac[:, None]
    xy += rng.normal(0, 0.0001, xy.shape)  # a few metres of GPS noise
    leg_t0 = np.zeros(n_legs)
    dur = hours * 3600.0
    for v in range(legs_per_vessel):  # cumulative start time of each leg within its vessel
        if v:
            leg_t0[leg_no == v] = leg_t0[leg_no == v - 1] + dur[leg_no == v - 1]
    t_s = leg_t0[leg_of] + offset * step_s[leg_of]
    sog = speed_kn[leg_of] + np.abs(rng.normal(0, 0.05, leg_of.size))
    # A few wild outliers, as real feeds have.
    wild = rng.random(leg_of.size) < 1e-4
    xy[wild] += rng.uniform(-5, 5, (int(wild.sum()), 2))
    base = np.datetime64("2024-01-01T00:00:00", "us")
    frame = pl.DataFrame(
        {
            "mmsi": (vessel[leg_of] + 200_000_000).astype(np.uint32),
            "timestamp_utc": base + (t_s * 1e6).astype("timedelta64[us]"),
            "lat": xy[:, 1],
            "lon": xy[:, 0],
            "sog_kn": sog,
        }
    ).with_columns(pl.col("timestamp_utc").dt.replace_time_zone("UTC"))
    # Stored order is not track order: shuffle by blocks, as files from several receivers are.
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


# ---------------------------------------------------------------------------------------------
# Baseline


def monitor_vs_movingpandas(frame: pl.DataFrame, zones: Sequence[Zone], n_points: int) -> None:
    try:
        import geopandas as gpd  # type: ignore[import-untyped]
        import movingpandas as mpd
    except ImportError:
        print("  movingpandas not installed (pip install -e '.[bench]'): baseline skipped")
        return
    # Whole tracks of the first vessels, up to about n_points positions.
    counts = frame.group_by("mmsi").len().sort("mmsi").with_columns(total=pl.col("len").cum_sum())
    vessels = counts.filter(pl.col("total").shift(1, fill_value=0) < n_points)["mmsi"]
    subset = frame.filter(pl.col("mmsi").is_in(vessels.implode()))
    settings = DetectSettings()
    t = time.perf_counter()
    for _ in range(5):
        found = detect_all(subset, zones, settings)
    ours = (time.perf_counter() - t) / 5
    pdf = subset.sort("mmsi", "timestamp_utc").to_pandas()
    pdf["timestamp_utc"] = pdf["timestamp_utc"].dt.tz_localize(None)
    t = time.perf_counter()
    gdf = gpd.GeoDataFrame(
        pdf, geometry=gpd.points_from_xy(pdf["lon"], pdf["lat"]), crs="EPSG:4326"
    )
    collection = mpd.TrajectoryCollection(gdf, "mmsi", t="timestamp_utc")
    stops = mpd.TrajectoryStopDetector(collection).get_stop_segments(
        min_duration=timedelta(hours=settings.min_stay_h), max_diameter=300
    )
    theirs = time.perf_counter() - t
    print(
        f"  {subset.height:,} points: monitor {ours * 1000:.0f} ms "
        f"({len(found.calls)} calls), MovingPandas TrajectoryStopDetector {theirs:.2f} s "
        f"({len(stops)} stops) -> monitor is {theirs / ours:.0f}x faster"
    )


# ---------------------------------------------------------------------------------------------
# Real tracks


def read_socal(path: Path, *, course: bool = False) -> pl.DataFrame:
    """Return the MarineCadastre CSV as positions (SOG 102.3 and COG 360 are "not available"),
    with ``course``, their COG too."""
    frame = pl.read_csv(
        path,
        columns=["MMSI", "BaseDateTime", "LAT", "LON", "SOG", "Status", *(["COG"] * course)],
        schema_overrides={"Status": pl.Int64},
    )
    positions = frame.select(
        mmsi=pl.col("MMSI").cast(pl.UInt32),
        timestamp_utc=pl.col("BaseDateTime").str.to_datetime(time_zone="UTC", time_unit="us"),
        lat=pl.col("LAT"),
        lon=pl.col("LON"),
        sog_kn=pl.when(pl.col("SOG") < 102.2).then(pl.col("SOG")),
        nav_status=pl.col("Status").cast(pl.UInt8, strict=False),
    )
    if course:
        positions = positions.with_columns(cog_deg=pl.when(frame["COG"] < 360.0).then(frame["COG"]))
    return positions


def read_traj(path: Path) -> pl.DataFrame:
    """Return the points of a tracktable ``.traj`` file (one trajectory per line, no SOG)."""
    mmsi: list[int] = []
    stamps: list[str] = []
    lon: list[float] = []
    lat: list[float] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split(",")
            # Header up to and including the property block, then MMSI,time,lon,lat repeated.
            start = fields.index("*P*") + 6 if "*P*" in fields else 0
            body = fields[start:]
            for i in range(0, len(body) - 3, 4):
                mmsi.append(int(body[i]))
                stamps.append(body[i + 1])
                lon.append(float(body[i + 2]))
                lat.append(float(body[i + 3]))
    return pl.DataFrame(
        {"mmsi": mmsi, "timestamp_utc": stamps, "lat": lat, "lon": lon},
        schema_overrides={"mmsi": pl.UInt32},
    ).with_columns(
        timestamp_utc=pl.col("timestamp_utc").str.to_datetime(
            "%Y-%m-%d %H:%M:%S", time_zone="UTC", time_unit="us"
        ),
        sog_kn=pl.lit(None, pl.Float64),
    )


def real_tracks() -> None:
    for name, path, reader, geo in [
        ("SoCal 2018-06-01..07", SOCAL, read_socal, HERE / "geofences" / "socal.geojson"),
        ("New York harbour 2020-12", NY, read_traj, HERE / "geofences" / "nyharbor.geojson"),
    ]:
        if not path.is_file():
            print(f"  {name}: {path} not found, skipped")
            continue
        frame = reader(path)
        zones = load_geojson(geo)
        t = time.perf_counter()
        found = detect_all(frame, zones, DetectSettings())
        took = time.perf_counter() - t
        calls, transits = found.calls, found.transits
        print(
            f"\n  {name}: {frame.height:,} positions, {frame['mmsi'].n_unique()} vessels, "
            f"{found.n_dropped} positions dropped, {took * 1000:.0f} ms; {found.tracks.height:,} "
            f"tracks, {found.tracks.filter(pl.len().over('mmsi') > 1)['mmsi'].n_unique()} MMSIs "
            "with more than one"
        )
        per_port = (
            calls.group_by("port_id", "port_name")
            .agg(
                calls=pl.len(),
                vessels=pl.col("mmsi").n_unique(),
                stopped=pl.col("stopped").sum(),
                conf4=(pl.col("confidence") == 4).sum(),
                median_h=pl.col("duration_h").median().round(1),
            )
            .join(
                transits.group_by("port_id").agg(transits=pl.len()),
                on="port_id",
                how="full",
                coalesce=True,
            )
            .sort("port_id")
        )
        with pl.Config(tbl_rows=50, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
            print(per_port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=10_000_000)
    parser.add_argument("--baseline-points", type=int, default=30_000)
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()

    zones = synthetic_zones()
    t = time.perf_counter()
    frame = synthetic_positions(args.positions)
    print(
        f"generated {frame.height:,} positions of {frame['mmsi'].n_unique():,} vessels "
        f"around {len(zones)} zones in {time.perf_counter() - t:.1f} s"
    )
    settings = DetectSettings()
    detect_all(frame.head(100_000), zones, settings)  # warm-up (buffer cache, thread pool)
    # Best of three: the figure should not depend on what else the machine is doing.
    for workers, label in ((None, f"{os.cpu_count()} threads"), (1, "1 thread")):
        best_wall, best_cpu = float("inf"), 0.0
        for _ in range(3 if workers is None else 1):
            t, cpu = time.perf_counter(), time.process_time()
            found = detect_all(frame, zones, settings, workers=workers)
            took, cpu = time.perf_counter() - t, time.process_time() - cpu
            if took < best_wall:
                best_wall, best_cpu = took, cpu
        print(
            f"detect (geofencing + state machine), {label}: {best_wall:.2f} s wall, "
            f"{best_cpu:.2f} s CPU, {frame.height / best_wall / 1e6:.2f} M positions/s, "
            f"{frame.height / best_cpu / 1e6:.2f} M per CPU-second "
            f"(load average {os.getloadavg()[0]:.1f}); {found.calls.height:,} calls, "
            f"{found.transits.height:,} transits, {found.n_dropped:,} positions dropped"
        )
    print("\nbaseline (same points, same run):")
    monitor_vs_movingpandas(frame, zones, args.baseline_points)
    if not args.skip_real:
        print("\nreal tracks:")
        real_tracks()


if __name__ == "__main__":
    main()
