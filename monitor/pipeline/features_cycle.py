"""What the merge found of each silence from the reception grids, kept between detection runs.

Besides what it reads along a silence (:mod:`monitor.pipeline.along_cycle`), the merge asks the
grids who was heard near each end of it, who fell silent with it, which receiver stations heard
it and whether they kept hearing others (:func:`~monitor.analyse.gap_evidence.grid_features`).
All of that depends on the silence itself and on what the grids and the tracks' times hold from
a little before it to :func:`reach_us` after its end. A run keeps it per silence under
``calls/behaviour/features.parquet``; the next takes it again for a silence with the same row
that ended more than that reach before the first time anything it could read changed
(:func:`changed_from_us`), unless a station that told of it heard a cell it never had (or no
longer has one). A silence still open keeps what its start told, and asks its stations again
as it goes on. So a run judges again the recent silences, and builds the grids from the rows
those need only.

The stored features go with the stored parts (:mod:`monitor.pipeline.behaviour_cycle`): both
are written under the detection's incomplete mark.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from monitor.analyse.cells import PLACE_BITS
from monitor.analyse.gap_evidence import (
    FEATURES_SCHEMA,
    STATION_ACTIVITY_US,
    STATION_LOOKBACK_US,
)
from monitor.errors import StoreError
from monitor.pipeline.behaviour_buckets import PREFIX, BehaviourJob
from monitor.pipeline.pairs_cycle import differing
from monitor.store.fs import StorePath
from monitor.store.table import Table

log = logging.getLogger(__name__)

_US_PER_H = 3_600_000_000
_TEN_MIN_US = 600_000_000
#: A silence's row (as the merge gets it) but its track's number and, while open, its end.
_UNKEYED = ("track", "end_us", "duration_h")
FEATURES = Table(
    "calls/behaviour/features.parquet",
    {
        "track_id": pl.String(),
        "start_us": pl.Int64(),
        "end_us": pl.Int64(),
        "row": pl.UInt64(),
        **FEATURES_SCHEMA,
    },
    "what the reception grids told of each silence",
    "delete it and run `monitor detect` again",
)
#: The cells in which each receiver station ever heard anyone.
CELLS = Table(
    "calls/behaviour/cells.parquet",
    {"station": pl.Int64(), "cell": pl.Int64()},
    "cells heard by each receiver station",
    "delete it and run `monitor detect` again",
)


def reach_us(job: BehaviourJob) -> int:
    """Return how long after a silence's end what it is told can change: the stations' activity
    after it, and how long another vessel near it may stay unheard (three of its usual
    intervals, each shorter than ``gaps.min_gap_h``) from ten minutes after its start; and two
    bins of margin."""
    bin_us = job.specs()[0].bin_us
    usual_us = int(job.settings.gaps.min_gap_h * _US_PER_H)
    return max(STATION_ACTIVITY_US + STATION_LOOKBACK_US, 3 * usual_us + _TEN_MIN_US) + 2 * bin_us


def changed_from_us(
    stored: Mapping[str, pa.Table],
    found: Sequence[Mapping[str, pa.Table]],
    mmsis: pl.Series,
    job: BehaviourJob,
) -> int:
    """Return the first time at which anything the grids tell may differ between the
    ``stored`` part and the parts ``found`` again of the vessels ``mmsis``: a row of where a
    track was heard, a track's first or last time or its long intervals, or (from the track's
    first time on) how long three of its usual intervals are when over half an hour. A large
    number when nothing differs."""
    spec = job.specs()[0]
    first: list[int] = []
    for name, columns in (
        ("near", ["track_id", "code", "lat", "lon", "station"]),
        ("region", ["track_id", "code"]),
    ):
        diff = differing(
            _named(stored, name, mmsis), [_named(p, name, mmsis) for p in found], columns
        )
        if diff.height:
            first.append(spec.t0_us + int(diff["code"].min() >> PLACE_BITS) * spec.bin_us)  # type: ignore[operator]
    quiet = differing(
        _named(stored, "quiet", mmsis),
        [_named(p, "quiet", mmsis) for p in found],
        ["track_id", "from_us", "to_us"],
    )
    if quiet.height:
        first.append(int(quiet["from_us"].min()))  # type: ignore[arg-type]
    # Only three usual intervals over half an hour are asked of (:func:`grid_features`).
    asked = pl.max_horizontal(3 * pl.col("usual_us"), 3 * _TEN_MIN_US)
    old = _named(stored, "times", mmsis).select("track_id", "first_us", "last_us", asked=asked)
    new = pl.concat([_named(p, "times", mmsis) for p in found]).select(
        "track_id", "first_us", "last_us", asked=asked
    )
    both = old.join(new, on="track_id", how="full", suffix="_new")
    at = both.select(
        pl.when(pl.col("track_id").is_null() | pl.col("track_id_new").is_null())
        .then(pl.coalesce("first_us", "first_us_new"))
        .when(pl.col("asked") != pl.col("asked_new"))
        .then(pl.min_horizontal("first_us", "first_us_new"))
        .when(pl.col("first_us") != pl.col("first_us_new"))
        .then(pl.min_horizontal("first_us", "first_us_new"))
        .when(pl.col("last_us") != pl.col("last_us_new"))
        .then(pl.min_horizontal("last_us", "last_us_new"))
    ).to_series()
    if at.drop_nulls().len():
        first.append(int(at.min()))  # type: ignore[arg-type]
    return min(first, default=np.iinfo(np.int64).max)


def _named(part: Mapping[str, pa.Table], name: str, mmsis: pl.Series) -> pl.DataFrame:
    """Return the rows of a part's table ``name`` of the vessels ``mmsis``, tracks by id."""
    tracks = pl.from_arrow(part[PREFIX + "tracks"])
    assert isinstance(tracks, pl.DataFrame)
    ids = (
        tracks.with_row_index("track")
        .filter(pl.col("mmsi").is_in(mmsis.implode()))
        .select(pl.col("track").cast(pl.Int64), "track_id")
    )
    frame = pl.from_arrow(part[PREFIX + name])
    assert isinstance(frame, pl.DataFrame)
    return frame.join(ids, on="track").drop("track")


