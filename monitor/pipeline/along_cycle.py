"""What the merge read of the reception grids along each silence, kept between detection runs.

Reading a grid along a silence (:meth:`~monitor.analyse.reception.ReceptionGrid.quiet_along`)
asks, bin by bin, whether anyone was heard near where the vessel is taken to have been. What it
reads depends on the silence (its track, where and how it moved at its ends, the bins read:
:func:`~monitor.analyse.reception.along_bins`) and on the grid's rows in those bins only. A run
keeps what it read per silence and reading under ``calls/behaviour/along.parquet``; the next
takes it again for a silence with the same inputs unless it asked of a bin and cell whose
rows may have changed (:func:`changed_codes`), and reads the others. A silence
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

from monitor.analyse.reception import (
    F64,
    ONWARD,
    GridGeometry,
    ReceptionGrid,
    along_bins,
    along_touched,
)
from monitor.core.jit import I64
from monitor.errors import StoreError
from monitor.pipeline.pairs_cycle import differing, vessel_rows
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
#: The grid each reading of ``grid_features`` reads.
_GRID_OF = {"near": "near", "region": "region", "straight": "region"}
_NONE = np.zeros(0, dtype=np.int64)
#: What a reading found (:meth:`~monitor.analyse.reception.ReceptionGrid.quiet_along`).
_READ = ("n_bins", "n_heard", "longest", "run")
ALONG = Table(
    "calls/behaviour/along.parquet",
    {**_KEY, **{name: pl.Int64() for name in _READ}},
    "readings of the reception grids along the silences",
    "delete it and run `monitor detect` again",
)


def changed_codes(
    stored: Mapping[str, pa.Table], found: Sequence[Mapping[str, pa.Table]], mmsis: pl.Series
) -> dict[str, I64]:
    """Return, per grid ("near", "region"), the codes (bin and cell, sorted) of the rows that
    differ between the ``stored`` part and the parts ``found`` of the vessels ``mmsis``: where
    the grids may have changed."""
    changed = {}
    for name in ("near", "region"):
        new = [vessel_rows(part, name, mmsis) for part in found]
        diff = differing(vessel_rows(stored, name, mmsis), new, ["track_id", "code"])
        changed[name] = np.sort(diff["code"].unique().to_numpy().astype(np.int64))
    return changed


@dataclass
class KeptAlong:
    """Reads the grids along silences (an :data:`~monitor.analyse.gap_evidence.AlongFn`),
    taking from ``stored`` what was read of a silence with the same inputs unless that asks of
    rows ``changed`` since (reading on where a silence still open goes on), and keeps what it
    read, to be stored (:meth:`save`)."""

    #: Stored readings (:data:`ALONG`), None: none (every silence is read).
    stored: pl.DataFrame | None = None
    #: Per grid ("near", "region"), the codes of the rows that may differ from those the
    #: stored were read in (:func:`changed_codes`).
    changed: Mapping[str, I64] = field(default_factory=dict)
    #: Every reading of this run (:data:`ALONG`).
    found: list[pl.DataFrame] = field(default_factory=list)

    def _since(
        self,
        name: str,
        grid: GridGeometry,
        gaps: pl.DataFrame,
        track: I64,
        start: I64,
        end: I64,
        ends: F64,
        velocities: F64,
        mode: I64,
    ) -> tuple[pl.DataFrame, I64, I64, I64]:
        """Return the keys of the readings, per silence the bin to read on from and what was
        read before it (5 rows), and the last bin and step of each reading."""
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
            usable = self.stored.filter(pl.col("reading") == name).rename({"last_bin": "read_to"})
            # The same silence read to the same bin; or still open, read to an earlier end.
            hit = keys.join(usable, on=[k for k in _KEY if k != "last_bin"]).filter(
                (pl.col("read_to") == pl.col("last_bin"))
                | ((pl.col("mode") == ONWARD) & (pl.col("read_to") < pl.col("last_bin")))
            )
            rows = hit["row"].to_numpy()
            read_to = hit["read_to"].to_numpy()
            # Kept unless what it read asks of rows that changed.
            touched = along_touched(
                self.changed.get(_GRID_OF[name], _NONE), grid, start[rows],
                end[rows], ends[rows], velocities[rows], mode[rows],
                (first[rows], read_to, step[rows]),
            )  # fmt: skip
            rows, read_to = rows[~touched], read_to[~touched]
            since[0, rows] = read_to + 1
            since[1:, rows] = hit.filter(pl.Series(~touched)).select(_READ).to_numpy().T
        return keys, since, last, step

    def first_bin(
        self,
        name: str,
        grid: GridGeometry,
        gaps: pl.DataFrame,
        track: I64,
        start: I64,
        end: I64,
        ends: F64,
        velocities: F64,
        mode: I64,
    ) -> int:
        """Return the first time bin the reading ``name`` of these silences will read (a
        large number: none)."""
        _, since, last, _ = self._since(name, grid, gaps, track, start, end, ends, velocities, mode)
        todo = since[0] <= last
        return int(since[0, todo].min()) if todo.any() else np.iinfo(np.int64).max

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
        keys, since, last, step = self._since(
            name, grid, gaps, track, start, end, ends, velocities, mode
        )
        out = since[1:].copy()
        todo = since[0] <= last
        if todo.any():
            read = grid.quiet_along(
                track[todo], start[todo], end[todo], ends[todo], velocities[todo], mode[todo],
                since=(since[0, todo], since[1, todo], since[2, todo], since[3, todo],
                       since[4, todo]),
            )  # fmt: skip
            out[:, todo] = np.vstack(read)
        n_bins = (np.maximum(last - since[0] + 1, 0) + step - 1) // step
        log.info(
            "detect: the grids read along %d of %d silence(s) (%s), %d bin(s)",
            int(todo.sum()), track.size, name, int(n_bins.sum()),
        )  # fmt: skip
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
