"""What the merge found of each silence from the reception grids, kept between detection runs.

Besides what it reads along a silence (:mod:`monitor.pipeline.along_cycle`), the merge asks the
grids who was heard near each end of it, which receiver stations heard it and whether they
kept hearing others (:func:`~monitor.analyse.gap_evidence.grid_features`). That depends on the
silence itself and on the rows of where tracks were heard from a little before it to
:func:`reach_us` after its end. A run keeps it per silence under
``calls/behaviour/features.parquet``; the next takes it again for a silence with the same row
that ended more than that reach before the first row that changed (:func:`changed_from_us`).
Who of the tracks near it fell silent with it, and how regularly they were heard on, is asked
of every silence on every run, from those tracks' times (which go on as they are heard): it
needs no rows. A silence still open keeps what its start told, and asks its stations again,
from their rhythm, as it goes on; whether a silence stayed within its stations' reach is asked
of every one (the cells a station ever heard grow). So a run asks the rows again of the recent
silences only, and builds the grids from the rows those need: when and where the stations
heard anyone on the days it does not read comes from ``rhythm.parquet`` and
``cells.parquet``.

The stored features go with the stored parts (:mod:`monitor.pipeline.behaviour_cycle`): both
are written under the detection's incomplete mark.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from monitor.analyse.cells import PLACE_BITS
from monitor.analyse.gap_evidence import (
    KEPT_SCHEMA,
    STATION_ACTIVITY_US,
    STATION_LOOKBACK_US,
)
from monitor.analyse.reception_rows import rhythm_arrays, station_activity
from monitor.core.jit import I64
from monitor.errors import StoreError
from monitor.pipeline.behaviour_buckets import BehaviourJob
from monitor.pipeline.pairs_cycle import differing, vessel_rows
from monitor.store.fs import StorePath
from monitor.store.table import Table

log = logging.getLogger(__name__)

_NEVER = int(np.iinfo(np.int64).max)
#: A silence's row (as the merge gets it) but its track's number and, while open, its end.
_UNKEYED = ("track", "end_us", "duration_h")
FEATURES = Table(
    "calls/behaviour/features.parquet",
    {
        "track_id": pl.String(),
        "start_us": pl.Int64(),
        "end_us": pl.Int64(),
        "row": pl.UInt64(),
        **KEPT_SCHEMA,
    },
    "what the reception grids told of each silence",
    "delete it and run `monitor detect` again",
)
#: When each receiver station heard anyone, and in which cells, from :func:`station_activity`.
RHYTHM = Table(
    "calls/behaviour/rhythm.parquet",
    {"station": pl.Int64(), "bin": pl.Int64(), "n_tracks": pl.Int64()},
    "time bins in which each receiver station heard anyone",
    "delete the calls/behaviour folder and run `monitor detect` again",
)
CELLS = Table(
    "calls/behaviour/cells.parquet",
    {"station": pl.Int64(), "cell": pl.Int64(), "first_bin": pl.Int64()},
    "cells in which each receiver station heard anyone",
    "delete the calls/behaviour folder and run `monitor detect` again",
)
#: Reads the stored rows of a grid ("near", "region") from a time bin up to those the part
#: holds: the rows' columns, their tracks by id.
RowsFn = Callable[[str, int], pl.DataFrame]


def track_keys(track_ids: pl.Series) -> pl.Series:
    """Return a key per track id: 63 bits of its hash, the same in every run."""
    return pl.Series(
        "key",
        [
            int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") >> 1
            for t in track_ids.to_list()
        ],
        dtype=pl.Int64,
    )


def reach_us(job: BehaviourJob) -> int:
    """Return how long after a silence's end the rows can change what it is told: the
    stations' activity after it, and two bins of margin."""
    bin_us = job.specs()[0].bin_us
    return STATION_ACTIVITY_US + STATION_LOOKBACK_US + 2 * bin_us


