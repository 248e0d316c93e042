"""Positions for analysis: sorted by vessel and time, and their speeds.

Pure functions on polars frames; every step works on all vessels at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.core.geo import METRES_PER_DEG, METRES_PER_NM


def _neighbour(name: str, k: int, key: str) -> pl.Expr:
    """Return column ``name`` ``k`` rows away (negative: ahead) when ``key`` is the same there."""
    return pl.when(pl.col(key).shift(k) == pl.col(key)).then(pl.col(name).shift(k))


def _distance_m(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    """Equirectangular distance: exact enough for the few km between consecutive fixes."""
    dlon = ((lon2 - lon1 + 180.0) % 360.0) - 180.0
    coslat = ((lat1 + lat2) * (np.pi / 360.0)).cos()
    return ((dlon * coslat).pow(2) + (lat2 - lat1).pow(2)).sqrt() * METRES_PER_DEG


def _seconds(expr: pl.Expr) -> pl.Expr:
    return expr.dt.total_microseconds().cast(pl.Float64) / 1e6


@dataclass(frozen=True)
class SortedRows:
    """A frame's rows in vessel and time order, before the frame itself is reordered.

    Reordering every column is memory-bound (a cache miss per row and column), so callers that
    also drop or regroup rows look at a few sorted columns first and gather once, with
    :meth:`take`.
    """

    frame: pl.DataFrame
    #: Row of ``frame`` at each sorted position.
    order: npt.NDArray[np.int64]
    #: Columns rebuilt in sorted order from the sort keys, which need no gather.
    rebuilt: tuple[pl.Series, ...] = ()

    def columns(self, names: Sequence[str]) -> pl.DataFrame:
        """Return columns ``names`` (those of them in the frame) in sorted order: one gather."""
        rebuilt = {s.name: s for s in self.rebuilt}
        present = [name for name in names if name in self.frame.columns]
        gathered = self.frame.select([n for n in present if n not in rebuilt])[self.order]
        return gathered.with_columns(rebuilt[n] for n in present if n in rebuilt).select(present)

    def take(
        self,
        positions: npt.NDArray[np.int64 | np.bool_] | None = None,
        done: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Return the sorted frame, or only the rows at sorted ``positions`` (indices, in their
        order, or a mask).

        ``done`` holds columns the caller already has in sorted order (from :meth:`columns`):
        with a mask, taking from them is a cheap filter.
        """
        ready = done if done is not None else pl.DataFrame(list(self.rebuilt))
        if done is not None:
            ready = ready.with_columns(s for s in self.rebuilt if s.name not in done.columns)
        rest = self.frame.drop(ready.columns)
        if positions is not None and positions.dtype == np.bool_:
            ready = ready.filter(pl.Series(positions)) if ready.width else ready
        elif positions is not None:
            ready = ready[positions] if ready.width else ready
        if rest.width:
            rest = rest[self.order if positions is None else self.order[positions]]
        together = ready if not rest.width else rest.hstack(ready) if ready.width else rest
        return together.select(self.frame.columns)


