"""What the merge read of the reception grids along each silence, kept between detection runs.

Reading a grid along a silence (:meth:`~monitor.analyse.reception.ReceptionGrid.quiet_along`)
asks, bin by bin, whether anyone was heard near where the vessel is taken to have been. What it
reads depends on the silence (its track, where and how it moved at its ends, the bins read:
:func:`~monitor.analyse.reception.along_bins`) and on the grid's rows in those bins only. A run
keeps what it read per silence and reading under ``calls/behaviour/along.parquet``; the next
takes it again for a silence with the same inputs whose bins all lie before the first bin in
which a track's rows may have changed (:func:`changed_from`), and reads the others. A silence
still open, read up to an earlier end of the data, is read on from there: a vessel long gone
costs the bins since the last run, not its whole silence again.

The stored readings go with the stored parts (:mod:`monitor.pipeline.behaviour_cycle`): both
are written under the detection's incomplete mark.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from monitor.analyse.cells import PLACE_BITS
from monitor.analyse.reception import F64, ONWARD, ReceptionGrid, along_bins
from monitor.core.jit import I64
from monitor.errors import StoreError
from monitor.pipeline.behaviour_buckets import PREFIX, BehaviourJob
from monitor.pipeline.pairs_cycle import differing
from monitor.store.fs import StorePath
from monitor.store.table import Table

log = logging.getLogger(__name__)

#: What a reading depends on: which reading (``grid_features``'s "near", "region",
#: "straight"), the silent track, its start and end (-1 while open: its course does not depend
#: on it), how it moved, the bins read, and its ends and velocities as the bits of their floats.
_FLOATS = ("lat0", "lon0", "lat1", "lon1", "v_lat0", "v_lon0", "v_lat1", "v_lon1")
_KEY: dict[str, pl.DataType] = {
    "reading": pl.String(),
    "track_id": pl.String(),
    "start_us": pl.Int64(),
    "end_us": pl.Int64(),
    "mode": pl.Int64(),
    "first_bin": pl.Int64(),
    "last_bin": pl.Int64(),
    "step": pl.Int64(),
    **{name: pl.Int64() for name in _FLOATS},
}
#: What a reading found (:meth:`~monitor.analyse.reception.ReceptionGrid.quiet_along`).
_READ = ("n_bins", "n_heard", "longest", "run")
ALONG = Table(
    "calls/behaviour/along.parquet",
    {**_KEY, **{name: pl.Int64() for name in _READ}},
    "readings of the reception grids along the silences",
    "delete it and run `monitor detect` again",
)
#: A bin after any: nothing changed.
NEVER = np.iinfo(np.int64).max


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _rows(part: Mapping[str, pa.Table], name: str, mmsis: pl.Series | None) -> pl.DataFrame:
    """Return the grid rows ``name`` ("near", "region") of a part's tracks (of ``mmsis``
    only, if given) as (track_id, code)."""
    tracks = _frame(part[PREFIX + "tracks"]).with_row_index("track")
    if mmsis is not None:
        tracks = tracks.filter(pl.col("mmsi").is_in(mmsis.implode()))
    ids = tracks.select(pl.col("track").cast(pl.Int64), "track_id")
    return _frame(part[PREFIX + name]).select("track", "code").join(ids, on="track").drop("track")


def changed_from(
    stored: Mapping[str, pa.Table],
    whole: Sequence[Mapping[str, pa.Table]],
    mmsis: pl.Series,
    resumed: pl.DataFrame,
    job: BehaviourJob,
) -> int:
    """Return the first time bin of the grids in which a track's rows may differ between the
    ``stored`` part and the run's: the bin from the cut on of each vessel ``resumed`` (mmsi,
    x_us: its rows before are the stored ones), and the first bin in which the rows of the
    vessels ``mmsis`` found again over their whole history (the parts ``whole``) differ from
    their stored ones (:data:`NEVER`: none differ)."""
    spec = job.specs()[0]
    first = NEVER
    if resumed.height:
        x_us = resumed["x_us"].min()
        assert isinstance(x_us, int)
        first = -((spec.t0_us - x_us) // spec.bin_us)
    if mmsis.len():
        for name in ("near", "region"):
            new = [_rows(part, name, None) for part in whole]
            diff = differing(_rows(stored, name, mmsis), new, ["track_id", "code"])
            code = diff["code"].min()
            if isinstance(code, int):
                first = min(first, code >> PLACE_BITS)
    return first


@dataclass
class KeptAlong:
    """Reads the grids along silences (an :data:`~monitor.analyse.gap_evidence.AlongFn`),
    taking from ``stored`` what was read of a silence with the same inputs in bins before
    ``until_bin``, and keeps what it read, to be stored (:meth:`save`)."""

    #: Stored readings (:data:`ALONG`), None: none (every silence is read).
    stored: pl.DataFrame | None = None
    #: The first bin in which the grids' rows may differ from those the stored were read in.
    until_bin: int = NEVER
    #: Every reading of this run (:data:`ALONG`), and how many were read, not kept.
    found: list[pl.DataFrame] = field(default_factory=list)
    n_read: int = 0

    def __call__(
        self,
        name: str,
        grid: ReceptionGrid,
        gaps: pl.DataFrame,
        track: I64,
        start: I64,
        end: I64,
        ends: F64,
        velocities: F64,
        mode: I64,
    ) -> tuple[I64, I64, I64]:
        first, last, step = along_bins(grid.t0_us, grid.bin_us, start, end, mode)
        floats = np.column_stack([ends, velocities]).view(np.int64)
        keys = pl.DataFrame(
            {
                "reading": pl.Series([name] * track.size, dtype=pl.String),
                "track_id": gaps["track_id"],
                "start_us": start,
                "end_us": np.where(mode == ONWARD, -1, end),
                "mode": mode,
                "first_bin": first,
                "last_bin": last,
                "step": step,
                **{c: floats[:, i] for i, c in enumerate(_FLOATS)},
            },
            schema=_KEY,
        ).with_row_index("row")
        # Per silence: the bin to read on from, and what was read before it.
        since = np.vstack([first, np.zeros((4, track.size), dtype=np.int64)])
        if self.stored is not None:
            usable = self.stored.filter(
                pl.col("reading") == name, pl.col("last_bin") < self.until_bin
            ).rename({"last_bin": "read_to"})
            # The same silence read to the same bin; or still open, read to an earlier end.
            hit = keys.join(usable, on=[k for k in _KEY if k != "last_bin"]).filter(
                (pl.col("read_to") == pl.col("last_bin"))
                | ((pl.col("mode") == ONWARD) & (pl.col("read_to") < pl.col("last_bin")))
            )
            rows = hit["row"].to_numpy()
            since[0, rows] = hit["read_to"].to_numpy() + 1
            since[1:, rows] = hit.select(_READ).to_numpy().T
        out = since[1:].copy()
        todo = since[0] <= last
        if todo.any():
            read = grid.quiet_along(
                track[todo], start[todo], end[todo], ends[todo], velocities[todo], mode[todo],
                since=(since[0, todo], since[1, todo], since[2, todo], since[3, todo],
                       since[4, todo]),
            )  # fmt: skip
            out[:, todo] = np.vstack(read)
            self.n_read += int(todo.sum())
        found = (pl.Series(c, out[i]) for i, c in enumerate(_READ))
        self.found.append(keys.drop("row").with_columns(found))
        return out[0], out[1], out[2]

    def save(self, root: StorePath | str) -> None:
        """Write what was read (atomically; hold
        :func:`~monitor.store.calls.detection_writes` meanwhile)."""
        found = pl.concat(self.found) if self.found else pl.DataFrame(schema=ALONG.schema)
        ALONG.write(root, found)


def read_along(root: StorePath | str) -> pl.DataFrame | None:
    """Return the stored readings, None when unreadable (every silence is read again)."""
    try:
        return ALONG.read(root) if ALONG.exists(root) else None
    except StoreError as exc:
        log.warning("%s: reading every silence again", exc)
        return None