def changed_from_us(
    stored: Mapping[str, pa.Table],
    found: Sequence[Mapping[str, pa.Table]],
    mmsis: pl.Series,
    job: BehaviourJob,
) -> int:
    """Return the first time at which a row of where a track was heard differs between the
    ``stored`` part and the parts ``found`` again of the vessels ``mmsis`` (a large number when
    none does)."""
    spec = job.specs()[0]
    first: list[int] = []
    for name, columns in (
        ("near", ["track_id", "code", "lat", "lon", "station"]),
        ("region", ["track_id", "code"]),
    ):
        diff = differing(
            vessel_rows(stored, name, mmsis), [vessel_rows(p, name, mmsis) for p in found], columns
        )
        if diff.height:
            first.append(spec.t0_us + int(diff["code"].min() >> PLACE_BITS) * spec.bin_us)  # type: ignore[operator]
    return min(first, default=_NEVER)


@dataclass
class KeptFeatures:
    """Takes from ``stored`` what the grids told of the silences nothing changed for (a
    :class:`~monitor.pipeline.behaviour_buckets.KnownGrids`), and keeps what the run found, to
    be stored (:meth:`save`); the part of the merge holds the rows of where tracks were heard
    from time bin ``loaded_bin`` on, ``older`` says when and where the stations heard anyone
    before, ``read_rows`` reads the rows before."""

    #: Stored features (:data:`FEATURES`), None: none (every silence is judged).
    stored: pl.DataFrame | None = None
    #: The first time a row of where tracks were heard may have changed
    #: (:func:`changed_from_us`).
    changed_us: int = np.iinfo(np.int64).min
    #: How long after a silence's end a changed row can change what it is told
    #: (:func:`reach_us`).
    reach_us: int = 0
    #: The first time bin of the rows of the part of the merge.
    loaded_bin: int = 0
    #: The stored :data:`RHYTHM` and :data:`CELLS` (those before ``loaded_bin`` are taken).
    older: tuple[pl.DataFrame, pl.DataFrame] | None = None
    read_rows: RowsFn | None = None
    #: What this run found (:data:`FEATURES`), and its stations' :data:`RHYTHM` and
    #: :data:`CELLS`.
    found: pl.DataFrame | None = None
    activity: tuple[pl.DataFrame, pl.DataFrame] | None = None
    #: The merge's tracks: number (track) and key.
    _keys_of: pl.DataFrame | None = None
    _settled: tuple[pl.DataFrame, pl.DataFrame] | None = None

    def name_tracks(self, ids: pl.DataFrame) -> None:
        """Take the ids of the merge's tracks (track: its number, track_id)."""
        self._keys_of = ids.select(pl.col("track").cast(pl.Int64), track_keys(ids["track_id"]))

    def rhythm(self, codes: I64, tracks: I64, stations: I64) -> dict[str, I64]:
        """Return the stations' rhythm and reach (:func:`rhythm_arrays`) of the rows of the
        near grid of the part (``stations``: of its first rows) and the older ones."""
        active, cells = station_activity(codes, tracks, stations)
        if self.older is not None:
            old_active, old_cells = self.older
            early = pl.col("bin") < self.loaded_bin
            active = pl.concat([old_active.filter(early), active]).sort("station", "bin")
            cells = (
                pl.concat([old_cells.filter(pl.col("first_bin") < self.loaded_bin), cells])
                .group_by("station", "cell")
                .agg(pl.col("first_bin").min())
                .sort("station", "cell")
            )
        self.activity = (active, cells)
        return rhythm_arrays(active, cells)

    def rows(self, name: str, from_bin: int) -> pl.DataFrame | None:
        """Return the stored rows of the grid ``name`` from time bin ``from_bin`` to
        ``loaded_bin`` (track_id, code and the others), None when there are none to add."""
        if from_bin >= self.loaded_bin or self.read_rows is None:
            return None
        rows = self.read_rows(name, from_bin)
        return rows.filter(pl.col("code") < (self.loaded_bin << PLACE_BITS))

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
        if self._settled is not None and self._settled[0].equals(keys):
            return self._settled[1]
        if self.stored is None:
            settled = keys.select(
                whole=pl.repeat(False, keys.height), start=pl.repeat(False, keys.height)
            ).with_columns(pl.lit(None, dtype).alias(c) for c, dtype in KEPT_SCHEMA.items())
        else:
            joined = keys.join(
                self.stored, on=["track_id", "start_us"], how="left", maintain_order="left",
                suffix="_stored",
            )  # fmt: skip
            same = (pl.col("row") == pl.col("row_stored")) & (
                pl.col("end_us") == pl.col("end_us_stored")
            )
            # Tracks by the merge's numbers, null where one is not among them.
            start = (
                same
                & (pl.col("start_us") + self.reach_us < self.changed_us)
                & pl.col("near_tracks_start").is_not_null()
            )
            whole = (
                start
                & (pl.col("end_us") >= 0)
                & (pl.col("end_us") + self.reach_us < self.changed_us)
                & pl.col("near_tracks_end").is_not_null()
            )
            settled = (
                joined.with_columns(self._numbers(joined))
                .select(*KEPT_SCHEMA, whole=whole.fill_null(False), start=start.fill_null(False))
                .select("whole", "start", *KEPT_SCHEMA)
            )
        self._settled = keys, settled
        return settled

    def _named(self) -> tuple[pl.Series, pl.Series]:
        """Return the keys of the merge's tracks and their numbers."""
        if self._keys_of is None:
            raise ValueError("the tracks of the merge are not named (name_tracks)")
        return self._keys_of["key"], self._keys_of["track"]

    def _numbers(self, stored: pl.DataFrame) -> pl.DataFrame:
        """Return the stored tracks near each end of the silences by the merge's numbers
        (null: one is not among the merge's tracks)."""
        keys, tracks = self._named()
        numbers = {}
        for name in ("near_tracks_start", "near_tracks_end"):
            found = stored[name].list.eval(
                pl.element().replace_strict(keys, tracks, default=None, return_dtype=pl.Int64)
            )
            whole = found.list.drop_nulls().list.len() == stored[name].list.len()
            numbers[name] = pl.when(whole).then(found)
        return stored.select(**numbers)

    def keep(self, gaps: pl.DataFrame, features: pl.DataFrame) -> None:
        known = self.settled(gaps)
        keys, tracks = self._named()
        lists = {
            name: features[name].list.eval(pl.element().replace_strict(tracks, keys)).list.sort()
            for name in ("near_tracks_start", "near_tracks_end")
        }
        self.found = self._keys(gaps).hstack(features.with_columns(**lists))
        log.info(
            "detect: the grids told of %d silence(s) again, %d as before, %d their start as "
            "before", int((~known["whole"] & ~known["start"]).sum()), int(known["whole"].sum()),
            int((known["start"] & ~known["whole"]).sum()),
        )  # fmt: skip

    def save(self, root: StorePath | str) -> None:
        """Write what was found and the stations' rhythm and cells (atomically; hold
        :func:`~monitor.store.calls.detection_writes` meanwhile)."""
        found = self.found if self.found is not None else pl.DataFrame(schema=FEATURES.schema)
        FEATURES.write(root, found)
        active, cells = self.activity or (
            pl.DataFrame(schema=RHYTHM.schema),
            pl.DataFrame(schema=CELLS.schema),
        )
        RHYTHM.write(root, active)
        CELLS.write(root, cells)


def read_features(
    root: StorePath | str,
) -> tuple[pl.DataFrame | None, tuple[pl.DataFrame, pl.DataFrame] | None]:
    """Return the stored features, and the stations' rhythm and cells; each None when
    unreadable (every silence is judged; every row is read)."""
    features: pl.DataFrame | None = None
    activity: tuple[pl.DataFrame, pl.DataFrame] | None = None
    try:
        if FEATURES.exists(root):
            features = FEATURES.read(root)
        if RHYTHM.exists(root) and CELLS.exists(root):
            activity = RHYTHM.read(root), CELLS.read(root)
    except StoreError as exc:
        log.warning("%s: judging every silence again", exc)
    return features, activity
