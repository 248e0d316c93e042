"""Ship-to-ship encounters: two vessels side by side at sea, slowly, for hours.

Global Fishing Watch's definition: two vessels within ``encounters.max_distance_m`` (500 m) of
each other for at least ``min_duration_h`` (2 h) at a median speed under ``max_speed_kn``
(2 kn), outside port zones. No pair of vessels is compared unless they are near each other at
the same time: every track is resampled to a regular grid of ``grid_min`` minutes (UTC clock
times, so midnight is no boundary), and the samples of one grid time are joined by square cells
as large as ``max_distance_m``, each sample with those in its own and the neighbouring cells.
Samples where either vessel goes faster than twice ``max_speed_kn`` are left out, so that two
ships that sail in company and then lie together meet for as long as they lie together.

A track is resampled between two consecutive positions less than ``max_interp_h`` apart, in a
straight line; across a longer silence only when it was seen at the same spot before and after
it (within ``max_distance_m``): then it is taken to have stayed there, and an encounter that
needs those samples is ``partly_dark``. Runs of close samples of one pair with holes of at
most ``max_hole_min`` are one meeting; meetings of a pair less than ``merge_gap_h`` apart are
one encounter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from monitor.analyse.cells import (
    cell_rows_after,
    col_of,
    metres_between,
    neighbour_col,
    pack,
    row_of,
)
from monitor.analyse.geofences import Zone, zones_for_points
from monitor.analyse.reception import F64
from monitor.core.geo import METRES_PER_DEG, METRES_PER_NM
from monitor.core.jit import I64, Bool, kernel
from monitor.schema import ENCOUNTERS_SCHEMA, conform

if TYPE_CHECKING:
    from monitor.config import EncounterSettings

_US_PER_H = 3_600_000_000


@kernel
def _resample(
    track: I64,
    t_us: I64,
    lat: F64,
    lon: F64,
    sog_kn: F64,
    step_us: int,
    max_interp_us: int,
    spot_m: float,
    count_only: bool,
    out_track: I64,
    out_slot: I64,
    out_lat: F64,
    out_lon: F64,
    out_kn: F64,
    out_dark: Bool,
) -> int:
    """Write the grid samples of every track into the ``out_*`` arrays (or only count them);
    return how many there are. ``out_dark`` marks samples across a silence at one spot."""
    n = 0
    for i in range(t_us.size):
        last = i + 1 >= t_us.size or track[i + 1] != track[i]
        if last:
            if t_us[i] % step_us == 0:
                if not count_only:
                    out_track[n] = track[i]
                    out_slot[n] = t_us[i] // step_us
                    out_lat[n] = lat[i]
                    out_lon[n] = lon[i]
                    out_kn[n] = sog_kn[i] if not math.isnan(sog_kn[i]) else 0.0
                    out_dark[n] = False
                n += 1
            continue
        dt = t_us[i + 1] - t_us[i]
        if dt <= 0:
            continue
        apart = metres_between(lat[i], lon[i], lat[i + 1], lon[i + 1])
        across = dt > max_interp_us
        if across and apart > spot_m:
            continue
        first = -(-t_us[i] // step_us)
        end = (t_us[i + 1] - 1) // step_us
        if first > end:
            continue
        if count_only:
            n += end - first + 1
            continue
        implied = apart / (dt / 1e6) * 3600.0 / METRES_PER_NM
        if across or math.isnan(sog_kn[i]) or math.isnan(sog_kn[i + 1]):
            speed = implied
        else:
            speed = (sog_kn[i] + sog_kn[i + 1]) / 2.0
        dlon = (lon[i + 1] - lon[i] + 540.0) % 360.0 - 180.0
        for slot in range(first, end + 1):
            f = (slot * step_us - t_us[i]) / dt
            out_track[n] = track[i]
            out_slot[n] = slot
            out_lat[n] = lat[i] + (lat[i + 1] - lat[i]) * f
            out_lon[n] = (lon[i] + dlon * f + 540.0) % 360.0 - 180.0
            out_kn[n] = speed
            out_dark[n] = across
            n += 1
    return n


@kernel
def _keys(slot: I64, lat: F64, lon: F64, slot0: int, cell_deg: float) -> I64:
    out = np.empty(slot.size, dtype=np.int64)
    for i in range(slot.size):
        row = row_of(lat[i], cell_deg)
        out[i] = pack(slot[i] - slot0, row, col_of(lon[i], row, cell_deg))
    return out


@kernel
def _close_pairs(
    keys: I64, slot: I64, lat: F64, lon: F64, slot0: int, cell_deg: float, max_m: float
) -> tuple[I64, I64, F64]:
    """Return the index pairs (and distances) of samples of one grid time within ``max_m`` of
    each other, each pair once, from samples sorted by ``keys``."""
    cap = max(16, keys.size)
    first = np.empty(cap, dtype=np.int64)
    second = np.empty(cap, dtype=np.int64)
    metres = np.empty(cap, dtype=np.float64)
    n = 0
    for i in range(keys.size):
        row = row_of(lat[i], cell_deg)
        col = col_of(lon[i], row, cell_deg)
        s = slot[i] - slot0
        # Each pair once: in its own cell with the samples after it, in the next cell of its
        # row, and in the three cells around it in the row above.
        for k in range(5):
            r = row if k < 2 else row + 1
            base = col if k < 2 else col_of(lon[i], r, cell_deg)
            c = neighbour_col(base, k if k < 2 else k - 3, r, cell_deg)
            lo, hi = cell_rows_after(keys, i, pack(s, r, c))
            if k == 0:
                lo = i + 1
            for j in range(lo, hi):
                d = metres_between(lat[i], lon[i], lat[j], lon[j])
                if d > max_m:
                    continue
                if n == cap:
                    cap *= 2
                    first = np.resize(first, cap)
                    second = np.resize(second, cap)
                    metres = np.resize(metres, cap)
                first[n] = i
                second[n] = j
                metres[n] = d
                n += 1
    return first[:n], second[:n], metres[:n]


def resample(tracks: pl.DataFrame, key: str, settings: EncounterSettings) -> pl.DataFrame:
    """Return the grid samples of ``tracks`` (sorted by ``key`` and time): track (row index of
    the track), slot (grid time in steps since the epoch), lat, lon, speed_kn, dark."""
    track = tracks.select(pl.col(key).rle_id()).to_series().to_numpy().astype(np.int64)
    t_us = tracks["timestamp_utc"].dt.epoch("us").to_numpy().astype(np.int64)
    lat = tracks["lat"].to_numpy().astype(np.float64)
    lon = tracks["lon"].to_numpy().astype(np.float64)
    speed = tracks["speed_kn"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    step_us = int(settings.grid_min * 60e6)
    args = (
        track, t_us, lat, lon, speed, step_us, int(settings.max_interp_h * _US_PER_H),
        settings.max_distance_m,
    )  # fmt: skip
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0, dtype=np.float64)
    n = _resample(*args, True, empty_i, empty_i, empty_f, empty_f, empty_f, np.zeros(0, bool))
    out_track = np.empty(n, dtype=np.int64)
    out_slot = np.empty(n, dtype=np.int64)
    out_lat = np.empty(n, dtype=np.float64)
    out_lon = np.empty(n, dtype=np.float64)
    out_kn = np.empty(n, dtype=np.float64)
    out_dark = np.empty(n, dtype=bool)
    _resample(*args, False, out_track, out_slot, out_lat, out_lon, out_kn, out_dark)
    return pl.DataFrame(
        {
            "track": out_track,
            "slot": out_slot,
            "lat": out_lat,
            "lon": out_lon,
            "speed_kn": out_kn,
            "dark": out_dark,
        }
    )


def meeting_samples(
    tracks: pl.DataFrame, key: str, zones: Sequence[Zone], settings: EncounterSettings
) -> pl.DataFrame:
    """Return the grid samples of ``tracks`` (as :func:`resample`) that can be part of a
    meeting: those under twice ``max_speed_kn`` (see :func:`meetings`), in no port, berth or
    anchorage zone (grown by ``port_exclusion_m``): a ship at a berth meets no one at sea, and
    the point between two ships at the quays of one harbour may well be outside its zone."""
    samples = resample(tracks, key, settings)
    samples = samples.filter(pl.col("speed_kn") < 2 * settings.max_speed_kn)
    ports = [zone for zone in zones if zone.kind != "area"]
    if not ports or samples.is_empty():
        return samples
    lon, lat = samples["lon"].to_numpy(), samples["lat"].to_numpy()
    inside = zones_for_points(ports, lon, lat, buffer_m=settings.port_exclusion_m) >= 0
    return samples.filter(pl.Series(~inside))


def close_pairs(samples: pl.DataFrame, max_distance_m: float) -> pl.DataFrame:
    """Return every pair of samples of two tracks at one grid time within ``max_distance_m``:
    track_a < track_b, slot, their positions, speeds, dark flags and distance_m (and
    ``home_a``, the ``home`` of the sample of track_a, when ``samples`` have that column).
    Whether a pair is found depends on its two samples only, not on the others."""
    if samples.height < 2:
        return pl.DataFrame()
    cell_deg = max_distance_m / METRES_PER_DEG
    slot = samples["slot"].to_numpy()
    lat = samples["lat"].to_numpy()
    lon = samples["lon"].to_numpy()
    slot0 = int(slot.min())
    keys = _keys(slot, lat, lon, slot0, cell_deg)
    order = pl.Series(keys).arg_sort().to_numpy()
    i, j, metres = _close_pairs(
        keys[order], slot[order], lat[order], lon[order], slot0, cell_deg, max_distance_m
    )
    i, j = order[i], order[j]
    track = samples["track"].to_numpy()
    swap = track[i] > track[j]
    first, second = np.where(swap, j, i), np.where(swap, i, j)
    a = samples[first].select(
        track_a="track", slot="slot", lat_a="lat", lon_a="lon", kn_a="speed_kn", dark_a="dark"
    )
    b = samples[second].select(
        track_b="track", lat_b="lat", lon_b="lon", kn_b="speed_kn", dark_b="dark"
    )
    if "home" in samples.columns:
        a = a.with_columns(home_a=samples["home"].gather(first))
    return pl.concat([a, b], how="horizontal").with_columns(distance_m=pl.Series(metres))


def encounters(
    tracks: pl.DataFrame,
    zones: Sequence[Zone],
    settings: EncounterSettings,
    *,
    key: str = "mmsi",
    dark: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return the encounters between the tracks of ``tracks`` (columns ``key``, mmsi,
    timestamp_utc, lat, lon, speed_kn; sorted by ``key`` and time), :data:`ENCOUNTERS_SCHEMA`.

    ``dark`` (key, start_utc, end_utc; the key column first) lists when vessels were dark: an
    encounter that overlaps one of its two vessels' is ``partly_dark``. Without it, an encounter is
    ``partly_dark`` when it needs samples across a silence of one of the two.
    """
    samples = meeting_samples(tracks, key, zones, settings)
    pairs = close_pairs(samples, settings.max_distance_m)
    return meetings(pairs, track_identities(tracks, key), settings, dark=dark)


