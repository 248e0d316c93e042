"""Dark periods: silences of each track, where they happened and why the vessel went unheard.

A silence is an interval between two consecutive positions of a track of at least
``gaps.min_gap_h``, or of ``gaps.near_port_min_gap_h`` when either end is within
``gaps.near_port_km`` of a port, or the time from a track's last position to the end of the data
(an open silence). Where it was: ``arrived_dark`` (first seen again inside a port),
``departed_dark`` (last seen inside one), ``near_port`` (silent inside a port, or went dark or
came back near one) or ``at_sea``. Its cause, ``dark``, ``coverage``, ``outage`` or ``range``,
is judged as :mod:`monitor.analyse.gap_evidence` explains.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.analyse.gap_evidence import (
    AlongFn,
    KnownFeatures,
    TrackArrays,
    causes,
    grid_features,
    own_features,
    read_along,
)
from monitor.analyse.geofences import Zone, nearest_port
from monitor.analyse.reception import F64, ReceptionGrid
from monitor.schema import GAPS_SCHEMA, conform

if TYPE_CHECKING:
    from monitor.config import GapSettings

_US_PER_H = 3_600_000_000


def silences(
    frame: pl.DataFrame, arrays: TrackArrays, key: str, min_h: float, data_end: datetime
) -> pl.DataFrame:
    """Return every interval of at least ``min_h`` between consecutive positions of a track of
    ``frame`` (sorted by ``key`` and time; ``arrays`` the same as arrays), and each track's last
    position if the data ends at least ``min_h`` later (still silent: ``open``).

    Columns: ``key``, mmsi, row (of the last position before), track (index), start_us,
    end_us (the end of the data while open), start/end lat/lon (NaN while open), open.
    """
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
    arrays = TrackArrays.of(tracks, key)
    found = silence_evidence(tracks, arrays, zones, settings, key=key)
    grid = arrays.grid(settings, settings.neighbour_km, stations=True)
    region = arrays.grid(settings, settings.region_km)
    return judged(found, grid, region, settings, key=key, data_end=data_end)


def silence_evidence(
    tracks: pl.DataFrame,
    arrays: TrackArrays,
    zones: Sequence[Zone],
    settings: GapSettings,
    *,
    key: str,
) -> pl.DataFrame:
    """Return the silences of ``tracks`` (as :func:`dark_periods` takes them; ``arrays`` the
    same as arrays) long enough to count, with where they were and what the silent track's own
    positions tell of them (:func:`~monitor.analyse.gap_evidence.own_features`): everything
    but what the other vessels tell. Depends on each track's positions only, not on when the
    data ends: every track's last position is a silence still open (``open``), whose end,
    length and whether it is long enough to count :func:`judged` settles."""
    shortest = min(settings.min_gap_h, settings.near_port_min_gap_h)
    found = silences(tracks, arrays, key, shortest, _NEVER)
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
    return own_features(tracks, arrays, found, settings)


#: The end of a silence still open, before the end of the data is known: later than any.
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def open_until(found: pl.DataFrame, data_end: datetime, settings: GapSettings) -> pl.DataFrame:
    """Return ``found`` with the silences still open ending at ``data_end``, those then too
    short to count left out (as :func:`silences` and :func:`silence_evidence` judge them)."""
    end_us = int(data_end.timestamp() * 1e6)
    is_open = found["open"].to_numpy()
    start = found["start_us"].to_numpy()
    end = np.where(is_open, end_us, found["end_us"].to_numpy())
    hours = (end - start) / _US_PER_H
    near = found["port_distance_km"].to_numpy() <= settings.near_port_km
    keep = (
        ~is_open | (hours >= settings.min_gap_h) | (near & (hours >= settings.near_port_min_gap_h))
    )
    return found.with_columns(
        end_us=pl.Series(end, dtype=found["end_us"].dtype),
        duration_h=pl.Series(np.where(is_open, hours, found["duration_h"].to_numpy())),
    ).filter(pl.Series(keep))


def judged(
    found: pl.DataFrame,
    grid: ReceptionGrid,
    region: ReceptionGrid,
    settings: GapSettings,
    *,
    key: str,
    data_end: datetime,
    along: AlongFn = read_along,
    known: KnownFeatures | None = None,
) -> pl.DataFrame:
    """Return the silences ``found`` (from :func:`silence_evidence`, ``track`` numbered as in
    the grids), those still open lasting until ``data_end``, with their causes, judged with
    the reception ``grid`` (cells of ``gaps.neighbour_km``) and ``region``
    (``gaps.region_km``), read along the silences by ``along``, what ``known`` says is settled
    taken from it: :data:`GAPS_SCHEMA`."""
    found = open_until(found, data_end, settings)
    if found.is_empty():
        return pl.DataFrame(schema=GAPS_SCHEMA)
    feats = grid_features(found, grid, region, along, known)
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
