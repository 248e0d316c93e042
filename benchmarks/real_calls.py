"""Port calls on a real week (Southern California, June 2018) against MovingPandas' stops.

Run: ``python benchmarks/real_calls.py [--skip-movingpandas] [--stops FILE] [--vessel MMSI ...]``
(``--stops``: MovingPandas takes minutes; its stops are saved there, and read on later runs).

Detects calls in ``positions/derived/socal_2018-06-01_07_marinecadastre.csv.gz`` (from the
shared data folder, ``MONITOR_DATA``) with ``benchmarks/geofences/socal.geojson`` and prints:

1. the share of MovingPandas' stops (``max_diameter=500`` m, ``min_duration=30`` min, after a
   6 h gap split) inside a geofence that fall inside a call of the same vessel at that port;
2. counts of the patterns that real reception makes of naive rules, measured on the positions
   (not on the detector's own flags), so that any version of the detector can be compared:
   calls seen only in anchorages without anchoring, trips of 3 km or more inside one call,
   calls whose seen stop rests on at most 3 slow fixes spanning less than 10 min, calls with a
   hold (within 100 m for 10 min or more, inside a zone) while SOG never read below 0.2 kn,
   calls stopped only in the exit buffer, open calls of vessels unheard for over 24 h, and
   calls lasting longer than 72 h;
3. the calls of each vessel given with ``--vessel``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import shapely
from detect import HERE, SOCAL, read_socal

from monitor.analyse.geofences import Zone, buffer_metres, load_geojson, zones_for_points
from monitor.analyse.portcalls.detect import detect_all
from monitor.analyse.portcalls.stops import position_stopped
from monitor.config import DetectSettings

GEOFENCES = HERE / "geofences" / "socal.geojson"
#: Vessels named in the analysis of the week: a fast ferry, cruise and cargo ships crossing the
#: San Pedro Bay anchorages, car carriers berthing unheard, crew boats, a stop of 5 s, a vessel
#: holding position with noisy SOG, a vessel silent for days.
NAMED = (
    367199310, 309484000, 311056900, 255805897, 636015771, 477915900, 367104030,
    366899260, 367580930, 367683830, 367635520,
)  # fmt: skip


def movingpandas_stops(frame: pl.DataFrame) -> pl.DataFrame | None:
    """Return MovingPandas' stop points (mmsi, start, end, lat, lon), or None without it."""
    try:
        import geopandas as gpd  # type: ignore[import-untyped]
        import movingpandas as mpd
    except ImportError:
        print("movingpandas not installed (pip install -e '.[bench]'): comparison skipped")
        return None
    warnings.filterwarnings("ignore", module="movingpandas")
    pdf = (
        frame.select("mmsi", "timestamp_utc", "lat", "lon")
        .unique(["mmsi", "timestamp_utc"], keep="first")
        .sort("mmsi", "timestamp_utc")
        .to_pandas()
    )
    pdf["timestamp_utc"] = pdf["timestamp_utc"].dt.tz_localize(None)
    t = time.perf_counter()
    points = gpd.GeoDataFrame(
        pdf, geometry=gpd.points_from_xy(pdf["lon"], pdf["lat"]), crs="EPSG:4326"
    )
    tracks = mpd.TrajectoryCollection(points, "mmsi", t="timestamp_utc")
    split = mpd.ObservationGapSplitter(tracks).split(gap=timedelta(hours=6))
    stops = mpd.TrajectoryStopDetector(split).get_stop_points(
        min_duration=timedelta(minutes=30), max_diameter=500
    )
    print(f"MovingPandas stop detection: {time.perf_counter() - t:.0f} s, {len(stops)} stops")
    return pl.DataFrame(
        {
            "mmsi": [int(str(i).split("_")[0]) for i in stops["traj_id"]],
            "start": stops["start_time"].tolist(),
            "end": stops["end_time"].tolist(),
            "lat": stops.geometry.y.tolist(),
            "lon": stops.geometry.x.tolist(),
        },
        schema_overrides={"mmsi": pl.UInt32},
    ).with_columns(pl.col("start", "end").dt.replace_time_zone("UTC"))


def _port_of(zones: list[Zone], lon: np.ndarray, lat: np.ndarray, buffer_m: float = 0) -> list[str]:
    index = zones_for_points(zones, lon, lat, buffer_m)
    return [zones[i].port_id if i >= 0 else "" for i in index.tolist()]


