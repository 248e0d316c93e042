"""The close pairs of the encounters' samples kept in the store between detection runs.

The close-pair search of the merge (:func:`~monitor.pipeline.behaviour_buckets.merge_behaviour`)
runs window by window of time (a UTC day), and the pairs of a window depend on the samples of
that window only. The pairs are kept under ``calls/behaviour/pairs.parquet``, each with its
window and its two tracks named by their ids (numbers change as vessels come and go). A run that
finds the parts of some vessels again compares their samples with the stored ones; only the
windows where they differ are searched again, the others' pairs are taken from the store.

The stored pairs go with the stored parts (:mod:`monitor.pipeline.behaviour_cycle`): both are
written under the detection's incomplete mark, and the samples per window the pairs were found
in are kept beside them (``calls/behaviour/pair-windows.parquet``). A run whose stored parts do
not hold those samples per window (an older store, or files of different runs) searches every
window again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from monitor.errors import StoreError
from monitor.pipeline.behaviour_buckets import (
    PREFIX,
    BehaviourJob,
    close_pairs_by_window,
    window_slots,
)
from monitor.pipeline.engines import Engine
from monitor.store.fs import StorePath
from monitor.store.table import Table

log = logging.getLogger(__name__)

_PAIR_COLUMNS: dict[str, pl.DataType] = {
    "slot": pl.Int64(),
    "lat_a": pl.Float64(),
    "lon_a": pl.Float64(),
    "kn_a": pl.Float64(),
    "dark_a": pl.Boolean(),
    "lat_b": pl.Float64(),
    "lon_b": pl.Float64(),
    "kn_b": pl.Float64(),
    "dark_b": pl.Boolean(),
    "distance_m": pl.Float64(),
}
PAIRS = Table(
    "calls/behaviour/pairs.parquet",
    {"window": pl.Int64(), "track_id_a": pl.String(), "track_id_b": pl.String(), **_PAIR_COLUMNS},
    "close pairs of the encounters",
    "delete it and run `monitor detect` again",
)
PAIR_WINDOWS = Table(
    "calls/behaviour/pair-windows.parquet",
    {"window": pl.Int64(), "n_samples": pl.UInt32()},
    "samples per window of the close pairs",
    "delete it and run `monitor detect` again",
)
#: The columns of a sample that its pairs depend on, its track named by its id.
_SAMPLE = ["track_id", "slot", "lat", "lon", "speed_kn", "dark"]


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def vessel_rows(
    part: Mapping[str, pa.Table], name: str, mmsis: pl.Series | None = None
) -> pl.DataFrame:
    """Return the rows of a part's table ``name`` (of the vessels ``mmsis`` only, if given),
    their tracks by id."""
    tracks = _frame(part[PREFIX + "tracks"]).with_row_index("track")
    if mmsis is not None:
        tracks = tracks.filter(pl.col("mmsi").is_in(mmsis.implode()))
    ids = tracks.select(pl.col("track").cast(pl.Int64), "track_id")
    return _frame(part[PREFIX + name]).join(ids, on="track").drop("track")


def changed_windows(
    stored: Mapping[str, pa.Table],
    found: Sequence[Mapping[str, pa.Table]],
    mmsis: pl.Series,
    window: int,
) -> set[int]:
    """Return the windows (of ``window`` slots) in which the samples of the vessels ``mmsis``
    differ between the ``stored`` part and the parts ``found`` again."""
    new = [vessel_rows(part, "samples") for part in found]
    slots = differing(vessel_rows(stored, "samples", mmsis), new, _SAMPLE)["slot"]
    return set((slots // window).unique().to_list())


def differing(old: pl.DataFrame, new: Sequence[pl.DataFrame], columns: list[str]) -> pl.DataFrame:
    """Return the rows (``columns``) found a different number of times in ``old`` than in the
    frames ``new``: those that changed, as multisets."""
    rows = pl.concat(
        [old.select(columns).with_columns(side=pl.lit(0))]
        + [frame.select(columns).with_columns(side=pl.lit(1)) for frame in new]
    )
    counts = rows.group_by(columns).agg(old=(pl.col("side") == 0).sum(), new=pl.col("side").sum())
    return counts.filter(pl.col("old") != pl.col("new")).select(columns)


def sample_windows(samples: Sequence[pa.Table], window: int) -> pl.DataFrame:
    """Return how many of the ``samples`` (tables with ``slot``) each window holds: window,
    n_samples."""
    slots = [t.column("slot").to_numpy() for t in samples]
    found = pl.Series("window", np.concatenate([np.zeros(0, np.int64), *slots]) // window)
    return (
        found.to_frame().group_by("window").agg(n_samples=pl.len().cast(pl.UInt32)).sort("window")
    )


def read_pairs(
    root: StorePath | str, stored: Mapping[str, pa.Table], window: int, from_window: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """Return the stored pairs and samples per window, None when there are none that go with
    the ``stored`` part (which holds the samples from window ``from_window`` on only)."""
    if not PAIRS.exists(root) or not PAIR_WINDOWS.exists(root):
        return None
    try:
        pairs, windows = PAIRS.read(root), PAIR_WINDOWS.read(root)
    except StoreError as exc:
        log.warning("%s: searching every window again", exc)
        return None
    held = sample_windows([stored[PREFIX + "samples"]], window)
    if not windows.filter(pl.col("window") >= from_window).equals(held):
        log.warning("stored close pairs do not go with the stored parts: searching them again")
        return None
    return pairs, windows


@dataclass
class KeptPairs:
    """The close-pair search of a merge (a :data:`~monitor.pipeline.behaviour_buckets.PairsFn`)
    that takes the pairs of the windows not in ``redo`` from ``stored``, and keeps what it
    found, to be stored (:meth:`save`)."""

    job: BehaviourJob
    engine: Engine
    #: Stored pairs (:data:`PAIRS`) and samples per window, None: none (every window is
    #: searched).
    stored: tuple[pl.DataFrame, pl.DataFrame] | None = None
    #: The samples of the merge are those from this window on (the stored ones before).
    from_window: int = 0
    #: Windows to search again.
    redo: set[int] = field(default_factory=set)
    #: After the merge: every pair (:data:`PAIRS`) and the samples per window.
    found: pl.DataFrame | None = None
    windows: pl.DataFrame | None = None
    #: After the merge: the windows searched (None: all).
    searched: list[int] | None = None

    def __call__(
        self,
        samples: list[pa.Table],
        to_global: list[npt.NDArray[np.int64]],
        tracks: pl.DataFrame,
    ) -> pl.DataFrame:
        window = window_slots(self.job)
        self.windows = sample_windows(samples, window)
        redo = None if self.stored is None else set(self.redo)
        ids = tracks.select("track", "track_id")
        kept = pl.DataFrame(schema=PAIRS.schema)
        if self.stored is not None:
            stored, windows = self.stored
            self.windows = pl.concat(
                [windows.filter(pl.col("window") < self.from_window), self.windows]
            )
            kept = stored.filter(~pl.col("window").is_in(sorted(self.redo)))
            for side in ("a", "b"):
                known = pl.col(f"track_id_{side}").is_in(ids["track_id"].implode())
                # A track gone from the kept windows: search them again (never a wrong pair).
                gone = kept.filter(~known)["window"].unique().to_list()
                assert redo is not None
                redo.update(gone)
                kept = kept.filter(~pl.col("window").is_in(gone))
        self.searched = None if redo is None else sorted(redo)
        if redo is not None and min(redo, default=self.from_window) < self.from_window:
            raise ValueError("close pairs to search again in windows whose samples are not read")
        new = close_pairs_by_window(samples, to_global, self.job, self.engine.map, windows=redo)
        if new.width:
            new = new.join(
                ids.rename({"track": "track_a", "track_id": "track_id_a"}), on="track_a"
            ).join(ids.rename({"track": "track_b", "track_id": "track_id_b"}), on="track_b")
        else:
            new = pl.DataFrame(schema=PAIRS.schema)
        self.found = pl.concat([kept, new.select(list(PAIRS.schema))]).sort(
            "window", maintain_order=True
        )
        pairs = self.found
        for side in ("a", "b"):
            pairs = pairs.join(
                ids.rename({"track": f"track_{side}", "track_id": f"track_id_{side}"}),
                on=f"track_id_{side}",
            )
        return pairs.select("track_a", "track_b", *_PAIR_COLUMNS, "window")

    def save(self, root: StorePath | str) -> None:
        """Write the pairs found and the samples per window they were found in (each file
        atomically; hold :func:`~monitor.store.calls.detection_writes` meanwhile)."""
        assert self.found is not None and self.windows is not None
        PAIRS.write(root, self.found)
        PAIR_WINDOWS.write(root, self.windows)