def sorted_rows(frame: pl.DataFrame) -> SortedRows:
    """Return the order of ``frame``'s rows by mmsi, timestamp, lat, lon, whatever their order."""
    n = frame.height
    if n < 2:
        return SortedRows(frame, np.arange(n, dtype=np.int64))
    # A filtered frame comes in many chunks, and a gather across chunks is several times slower.
    frame = frame.rechunk()
    micros = frame["timestamp_utc"].dt.epoch("us").to_numpy()
    seconds = micros // 1_000_000
    vessels = np.sort(frame["mmsi"].unique().to_numpy())
    offset = (seconds - seconds.min()).astype(np.uint64)
    row_bits = (n - 1).bit_length()
    time_bits = int(offset.max()).bit_length()
    vessel_bits = (len(vessels) - 1).bit_length()
    if row_bits + time_bits + vessel_bits > 64:
        ordered = frame.sort("mmsi", "timestamp_utc", "lat", "lon")
        return SortedRows(ordered, np.arange(n, dtype=np.int64))
    # Vessel rank, second and row number packed in one integer: sorting plain integers (SIMD in
    # numpy) is many times faster than an argsort or a multi-column sort, and the low bits of the
    # sorted keys are the permutation.
    rank = (
        frame["mmsi"]
        .replace_strict(vessels, np.arange(len(vessels)), return_dtype=pl.UInt64)
        .to_numpy()
    )
    key = (rank << np.uint64(time_bits + row_bits)) | (offset << np.uint64(row_bits))
    key |= np.arange(n, dtype=np.uint64)
    key.sort()
    order = (key & np.uint64((1 << row_bits) - 1)).astype(np.int64)
    group = key >> np.uint64(row_bits)
    same = group[1:] == group[:-1]
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():
        # Fixes of one vessel within one second: order them by exact time, then position and
        # speed, so that the result does not depend on the order in which they were stored
        # (nor, for fixes equal in all of these, on the sort: it keeps their order).
        slots = np.flatnonzero(tied)
        rows = order[slots]
        ties = ["__group", "timestamp_utc", "lat", "lon"]
        ties += ["sog_kn"] if "sog_kn" in frame.columns else []
        order[slots] = (
            frame[rows]
            .with_columns(__group=pl.Series(group[slots]), __row=pl.Series(rows))
            .sort(ties, nulls_last=True, maintain_order=True)["__row"]
            .to_numpy()
        )
    # Rebuild mmsi, and the times when they are whole seconds (AIS tag blocks and CSV exports),
    # from the sorted keys: only the other columns need a gather.
    sorted_mmsi = vessels[(key >> np.uint64(time_bits + row_bits)).astype(np.int64)]
    rebuilt = [pl.Series("mmsi", sorted_mmsi, dtype=frame.schema["mmsi"])]
    time_dtype = frame.schema["timestamp_utc"]
    whole_seconds = (
        isinstance(time_dtype, pl.Datetime)
        and time_dtype.time_unit == "us"
        and frame["timestamp_utc"].null_count() == 0
        and not (micros % 1_000_000).any()
    )
    if whole_seconds:
        time_mask = np.uint64((1 << time_bits) - 1)
        sorted_s = ((key >> np.uint64(row_bits)) & time_mask).astype(np.int64) + seconds.min()
        stamps = pl.Series("timestamp_utc", sorted_s * 1_000_000, dtype=pl.Int64)
        rebuilt.append(stamps.cast(time_dtype))
    return SortedRows(frame, order, tuple(rebuilt))


def sort_by_vessel_and_time(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` sorted by mmsi, timestamp, lat, lon, whatever order it came in."""
    return sorted_rows(frame).take()


def with_speeds(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` (sorted by track and time) with ``speed_kn`` in place of ``sog_kn``.

    ``speed_kn`` is the SOG, or where it is missing the speed implied by the farthest of up to 3
    neighbouring fixes of the same track on each side: noise of a few metres between close fixes
    would otherwise read as speed. Rows belong to one track when their ``track`` column (else
    their ``mmsi``) is equal.
    """
    if frame["sog_kn"].null_count() == 0:
        return frame.rename({"sog_kn": "speed_kn"})
    key = "track" if "track" in frame.columns else "mmsi"

    def far(name: str, sign: int) -> pl.Expr:
        return pl.coalesce(*(_neighbour(name, sign * k, key) for k in (3, 2, 1)), pl.col(name))

    back_t, ahead_t = far("timestamp_utc", 1), far("timestamp_utc", -1)
    implied = (
        _distance_m(far("lat", 1), far("lon", 1), far("lat", -1), far("lon", -1))
        / (_seconds(ahead_t - back_t)).replace(0.0, None)
        / METRES_PER_NM
        * 3600.0
    )
    return frame.with_columns(speed_kn=pl.coalesce(pl.col("sog_kn"), implied)).drop("sog_kn")