def stops_in_calls(stops: pl.DataFrame, calls: pl.DataFrame, zones: list[Zone]) -> None:
    """Print the share of stops inside a zone that overlap a call of the vessel at that port."""
    port = _port_of(zones, stops["lon"].to_numpy(), stops["lat"].to_numpy())
    inside = (
        stops.with_columns(port_id=pl.Series(port))
        .filter(pl.col("port_id") != "")
        .with_row_index("s")
    )
    spans = calls.select(
        "mmsi", "port_id", "arrival_utc", call_end=pl.coalesce("departure_utc", "last_seen_utc")
    )
    hit = inside.join(spans, on=["mmsi", "port_id"]).filter(
        (pl.col("arrival_utc") <= pl.col("end")) & (pl.col("call_end") >= pl.col("start"))
    )
    found = hit["s"].n_unique()
    print(
        f"MovingPandas stops inside the geofences: {inside.height}; inside a call of the vessel "
        f"at that port: {found} ({100 * found / max(inside.height, 1):.1f} %)"
    )
    missed = inside.filter(~pl.col("s").is_in(hit["s"].implode()))
    if missed.height:
        with pl.Config(tbl_rows=20, tbl_width_chars=160):
            print("  not inside a call:", missed.drop("s"))


def call_positions(positions: pl.DataFrame, calls: pl.DataFrame, zones: list[Zone]) -> pl.DataFrame:
    """Return each call's positions (from arrival to departure or last seen) with where they are.

    ``zone_port``/``kind`` of the zone they are in, ``near`` within the exit buffer (1 km) of the
    call's port, ``far`` beyond 3 km of it.
    """
    index = zones_for_points(zones, positions["lon"].to_numpy(), positions["lat"].to_numpy())
    kinds = [zones[i].kind if i >= 0 else "" for i in index.tolist()]
    ports = [zones[i].port_id if i >= 0 else "" for i in index.tolist()]
    located = positions.with_columns(zone_port=pl.Series(ports), kind=pl.Series(kinds))
    spans = calls.with_row_index("c").select(
        "c", "mmsi", "port_id", "arrival_utc", end=pl.coalesce("departure_utc", "last_seen_utc")
    )
    rows = located.join(spans, on="mmsi").filter(
        pl.col("timestamp_utc").is_between(pl.col("arrival_utc"), pl.col("end"))
    )
    near = np.zeros(rows.height, dtype=bool)
    far = np.zeros(rows.height, dtype=bool)
    lon, lat = rows["lon"].to_numpy(), rows["lat"].to_numpy()
    for port_id in rows["port_id"].unique().to_list():
        union = shapely.union_all([z.geometry for z in zones if z.port_id == port_id])
        sel = (rows["port_id"] == port_id).to_numpy()
        near[sel] = shapely.intersects_xy(buffer_metres(union, 1000), lon[sel], lat[sel])
        far[sel] = ~shapely.intersects_xy(buffer_metres(union, 3000), lon[sel], lat[sel])
    return rows.with_columns(
        inside=pl.col("zone_port") == pl.col("port_id"), near=pl.Series(near), far=pl.Series(far)
    ).sort("c", "timestamp_utc")


