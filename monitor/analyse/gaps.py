"""Dark periods: silences of each track, where they happened and why the vessel went unheard.

A silence is an interval between two consecutive positions of a track of at least
``gaps.min_gap_h`` (``gaps.near_port_min_gap_h`` when either end is near a port), or the time
from a track's last position to the end of the data (an open silence). Its cause:

- ``coverage``: the vessel's own reception is sparse. Its usual interval (the interval that half
  of its time falls in, over ``gaps.window_h`` on the side where it is longer) is more than
  1 / ``gaps.coverage_ratio`` of the silence: a ship heard at every satellite pass, hours
  apart, is not dark when one pass misses it.
- ``outage``: the vessels near it fell silent with it: of the tracks heard near its last
  position in the half hour before, at least ``gaps.outage_share`` were heard nowhere in the
  half hour after (or likewise around its first position after the silence).
- ``range``: nobody was heard near it for most of the silence (the longest stretch without any
  other track near its path is over half the silence): it was where the receivers do not reach.
- ``dark``: none of these; the vessel was received regularly and others near it were heard
  while it was silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl
import shapely

from monitor.analyse.geofences import Zone, distances_m
from monitor.analyse.reception import (
    F64,
    ONWARD,
    ONWARD_MAX_US,
    OUT_AND_BACK,
    STRAIGHT,
    ReceptionGrid,
    reception_grid,
)
from monitor.core.geo import METRES_PER_DEG, METRES_PER_NM
from monitor.core.jit import I64, kernel
from monitor.schema import GAPS_SCHEMA, conform

if TYPE_CHECKING:
    from monitor.config import GapSettings

_US_PER_H = 3_600_000_000


@kernel
def _usual_interval_us(
    t_us: I64, track_start: I64, track: I64, row: I64, window_us: int, cap_us: int, after: bool
) -> tuple[I64, I64]:
    """Per silence starting at ``row``: the time-weighted median interval of its track within
    ``window_us`` before the silence (``after``: after it), leaving out intervals of
    ``cap_us`` or more (other silences); -1 without any interval there."""
    out = np.full(row.size, -1, dtype=np.int64)
    span = np.zeros(row.size, dtype=np.int64)
    buf = np.empty(4096, dtype=np.int64)
    for g in range(row.size):
        lo, hi = track_start[track[g]], track_start[track[g] + 1]
        n = 0
        if after:
            j = row[g] + 1
            if j >= hi:
                continue
            limit = t_us[j] + window_us
            while j + 1 < hi and t_us[j + 1] <= limit and n < buf.size:
                if t_us[j + 1] - t_us[j] < cap_us:
                    buf[n] = t_us[j + 1] - t_us[j]
                    n += 1
                j += 1
            span[g] = t_us[j] - t_us[row[g] + 1]
        else:
            j = row[g]
            limit = t_us[j] - window_us
            while j - 1 >= lo and t_us[j - 1] >= limit and n < buf.size:
                if t_us[j] - t_us[j - 1] < cap_us:
                    buf[n] = t_us[j] - t_us[j - 1]
                    n += 1
                j -= 1
            span[g] = t_us[row[g]] - t_us[j]
        if n == 0:
            continue
        values = np.sort(buf[:n])
        half = values.sum() / 2.0
        acc = 0
        for v in values:
            acc += v
            if acc >= half:
                out[g] = v
                break
    return out, span


@kernel
def _velocities(
    t_us: I64, lat: F64, lon: F64, track_start: I64, track: I64, row: I64, span_us: int
) -> F64:
    """Per silence after ``row``: the velocity (degrees of latitude and longitude per
    microsecond) over at least ``span_us`` up to its last position before, and from its first
    position after; 0 where no such fix is within four times ``span_us``."""
    out = np.zeros((row.size, 4), dtype=np.float64)
    for g in range(row.size):
        lo, hi = track_start[track[g]], track_start[track[g] + 1]
        i = row[g]
        j = i - 1
        while j >= lo and t_us[i] - t_us[j] < span_us:
            j -= 1
        if j >= lo and t_us[i] - t_us[j] <= 4 * span_us:
            dt = float(t_us[i] - t_us[j])
            out[g, 0] = (lat[i] - lat[j]) / dt
            out[g, 1] = ((lon[i] - lon[j] + 180.0) % 360.0 - 180.0) / dt
        i += 1
        if i >= hi:
            continue
        j = i + 1
        while j < hi and t_us[j] - t_us[i] < span_us:
            j += 1
        if j < hi and t_us[j] - t_us[i] <= 4 * span_us:
            dt = float(t_us[j] - t_us[i])
            out[g, 2] = (lat[j] - lat[i]) / dt
            out[g, 3] = ((lon[j] - lon[i] + 180.0) % 360.0 - 180.0) / dt
    return out


def _reported_velocities(
    frame: pl.DataFrame, row: I64, is_open: npt.NDArray[np.bool_], lat0: F64, lat1: F64
) -> F64:
    """Return the velocities (as ``_velocities``) that the vessel reported (SOG and COG) at its
    last position before and first after each silence; NaN where it reported none."""
    out = np.full((row.size, 4), np.nan)
    if "sog_kn" not in frame.columns or "cog_deg" not in frame.columns:
        return out
    sog = frame["sog_kn"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    cog = np.radians(frame["cog_deg"].cast(pl.Float64).fill_null(np.nan).to_numpy())
    deg_per_us = sog * METRES_PER_NM / METRES_PER_DEG / _US_PER_H
    north = deg_per_us * np.cos(cog)
    east = deg_per_us * np.sin(cog)
    after = np.minimum(row + 1, sog.size - 1)
    for col, rows, lat in ((0, row, lat0), (2, after, lat1)):
        out[:, col] = north[rows]
        out[:, col + 1] = east[rows] / np.maximum(np.cos(np.radians(lat)), 0.01)
    out[is_open, 2:] = np.nan
    return out


def _ahead(ends: F64, velocities: F64, start: I64, end: I64) -> tuple[F64, F64]:
    """Return where each silent vessel is taken to be ``ONWARD_MAX_US`` (at most half the
    silence) on from its last position, at its last velocity."""
    on = np.minimum((end - start) / 2.0, ONWARD_MAX_US)
    lat = ends[:, 0] + velocities[:, 0] * on
    lon = ends[:, 1] + velocities[:, 1] * on
    return np.clip(lat, -89.9, 89.9), (lon + 180.0) % 360.0 - 180.0


def _speed_kn(velocity: F64, lat: F64) -> F64:
    """Return speeds in knots of velocities in degrees per microsecond at ``lat``."""
    north = velocity[:, 0]
    east = velocity[:, 1] * np.cos(np.radians(lat))
    kn: F64 = np.hypot(north, east) * METRES_PER_DEG / METRES_PER_NM * _US_PER_H
    return kn


@dataclass(frozen=True)
class TrackArrays:
    """Tracks as arrays: positions sorted by track and time, track k at rows
    ``start[k]:start[k + 1]``."""

    track: I64
    start: I64
    t_us: I64
    lat: F64
    lon: F64

    @classmethod
    def of(cls, frame: pl.DataFrame, key: str) -> TrackArrays:
        """Return the arrays of ``frame`` (sorted by ``key`` and time)."""
        track = frame.select(pl.col(key).rle_id()).to_series().to_numpy().astype(np.int64)
        n_tracks = int(track[-1]) + 1 if track.size else 0
        return cls(
            track=track,
            start=np.searchsorted(track, np.arange(n_tracks + 1)).astype(np.int64),
            t_us=frame["timestamp_utc"].dt.epoch("us").to_numpy().astype(np.int64),
            lat=frame["lat"].to_numpy().astype(np.float64),
            lon=frame["lon"].to_numpy().astype(np.float64),
        )

    def grid(self, settings: GapSettings) -> ReceptionGrid:
        """Return the reception grid of these tracks."""
        return reception_grid(
            self.track,
            self.t_us,
            self.lat,
            self.lon,
            bin_s=settings.bin_min * 60.0,
            cell_km=settings.neighbour_km,
        )


def _distance_km(lat0: F64, lon0: F64, lat1: F64, lon1: F64) -> F64:
    dlon = (lon1 - lon0 + 180.0) % 360.0 - 180.0
    coslat = np.cos(np.radians((lat0 + lat1) / 2.0))
    km: F64 = np.hypot(dlon * coslat, lat1 - lat0) * (METRES_PER_DEG / 1000.0)
    return km


def silences(frame: pl.DataFrame, key: str, min_h: float, data_end: datetime) -> pl.DataFrame:
    """Return every interval of at least ``min_h`` between consecutive positions of a track of
    ``frame`` (sorted by ``key`` and time), and each track's last position if the data ends
    at least ``min_h`` later (``end_utc`` null: still silent).

    Columns: row (of the last position before), key, mmsi, start_utc, end_utc, start/end
    lat/lon, duration_h, open.
    """
    arrays = TrackArrays.of(frame, key)
    t = arrays.t_us
    end_us = int(data_end.timestamp() * 1e6)
    same = np.zeros(t.size, dtype=bool)
    same[:-1] = arrays.track[1:] == arrays.track[:-1]
    next_t = np.empty_like(t)
    next_t[:-1] = t[1:]
    next_t[~same] = end_us
    is_open = ~same
    long = (next_t - t) >= int(min_h * _US_PER_H)
    rows = np.flatnonzero(long)
    after = np.minimum(rows + 1, t.size - 1)
    open_ = is_open[rows]
    out = pl.DataFrame(
        {
            "row": rows.astype(np.int64),
            "track": arrays.track[rows],
            "start_us": t[rows],
            "end_us": np.where(open_, end_us, t[after]),
            "start_lat": arrays.lat[rows],
            "start_lon": arrays.lon[rows],
            "end_lat": np.where(open_, np.nan, arrays.lat[after]),
            "end_lon": np.where(open_, np.nan, arrays.lon[after]),
            "open": open_,
        }
    )
    ids = frame.select(list(dict.fromkeys([key, "mmsi"])))[rows]
    return pl.concat([ids, out], how="horizontal")


def features(
    frame: pl.DataFrame, gaps: pl.DataFrame, key: str, settings: GapSettings
) -> pl.DataFrame:
    """Return ``gaps`` (from :func:`silences`) with what the cause is judged by."""
    arrays = TrackArrays.of(frame, key)
    grid = arrays.grid(settings)
    row = gaps["row"].to_numpy().astype(np.int64)
    track = gaps["track"].to_numpy().astype(np.int64)
    start = gaps["start_us"].to_numpy().astype(np.int64)
    end = gaps["end_us"].to_numpy().astype(np.int64)
    lat0 = gaps["start_lat"].to_numpy().astype(np.float64)
    lon0 = gaps["start_lon"].to_numpy().astype(np.float64)
    is_open = gaps["open"].to_numpy()
    lat1 = np.where(is_open, lat0, gaps["end_lat"].to_numpy().astype(np.float64))
    lon1 = np.where(is_open, lon0, gaps["end_lon"].to_numpy().astype(np.float64))
    window = int(settings.window_h * _US_PER_H)
    cap = int(settings.min_gap_h * _US_PER_H)
    before_us, before_span = _usual_interval_us(
        arrays.t_us, arrays.start, track, row, window, cap, False
    )
    after_us, after_span = _usual_interval_us(
        arrays.t_us, arrays.start, track, row, window, cap, True
    )
    hour = _US_PER_H
    last_us, _ = _usual_interval_us(arrays.t_us, arrays.start, track, row, hour, cap, False)
    first_us, _ = _usual_interval_us(arrays.t_us, arrays.start, track, row, hour, cap, True)
    velocities = _velocities(
        arrays.t_us, arrays.lat, arrays.lon, arrays.start, track, row, 10 * 60_000_000
    )
    reported = _reported_velocities(frame, row, is_open, lat0, lat1)
    velocities = np.where(np.isnan(reported), velocities, reported)
    # Below 1 kn a vessel is taken to lie still: position noise is no course to follow.
    velocities[_speed_kn(velocities[:, :2], lat0) < 1.0, :2] = 0.0
    velocities[_speed_kn(velocities[:, 2:], lat1) < 1.0, 2:] = 0.0
    distance = _distance_km(lat0, lon0, lat1, lon1)
    hours = (end - start) / _US_PER_H
    implied_kn = distance * 1000.0 / METRES_PER_NM / np.maximum(hours, 1e-9)
    moving_kn = np.maximum(_speed_kn(velocities[:, :2], lat0), _speed_kn(velocities[:, 2:], lat1))
    mode = np.where(
        is_open,
        ONWARD,
        np.where((moving_kn < 1.0) | (implied_kn >= 0.5 * moving_kn), STRAIGHT, OUT_AND_BACK),
    ).astype(np.int64)
    ends = np.column_stack([lat0, lon0, lat1, lon1])
    n_bins, n_heard, longest = grid.quiet_along(track, start, end, ends, velocities, mode)
    half_hour = 1_800_000_000
    ten_min = 600_000_000
    near0, quiet0 = grid.fell_silent_with(
        track, start, lat0, lon0, lookback_us=half_hour, quiet_us=(ten_min, 4 * ten_min),
        before=True,
    )  # fmt: skip
    near1, quiet1 = grid.fell_silent_with(
        track, end, lat1, lon1, lookback_us=half_hour, quiet_us=(ten_min, 4 * ten_min),
        before=False,
    )  # fmt: skip
    near1[is_open] = 0
    quiet1[is_open] = 0
    return gaps.with_columns(
        mode=pl.Series(mode),
        duration_h=pl.Series(hours),
        distance_km=pl.Series(np.where(is_open, np.nan, distance)).fill_nan(None),
        implied_speed_kn=pl.Series(np.where(is_open, np.nan, implied_kn)).fill_nan(None),
        usual_before_h=pl.Series(np.where(before_us < 0, np.nan, before_us / _US_PER_H)),
        usual_after_h=pl.Series(np.where(after_us < 0, np.nan, after_us / _US_PER_H)),
        last_hour_h=pl.Series(np.where(last_us < 0, np.nan, last_us / _US_PER_H)),
        first_hour_h=pl.Series(np.where(first_us < 0, np.nan, first_us / _US_PER_H)),
        history_before_h=pl.Series(before_span / _US_PER_H),
        history_after_h=pl.Series(after_span / _US_PER_H),
        place_busy=pl.Series(np.minimum(grid.busy_share(lat0, lon0), grid.busy_share(lat1, lon1))),
        ahead_busy=pl.Series(
            np.where(
                mode == STRAIGHT, np.inf, grid.busy_share(*_ahead(ends, velocities, start, end))
            )
        ),
        bins=pl.Series(n_bins),
        heard_bins=pl.Series(n_heard),
        quiet_h=pl.Series(longest * grid.bin_us / _US_PER_H),
        near_start=pl.Series(near0),
        silent_start=pl.Series(quiet0),
        near_end=pl.Series(near1),
        silent_end=pl.Series(quiet1),
    )


def causes(feats: pl.DataFrame, settings: GapSettings) -> pl.Series:
    """Return the cause of each silence of ``feats`` (from :func:`features`)."""
    usual = pl.max_horizontal(
        pl.col("usual_before_h").fill_nan(None), pl.col("usual_after_h").fill_nan(None)
    )
    outage = (
        (pl.col("near_start") >= 2)
        & (pl.col("silent_start") > settings.outage_share * pl.col("near_start"))
    ) | (
        (pl.col("near_end") >= 2)
        & (pl.col("silent_end") > settings.outage_share * pl.col("near_end"))
    )
    quiet = 1.0 - pl.col("heard_bins") / pl.col("bins").clip(1)
    fading = (
        pl.col("last_hour_h").fill_nan(None)
        > pl.max_horizontal(3 * pl.col("usual_before_h").fill_nan(None), pl.lit(1 / 12))
    ) | (
        pl.col("first_hour_h").fill_nan(None)
        > pl.max_horizontal(3 * pl.col("usual_after_h").fill_nan(None), pl.lit(1 / 12))
    )
    history = pl.max_horizontal("history_before_h", "history_after_h")
    return feats.select(
        pl.when(
            usual.is_null()
            | (history < 1.0)
            | (pl.col("duration_h") < settings.coverage_ratio * usual)
        )
        .then(pl.lit("coverage"))
        .when(outage)
        .then(pl.lit("outage"))
        .when((quiet >= 0.5) & (fading | (pl.min_horizontal("place_busy", "ahead_busy") < 0.1)))
        .then(pl.lit("range"))
        .otherwise(pl.lit("dark"))
        .alias("cause")
    ).to_series()


def nearest_port(zones: Sequence[Zone], lat: F64, lon: F64) -> tuple[list[str | None], F64]:
    """Return per point the nearest port (its port, berth and anchorage zones together; area
    zones are no port) and the distance to it in km (0 inside, inf without ports)."""
    ports: dict[str, list[shapely.Geometry]] = {}
    for zone in zones:
        if zone.kind != "area":
            ports.setdefault(zone.port_id, []).append(zone.geometry)
    best_km = np.full(lat.size, np.inf)
    best: list[str | None] = [None] * lat.size
    placed = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    for port_id in sorted(ports):
        if placed.size == 0:
            break
        km = distances_m(shapely.union_all(ports[port_id]), lon[placed], lat[placed]) / 1000.0
        closer = km < best_km[placed]
        best_km[placed[closer]] = km[closer]
        for i in placed[closer]:
            best[i] = port_id
    return best, best_km


def where(start_km: F64, end_km: F64, is_open: npt.NDArray[np.bool_], near_km: float) -> pl.Series:
    """Return where each silence was, from its ends' distances to the nearest port (0 inside):
    ``arrived_dark`` (first seen again inside a port), ``departed_dark`` (last seen inside
    one), ``near_port`` (silent inside a port, or went dark or came back within ``near_km`` of
    one) or ``at_sea``."""
    start_in = start_km <= 0.0
    end_in = (end_km <= 0.0) & ~is_open
    near = (start_km <= near_km) | ((end_km <= near_km) & ~is_open)
    kind = np.where(
        start_in & end_in,
        "near_port",
        np.where(
            end_in, "arrived_dark",
            np.where(start_in, "departed_dark", np.where(near, "near_port", "at_sea")),
        ),
    )  # fmt: skip
    return pl.Series("kind", kind, dtype=pl.String)


def dark_periods(
    tracks: pl.DataFrame,
    zones: Sequence[Zone],
    settings: GapSettings,
    *,
    data_end: datetime,
    key: str = "mmsi",
) -> pl.DataFrame:
    """Return every silence of the tracks of ``tracks`` (columns ``key``, mmsi, timestamp_utc,
    lat, lon, speed_kn, and sog_kn/cog_deg when reported; sorted by ``key`` and time) up to
    ``data_end``, with where it was and its cause: :data:`GAPS_SCHEMA`."""
    shortest = min(settings.min_gap_h, settings.near_port_min_gap_h)
    found = silences(tracks, key, shortest, data_end)
    lat0, lon0 = found["start_lat"].to_numpy(), found["start_lon"].to_numpy()
    lat1, lon1 = found["end_lat"].to_numpy(), found["end_lon"].to_numpy()
    port0, km0 = nearest_port(zones, lat0, lon0)
    port1, km1 = nearest_port(zones, lat1, lon1)
    is_open = found["open"].to_numpy()
    km1 = np.where(is_open, np.inf, km1)
    nearer_end = km1 < km0
    hours = (found["end_us"] - found["start_us"]).to_numpy() / _US_PER_H
    near = np.minimum(km0, km1) <= settings.near_port_km
    keep = (hours >= settings.min_gap_h) | (near & (hours >= settings.near_port_min_gap_h))
    found = found.with_columns(
        near_port_id=pl.Series(
            [b if e else a for a, b, e in zip(port0, port1, nearer_end, strict=True)],
            dtype=pl.String,
        ),
        port_distance_km=pl.Series(np.minimum(km0, km1)),
        kind=where(km0, km1, is_open, settings.near_port_km),
    ).filter(pl.Series(keep))
    if found.is_empty():
        return pl.DataFrame(schema=GAPS_SCHEMA)
    feats = features(tracks, found, key, settings)
    feats = feats.with_columns(cause=causes(feats, settings))
    out = feats.with_columns(
        track_id=pl.col(key).cast(pl.String) if key != "mmsi" else pl.lit(None, pl.String),
        gap_start_utc=pl.from_epoch("start_us", "us").dt.replace_time_zone("UTC"),
        gap_end_utc=pl.when(~pl.col("open")).then(
            pl.from_epoch("end_us", "us").dt.replace_time_zone("UTC")
        ),
        end_lat=pl.col("end_lat").fill_nan(None),
        end_lon=pl.col("end_lon").fill_nan(None),
        port_distance_km=pl.col("port_distance_km").replace(np.inf, None),
        usual_interval_h=pl.max_horizontal(
            pl.col("usual_before_h").fill_nan(None), pl.col("usual_after_h").fill_nan(None)
        ),
        others_heard_share=pl.col("heard_bins") / pl.col("bins").clip(1),
    )
    return conform(out, GAPS_SCHEMA).sort("gap_start_utc", "mmsi")