@dataclass
class KeptFeatures:
    """Takes from ``stored`` what the grids told of the silences nothing changed for (a
    :class:`~monitor.analyse.gap_evidence.KnownFeatures`), and keeps what the run found, to be
    stored (:meth:`save`)."""

    #: Stored features (:data:`FEATURES`), None: none (every silence is judged).
    stored: pl.DataFrame | None = None
    #: The first time anything the grids tell may have changed (:func:`changed_from_us`).
    changed_us: int = np.iinfo(np.int64).min
    #: How long after a silence's end that can change what it is told (:func:`reach_us`).
    reach_us: int = 0
    #: The cells stored with the features (:data:`CELLS`), None: unknown.
    stored_cells: pl.DataFrame | None = None
    #: The cells of this run (set by :meth:`see_cells`).
    cells: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CELLS.schema))
    #: Stations whose cells changed since the stored features.
    stations: pl.Series = field(default_factory=lambda: pl.Series("station", [], pl.Int64))
    #: What this run found (:data:`FEATURES`).
    found: pl.DataFrame | None = None

    def see_cells(self, rhythm: Mapping[str, npt.NDArray[np.int64]]) -> None:
        ids, start = rhythm["station_ids"], rhythm["cell_start"]
        cells = pl.DataFrame(
            {"station": np.repeat(ids, np.diff(start)), "cell": rhythm["station_cells"]},
            schema=CELLS.schema,
        )
        self.cells = cells
        if self.stored_cells is None:
            self.stored = None
            return
        diff = differing(self.stored_cells, [cells], ["station", "cell"])
        self.stations = diff["station"].unique()

    def _keys(self, gaps: pl.DataFrame) -> pl.DataFrame:
        row = gaps.drop(_UNKEYED, strict=False).hash_rows()
        return gaps.select(
            "track_id",
            "start_us",
            end_us=pl.when("open").then(-1).otherwise("end_us"),
            row=row,
        )

    def settled(self, gaps: pl.DataFrame) -> pl.DataFrame:
        keys = self._keys(gaps)
        if self.stored is None:
            return keys.select(
                whole=pl.repeat(False, keys.height), start=pl.repeat(False, keys.height)
            ).with_columns(pl.lit(None, dtype).alias(c) for c, dtype in FEATURES_SCHEMA.items())
        joined = keys.join(
            self.stored, on=["track_id", "start_us"], how="left", maintain_order="left",
            suffix="_stored",
        )  # fmt: skip
        same = (pl.col("row") == pl.col("row_stored")) & (
            pl.col("end_us") == pl.col("end_us_stored")
        )
        told = pl.col("decider_start").is_in(self.stations.implode()) | pl.col("decider_end").is_in(
            self.stations.implode()
        )
        out = joined.select(
            *FEATURES_SCHEMA,
            whole=(
                same
                & (pl.col("end_us") >= 0)
                & (pl.col("end_us") + self.reach_us < self.changed_us)
                & ~told
            ).fill_null(False),
            start=(same & (pl.col("start_us") + self.reach_us < self.changed_us)).fill_null(False),
        ).select("whole", "start", *FEATURES_SCHEMA)
        log.info(
            "detect: %d of %d silence(s) told by the grids as before, %d more their start",
            out["whole"].sum(), out.height, (out["start"] & ~out["whole"]).sum(),
        )  # fmt: skip
        return out

    def keep(self, gaps: pl.DataFrame, features: pl.DataFrame) -> None:
        self.found = self._keys(gaps).hstack(features)

    def save(self, root: StorePath | str) -> None:
        """Write what was found and the stations' cells (atomically; hold
        :func:`~monitor.store.calls.detection_writes` meanwhile)."""
        found = self.found if self.found is not None else pl.DataFrame(schema=FEATURES.schema)
        FEATURES.write(root, found)
        CELLS.write(root, self.cells)


def read_features(root: StorePath | str) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """Return the stored features and cells, None when unreadable (every silence is judged)."""
    try:
        if FEATURES.exists(root) and CELLS.exists(root):
            return FEATURES.read(root), CELLS.read(root)
    except StoreError as exc:
        log.warning("%s: judging every silence again", exc)
    return None, None