def patterns(calls: pl.DataFrame, rows: pl.DataFrame, data_end: object) -> dict[str, int]:
    """Return the counts of the patterns of real reception (see the module docstring)."""
    seen_stop = "stop_observed" if "stop_observed" in calls.columns else "stopped"
    inside = rows.filter("inside")
    micros = inside["timestamp_utc"].dt.epoch("us").to_numpy()
    call = inside["c"].to_numpy()
    breaks = np.ones(inside.height, dtype=bool)
    breaks[1:] = (call[1:] != call[:-1]) | (np.diff(micros) > 4 * 3_600_000_000)
    # Holds: within 100 m of a position for 10 min or more, whatever the SOG.
    hold = position_stopped(
        inside["lat"].to_numpy(), inside["lon"].to_numpy(), micros, breaks, 100.0, 600e6
    )
    slow = pl.col("sog_kn") < 0.2
    per_call = (
        inside.with_columns(hold=pl.Series(hold))
        .group_by("c")
        .agg(
            anchorage_only=(pl.col("kind") == "anchorage").all(),
            anchored=(slow | pl.col("hold") | pl.col("nav_status").is_in([1, 5])).any(),
            n_slow=slow.sum(),
            slow_span=pl.col("timestamp_utc").filter(slow).max()
            - pl.col("timestamp_utc").filter(slow).min(),
            hold=pl.col("hold").any(),
            sog_blind_hold=(pl.col("hold") & (pl.col("sog_kn") >= 0.2)).any()
            & ~(pl.col("hold") & slow).any(),
        )
    )
    buffer_only = rows.group_by("c").agg(
        stop_in_buffer=(slow & ~pl.col("inside") & pl.col("near")).any(),
        stop_inside=(slow & pl.col("inside")).any(),
    )
    # A trip: two or more fixes in a row beyond 3 km of the port (a lone far fix is a bad one).
    far_run = pl.col("far") & (pl.col("far").shift(1) | pl.col("far").shift(-1)).over("c")
    trips = rows.with_columns(far_run=far_run.fill_null(False)).with_columns(
        trip=pl.col("far_run") & ~pl.col("far_run").shift(1).over("c").fill_null(False)
    )
    table = (
        calls.with_row_index("c")
        .join(per_call, on="c", how="left")
        .join(buffer_only, on="c", how="left")
        .join(trips.group_by("c").agg(trips=pl.col("trip").sum()), on="c", how="left")
    )
    end = pl.lit(data_end, dtype=pl.Datetime("us", "UTC"))
    open_calls = table.filter(pl.col("departure_utc").is_null())
    unheard = open_calls.filter(pl.col("last_seen_utc") < end - pl.duration(hours=24))
    holds = table.filter("sog_blind_hold")
    return {
        "calls": table.height,
        "anchorage-only calls": table.filter("anchorage_only").height,
        "anchorage-only calls without a slow fix, hold or at-anchor report": table.filter(
            pl.col("anchorage_only") & ~pl.col("anchored")
        ).height,
        "trips of 3 km or more inside a call": int(table["trips"].fill_null(0).sum()),
        "calls with such trips": table.filter(pl.col("trips") > 0).height,
        "calls with a seen stop on 1-3 slow fixes within 10 min, no hold": table.filter(
            pl.col(seen_stop)
            & pl.col("n_slow").is_between(1, 3)
            & (pl.col("slow_span") < timedelta(minutes=10))
            & ~pl.col("hold")
            & (pl.col("max_gap_h") <= 4.0)
        ).height,
        "calls with a hold (100 m, 10 min) while SOG never read below 0.2": holds.height,
        "... whose call says it stopped": holds.filter(seen_stop).height,
        "calls stopped only in the exit buffer": table.filter(
            pl.col("stopped") & pl.col("stop_in_buffer") & ~pl.col("stop_inside").fill_null(False)
        ).height,
        "open calls (no departure)": open_calls.height,
        "in port now, unheard for over 24 h": unheard.filter(pl.col("status") == "in_port").height,
        "status unknown": table.filter(pl.col("status") == "unknown").height,
        "calls longer than 72 h": table.filter(pl.col("duration_h") > 72).height,
    }


def show_vessel(mmsi: int, calls: pl.DataFrame) -> None:
    columns = [
        c
        for c in (
            "port_id", "arrival_utc", "departure_utc", "last_seen_utc", "duration_h", "status",
            "confidence", "arrival_observed", "departure_observed", "stopped", "stop_observed",
            "max_gap_h", "n_positions",
        )
        if c in calls.columns
    ]  # fmt: skip
    with pl.Config(tbl_rows=40, tbl_width_chars=220, tbl_cols=20, tbl_hide_column_data_types=True):
        print(f"\n{mmsi}:", calls.filter(pl.col("mmsi") == mmsi).select(columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-movingpandas", action="store_true")
    parser.add_argument("--vessel", type=int, action="append", default=None)
    parser.add_argument(
        "--stops", type=Path, default=None, help="read MovingPandas' stops from, or save them to"
    )
    args = parser.parse_args()
    if not SOCAL.is_file():
        print(f"{SOCAL} not found (set MONITOR_DATA): nothing to do")
        return
    positions = read_socal(SOCAL)
    zones = load_geojson(GEOFENCES)
    t = time.perf_counter()
    found = detect_all(positions, zones, DetectSettings())
    took = time.perf_counter() - t
    calls = found.calls
    print(
        f"{positions.height:,} positions, {positions['mmsi'].n_unique()} vessels: "
        f"{calls.height} calls, {found.transits.height} transits in {took:.1f} s"
    )
    stops = None
    if args.stops is not None and args.stops.is_file():
        stops = pl.read_parquet(args.stops)
    elif not args.skip_movingpandas:
        stops = movingpandas_stops(positions)
        if stops is not None and args.stops is not None:
            stops.write_parquet(args.stops)
    if stops is not None:
        stops_in_calls(stops, calls, zones)
    rows = call_positions(positions, calls, zones)
    data_end = positions["timestamp_utc"].max()
    for name, count in patterns(calls, rows, data_end).items():
        print(f"  {name:66} {count:6d}")
    for mmsi in args.vessel or NAMED:
        show_vessel(mmsi, calls)


if __name__ == "__main__":
    main()