def meetings(
    pairs: pl.DataFrame,
    ids: pl.DataFrame,
    settings: EncounterSettings,
    *,
    dark: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return the encounters (:data:`ENCOUNTERS_SCHEMA`) made of the close ``pairs`` of samples
    (from :func:`close_pairs` of :func:`meeting_samples`) of the tracks ``ids``
    (:func:`track_identities`); ``dark`` as :func:`encounters` takes it. Depends on the set of
    pairs only, not on their order."""
    step_us = int(settings.grid_min * 60e6)
    if pairs.is_empty():
        return pl.DataFrame(schema=ENCOUNTERS_SCHEMA)
    max_hole = max(int(settings.max_hole_min * 60e6 // step_us), 0)
    # Two ships sailing in company are no meeting: samples where either is under way faster
    # than twice the limit split runs, so that a stop together after a passage together is
    # judged on its own.
    slow = pl.max_horizontal("kn_a", "kn_b") < 2 * settings.max_speed_kn
    pairs = (
        pairs.filter(slow)
        .sort("track_a", "track_b", "slot")
        .with_columns(
            run=(
                (pl.col("track_a") != pl.col("track_a").shift())
                | (pl.col("track_b") != pl.col("track_b").shift())
                | (pl.col("slot") - pl.col("slot").shift() > max_hole + 1)
            )
            .fill_null(True)
            .cum_sum()
        )
    )
    min_slots = settings.min_duration_h * _US_PER_H / step_us
    runs = (
        pairs.group_by("run", maintain_order=True)
        .agg(
            pl.col("track_a").first(),
            pl.col("track_b").first(),
            first=pl.col("slot").first(),
            last=pl.col("slot").last(),
            speed=pl.concat_list("kn_a", "kn_b").explode().median(),
        )
        .filter(
            (pl.col("last") - pl.col("first") >= min_slots)
            & (pl.col("speed") < settings.max_speed_kn)
        )
    )
    merge_slots = settings.merge_gap_h * _US_PER_H / step_us
    runs = runs.with_columns(
        encounter=(
            (pl.col("track_a") != pl.col("track_a").shift())
            | (pl.col("track_b") != pl.col("track_b").shift())
            | (pl.col("first") - pl.col("last").shift() >= merge_slots)
        )
        .fill_null(True)
        .cum_sum()
    )
    found = (
        pairs.join(runs.select("run", "encounter"), on="run")
        .group_by("encounter", maintain_order=True)
        .agg(
            pl.col("track_a").first(),
            pl.col("track_b").first(),
            first=pl.col("slot").first(),
            last=pl.col("slot").last(),
            lat=((pl.col("lat_a") + pl.col("lat_b")) / 2).median(),
            lon=((pl.col("lon_a") + pl.col("lon_b")) / 2).median(),
            median_distance_m=pl.col("distance_m").median(),
            median_speed_kn=pl.concat_list("kn_a", "kn_b").explode().median(),
            n_samples=pl.len().cast(pl.UInt32),
            across_silence=(pl.col("dark_a") | pl.col("dark_b")).any(),
        )
    )
    for side in ("a", "b"):
        found = found.join(
            ids.rename({name: f"{name}_{side}" for name in ids.columns}), on=f"track_{side}"
        )
    found = found.with_columns(
        start_utc=pl.from_epoch(pl.col("first") * step_us, "us").dt.replace_time_zone("UTC"),
        end_utc=pl.from_epoch(pl.col("last") * step_us, "us").dt.replace_time_zone("UTC"),
    ).with_columns(
        duration_h=(pl.col("end_utc") - pl.col("start_utc")).dt.total_microseconds() / _US_PER_H,
    )
    if dark is None:
        found = found.with_columns(partly_dark=pl.col("across_silence"))
    else:
        found = found.with_columns(partly_dark=_overlaps_dark(found, dark))
    return conform(found, ENCOUNTERS_SCHEMA).sort("start_utc", "mmsi_a", "mmsi_b")


def track_identities(tracks: pl.DataFrame, key: str) -> pl.DataFrame:
    """Return per track (row index ``track``, as :func:`resample` numbers them): key, mmsi and
    track_id (null when tracks are MMSIs)."""
    ids = tracks.select(
        pl.col(key).alias("key"),
        "mmsi",
        (pl.col(key).cast(pl.String) if key != "mmsi" else pl.lit(None, pl.String)).alias(
            "track_id"
        ),
    ).unique("key", keep="first", maintain_order=True)
    return ids.with_row_index("track").with_columns(pl.col("track").cast(pl.Int64))


def _overlaps_dark(found: pl.DataFrame, dark: pl.DataFrame) -> pl.Series:
    """Return per encounter whether either vessel was dark during it (``dark``: key,
    start_utc, end_utc)."""
    spans = dark.select(pl.col(dark.columns[0]).alias("key"), d_start="start_utc", d_end="end_utc")
    hits = pl.concat(
        [
            found.with_row_index("row")
            .select("row", "start_utc", "end_utc", key=pl.col(f"key_{side}"))
            .join(spans.with_columns(pl.col("key").cast(found[f"key_{side}"].dtype)), on="key")
            .filter(
                (pl.col("d_start") < pl.col("end_utc")) & (pl.col("d_end") > pl.col("start_utc"))
            )
            .select("row")
            for side in ("a", "b")
        ]
    )["row"].unique()
    return pl.Series(np.isin(np.arange(found.height), hits.to_numpy()))
