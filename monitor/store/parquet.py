"""The Parquet store: positions and static reports partitioned by day, the ingest manifest.

Every file is written to a temp name and renamed, data before the manifest, so a run killed at
any moment leaves a readable store; the next run re-reads from the last manifest checkpoint and
the dedup rule makes re-inserted rows harmless. Readers list files with ``live_files``, which
leaves out files a compaction has replaced. Layout and dedup rule: see the README.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.core.atomic import atomic_write_text
from monitor.core.jit import I64, U32, U64, Bool, kernel
from monitor.schema import (
    MANIFEST_ADDED,
    MANIFEST_SCHEMA,
    POSITIONS_SCHEMA,
    STATICS_SCHEMA,
    empty_frame,
)
from monitor.store.fs import StorePath, listing, scan_parquet, store_path, write_text
from monitor.store.locks import ANALYSIS_LOCK, ANALYSIS_WAIT_S, writer_lock
from monitor.store.object_lock import ANALYSIS_OBJECT, WRITER_OBJECT, object_lock
from monitor.store.table import Table, atomic_write_parquet

log = logging.getLogger(__name__)


#: A day partition with more part files than this is rewritten as one file.
MAX_FILES_PER_PARTITION = 8
#: Rows per row group of a compacted file (a day of a busy regional feed: tens of them).
COMPACT_ROW_GROUP = 65_536
_JOURNALS = "_compaction-*.json"
#: Files replaced by a compaction are deleted only this long after it, so that a reader that
#: listed them just before can still read them; until then readers skip them (see live_files).
SUPERSEDED_GRACE_S = 600.0
_KEY_COLUMNS = ["mmsi", "msg_key", "timestamp_utc"]
#: The ingest manifest: one row per input file read, and how far.
MANIFEST = Table(
    "manifest.parquet",
    MANIFEST_SCHEMA,
    "manifest",
    "restore it or delete it to re-read every input (duplicates are dropped)",
    added=MANIFEST_ADDED,
)


@kernel
def _repeats(mmsi: U32, msg_key: U64, time_us: I64, valid: Bool, window_us: int) -> Bool:
    """Return which rows repeat, within ``window_us``, the last row of their (mmsi, msg_key) in
    time order that is not a repeat itself; rows not ``valid`` (a null key column) are never
    repeats. Measured from the last row kept, as a stored row is measured against the new
    ones, so that a batch keeps the rows that the same rows split over batches keep."""
    n = len(mmsi)
    size = 16
    while size < 2 * n:
        size *= 2
    # Open addressing; a slot holds the key and (mmsi << 32 | group + 1), 0 when empty.
    table = np.zeros((size, 2), np.uint64)
    group = np.empty(n, np.int64)
    last_us = np.empty(n, np.int64)
    kept_us = np.empty(n, np.int64)
    in_order = np.ones(n, np.bool_)
    repeat = np.zeros(n, np.bool_)
    n_groups = 0
    for i in range(n):
        if not valid[i]:
            continue
        key, tagged = msg_key[i], np.uint64(mmsi[i]) << np.uint64(32)
        slot = (key ^ (tagged * np.uint64(0x9E3779B97F4A7C15))) & np.uint64(size - 1)
        while table[slot, 1] != 0 and (
            table[slot, 0] != key or table[slot, 1] >> np.uint64(32) != np.uint64(mmsi[i])
        ):
            slot = (slot + np.uint64(1)) & np.uint64(size - 1)
        if table[slot, 1] == 0:
            g = n_groups
            n_groups += 1
            table[slot, 0] = key
            table[slot, 1] = tagged | np.uint64(g + 1)
            kept_us[g] = time_us[i]
        else:
            g = int(table[slot, 1] & np.uint64(0xFFFFFFFF)) - 1
            # Most feeds arrive in time order: then the row before in time is the one before.
            if time_us[i] < last_us[g]:
                in_order[g] = False
            repeat[i] = time_us[i] - kept_us[g] <= window_us
            if not repeat[i]:
                kept_us[g] = time_us[i]
        last_us[g] = time_us[i]
        group[i] = g
    # Groups received out of time order: sort their rows by (group, time) and compare again.
    rows = np.array([i for i in range(n) if valid[i] and not in_order[group[i]]], np.int64)
    if len(rows):
        rows = rows[np.argsort(time_us[rows], kind="mergesort")]
        rows = rows[np.argsort(group[rows], kind="mergesort")]
        repeat[rows[0]] = False
        kept = time_us[rows[0]]
        for k in range(1, len(rows)):
            i, j = rows[k], rows[k - 1]
            repeat[i] = group[i] == group[j] and time_us[i] - kept <= window_us
            if not repeat[i]:
                kept = time_us[i]
    return repeat


def _repeat_mask(keys: pl.DataFrame, window_s: float) -> npt.NDArray[np.bool_]:
    """Return which rows of ``keys`` (the key columns) repeat a row kept before them."""
    valid = keys.select(pl.all_horizontal(pl.all().is_not_null())).to_series().to_numpy()
    keys = keys.with_columns(pl.col("timestamp_utc").dt.epoch("us")).fill_null(0)
    window_us = dt.timedelta(seconds=window_s) // dt.timedelta(microseconds=1)
    # Always a copy, so always writable: numba compiles a kernel once per array flags, and polars
    # gives read-only arrays of single-chunk columns and writable copies of the others.
    mmsi, msg_key, time_us = (keys[c].to_numpy(writable=True) for c in _KEY_COLUMNS)
    repeat: npt.NDArray[np.bool_] = _repeats(mmsi, msg_key, time_us, valid, window_us)
    return repeat


def drop_repeats(frame: pl.DataFrame, window_s: float) -> pl.DataFrame:
    """Return ``frame`` without repeats: same (mmsi, msg_key) within ``window_s`` of the last
    such row kept.

    The earliest reception of a message is kept; the other rows keep their order.
    """
    if frame.height < 2:
        return frame
    repeat = _repeat_mask(frame.select(_KEY_COLUMNS), window_s)
    return frame.filter(pl.Series(~repeat)) if repeat.any() else frame


def _with_stored(
    frame: pl.DataFrame, stored: pl.DataFrame | None, window_s: float
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Return the rows of ``frame`` to store, and the ``stored`` rows (key columns and
    ``_file``) they replace.

    Both sets are deduplicated as one batch (stored rows first, so that a row read again keeps
    its stored copy): a new row within the window after a stored one is a repeat, and a stored
    row within the window after an earlier reception that comes only now is replaced by it.
    """
    if stored is None or stored.height == 0:
        return drop_repeats(frame, window_s), None
    keys = pl.concat([stored.select(_KEY_COLUMNS), frame.select(_KEY_COLUMNS)])
    repeat = _repeat_mask(keys, window_s)
    old, fresh = repeat[: stored.height], repeat[stored.height :]
    return frame.filter(pl.Series(~fresh)), stored.filter(pl.Series(old))


def _against_stored(
    new: pl.DataFrame, old: pl.LazyFrame, window_s: float, any_time: pl.Expr | None = None
) -> tuple[npt.NDArray[np.bool_], pl.DataFrame]:
    """Return which rows of ``new`` (numbered ``_row``) to store, and the stored rows of ``old``
    (with their ``_file``) that they replace.

    A new row whose message is stored within ``window_s`` is a repeat, unless it is earlier than
    every stored reception: the earliest reception is kept whatever the order rows come in, so
    the stored later one is replaced. Stored receptions later than another stored one (a run
    killed between writing an earlier reception and removing the later) are replaced too.
    """
    window = dt.timedelta(seconds=window_s)
    close = (pl.col("timestamp_utc") - pl.col("timestamp_utc_old")).abs() <= window
    if any_time is not None:
        close = close | any_time
    pairs = (
        new.lazy()
        .join(
            old.select(
                "mmsi", "msg_key", "_file", pl.col("timestamp_utc").alias("timestamp_utc_old")
            ),
            on=["mmsi", "msg_key"],
            how="inner",
        )
        .filter(close)
        .with_columns(first_old=pl.col("timestamp_utc_old").min().over("_row"))
        .collect()
    )
    keep = np.ones(new.height, dtype=np.bool_)
    if pairs.height == 0:
        return keep, pairs
    repeats = pairs.filter(pl.col("timestamp_utc") >= pl.col("first_old"))["_row"].unique()
    keep[repeats.to_numpy()] = False
    earliest = pl.min_horizontal("timestamp_utc", "first_old")
    replaced = (
        pairs.filter(pl.col("timestamp_utc_old") > earliest)
        .select("_file", "mmsi", "msg_key", timestamp_utc="timestamp_utc_old")
        .unique()
    )
    return keep, replaced


def _widened(
    first: dt.datetime, last: dt.datetime, margin: dt.timedelta
) -> tuple[dt.datetime, dt.datetime]:
    """Return ``first - margin`` and ``last + margin``, held inside the calendar's ends (a time
    in the year 9999 is representable, one margin later is not)."""
    low = dt.datetime.min.replace(tzinfo=first.tzinfo)
    high = dt.datetime.max.replace(tzinfo=last.tzinfo)
    return first - min(margin, first - low), last + min(margin, high - last)


def _in_time_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` sorted by time (most feeds arrive in order: checking is much cheaper)."""
    return frame if frame["timestamp_utc"].is_sorted() else frame.sort("timestamp_utc")


def _per_source(frame: pl.DataFrame) -> dict[str, int]:
    sources = frame["source"]
    if frame.height and sources.null_count() == 0 and (sources == sources[0]).all():
        return {str(sources[0]): frame.height}  # one source: much cheaper than grouping
    return {str(source): int(n) for source, n in frame.group_by("source").len().iter_rows()}


def _read_plan(journal: StorePath) -> dict[str, Any] | None:
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(plan, dict) or not isinstance(plan.get("output"), str):
        return None
    return plan


def live_files(folder: StorePath) -> list[StorePath]:
    """Return the Parquet files holding ``folder``'s rows, without those a compaction replaced.

    Files are listed before journals are read: a compaction writes its journal before its output
    appears, so a listing never loses both the old files and the new one.
    """
    files = listing(folder, "*.parquet")
    if not files:
        return files
    names = {f.name for f in files}
    replaced: set[str] = set()
    for journal in folder.glob(_JOURNALS):
        plan = _read_plan(journal)
        if plan is not None and plan["output"] in names:
            replaced.update(str(name) for name in plan.get("inputs", []))
    return [f for f in files if f.name not in replaced]


class Store:
    """A store directory: ``positions/date=YYYY-MM-DD/*.parquet``,
    ``statics/date=YYYY-MM-DD/*.parquet`` (stores written before statics were split by day also
    have ``statics/*.parquet``), ``manifest.parquet``."""

    def __init__(self, root: StorePath | str) -> None:
        self.root = store_path(root)

    @property
    def manifest_path(self) -> StorePath:
        return MANIFEST.path(self.root)

    def statics_day_dir(self, day: dt.date) -> StorePath:
        """Return the folder of the static reports of ``day``."""
        return self.statics_dir / f"date={day.isoformat()}"

    def partition_dir(self, day: dt.date) -> StorePath:
        """Return the folder of one day's positions."""
        return self.positions_dir / f"date={day.isoformat()}"

    @contextlib.contextmanager
    def writer(self) -> Iterator[Store]:
        """Hold the store's ingest lock, after finishing whatever a killed run left half done.

        Raises StoreError when another process holds the lock. The lock dies with its process
        (in an object store, see :mod:`monitor.store.object_lock`).
        """
        with self._lock(".lock", WRITER_OBJECT, job="ingest", wait_s=0):
            self.recover()
            self.purge_replaced()
            yield self
            self.purge_replaced()

    def analysis_writer(
        self, job: str, wait_s: float = ANALYSIS_WAIT_S
    ) -> contextlib.AbstractContextManager[None]:
        """Return the lock held by every job that writes analysis results (calls, ...).

        It waits up to ``wait_s`` seconds for another such job to end (see
        :func:`monitor.store.locks.writer_lock`). Ingest has a lock of its own: analyses read
        the positions while an ingest adds to them.
        """
        return self._lock(ANALYSIS_LOCK, ANALYSIS_OBJECT, job=job, wait_s=wait_s)

    def _lock(
        self, name: str, object_name: str, *, job: str, wait_s: float
    ) -> contextlib.AbstractContextManager[None]:
        """Return the lock file ``name``, or in an object store the lock object ``object_name``."""
        if isinstance(self.root, Path):
            return writer_lock(self.root / name, job=job, wait_s=wait_s)
        return object_lock(self.root / object_name, job=job, wait_s=wait_s)

    def _folders(self) -> list[StorePath]:
        return [
            *listing(self.positions_dir, "date=*"),
            self.statics_dir,
            *listing(self.statics_dir, "date=*"),
        ]

    def recover(self) -> None:
        """Drop compactions a killed run left unfinished and delete its temp files."""
        for folder in self._folders():
            for journal in folder.glob(_JOURNALS):
                plan = _read_plan(journal)
                if plan is None or not (folder / plan["output"]).exists():
                    journal.unlink(missing_ok=True)
        # Only the ingest's own folders: other commands write elsewhere in the store.
        stale = [
            *self.positions_dir.glob("date=*/.*.tmp"),
            *self.statics_dir.glob(".*.tmp"),
            *self.statics_dir.glob("date=*/.*.tmp"),
            *self.root.glob(f".{self.manifest_path.name}.*.tmp"),
        ]
        for path in stale:
            path.unlink(missing_ok=True)

    def purge_replaced(self, grace_s: float = SUPERSEDED_GRACE_S) -> None:
        """Delete files that a compaction replaced more than ``grace_s`` seconds ago."""
        now = time.time()
        for folder in self._folders():
            for journal in folder.glob(_JOURNALS):
                plan = _read_plan(journal)
                if plan is None or now - journal.stat().st_mtime < grace_s:
                    continue
                for name in plan.get("inputs", []):
                    (folder / str(name)).unlink(missing_ok=True)
                journal.unlink(missing_ok=True)

    def read_manifest(self) -> pl.DataFrame:
        """Return the ingest manifest (MANIFEST_SCHEMA), empty for a new store."""
        return MANIFEST.read(self.root)

    def write_manifest(self, frame: pl.DataFrame) -> None:
        """Replace the manifest with ``frame`` (atomically)."""
        MANIFEST.write(self.root, frame)

    def add_positions(self, frame: pl.DataFrame, window_s: float) -> dict[str, int]:
        """Store the rows of ``frame`` (POSITIONS_SCHEMA) not already stored.

        Returns the number of rows written per ``source``.

        A row is already stored when a stored row has the same mmsi and msg_key within
        ``window_s`` of its time. Only the day partitions of the batch's time span are read.
        """
        if frame.height == 0:
            return {}
        window = dt.timedelta(seconds=window_s)
        first = frame["timestamp_utc"].min()
        last = frame["timestamp_utc"].max()
        assert isinstance(first, dt.datetime) and isinstance(last, dt.datetime)
        low, high = _widened(first, last, window)
        files = [f for folder in self._partitions_between(low, high) for f in live_files(folder)]
        stored = None
        if files:
            # The stored receptions of the batch's messages near its times: the batch's rows
            # and these are deduplicated together, as if they had come in one batch.
            stored = (
                scan_parquet(files, schema=POSITIONS_SCHEMA, include_file_paths="_file")
                .filter(pl.col("timestamp_utc").is_between(low, high))
                .join(frame.lazy().select("mmsi", "msg_key").unique(), on=["mmsi", "msg_key"])
                .select(*_KEY_COLUMNS, "_file")
                .collect()
            )
        new, replaced = _with_stored(frame, stored, window_s)
        if new.height == 0:
            self._remove_rows(replaced)
            return {}
        self._write_by_day(_in_time_order(new), self.partition_dir)
        # The earlier receptions first, then the later ones they replace go: a run killed in
        # between leaves both, and the next run, reading the same rows again, removes the later.
        self._remove_rows(replaced)
        return _per_source(new)

    def _write_by_day(self, new: pl.DataFrame, folder_of: Callable[[dt.date], StorePath]) -> None:
        """Write ``new`` (in time order) as a new part file in the folder of each of its days."""
        first = new["timestamp_utc"].first()
        last = new["timestamp_utc"].last()
        assert isinstance(first, dt.datetime) and isinstance(last, dt.datetime)
        if first.date() == last.date():
            # The usual case, one day: no split, no copy.
            parts = [(first.date(), new)]
        else:
            parts = [
                (day, part.drop("_day"))
                for (day,), part in new.with_columns(_day=pl.col("timestamp_utc").dt.date())
                .partition_by("_day", as_dict=True, maintain_order=True)
                .items()
            ]
        for day, part in parts:
            assert isinstance(day, dt.date)
            folder = folder_of(day)
            atomic_write_parquet(part, folder / f"part-{uuid.uuid4().hex}.parquet")
            self._compact_if_needed(folder)

    def _remove_rows(self, rows: pl.DataFrame | None) -> None:
        """Rewrite each file of ``rows`` (``_file`` and key columns) without those rows."""
        if rows is None or rows.height == 0:
            return
        for (name,), gone in rows.group_by("_file"):
            path = store_path(str(name))
            if not path.is_file():
                continue  # replaced meanwhile by a compaction of this run: its rows are live
            kept = scan_parquet([path]).join(
                gone.lazy().select(_KEY_COLUMNS), on=_KEY_COLUMNS, how="anti", maintain_order="left"
            )
            self._replace_files(path.parent, [path], kept)

    def _partitions_between(self, low: dt.datetime, high: dt.datetime) -> list[StorePath]:
        """Return the existing day folders that can hold rows from ``low`` to ``high``.

        The stored days are listed rather than the days of the span generated, so a batch that
        spans years costs no more than one that spans a day.
        """
        folders = []
        for folder in listing(self.positions_dir, "date=*"):
            try:
                day = dt.date.fromisoformat(folder.name.removeprefix("date="))
            except ValueError:
                continue
            if low.date() <= day <= high.date():
                folders.append(folder)
        return folders

    def add_statics(self, frame: pl.DataFrame, window_s: float) -> dict[str, int]:
        """Store the static rows of ``frame`` (STATICS_SCHEMA) not already stored.

        Returns the number of rows written per ``source``.

        Same rule as positions; a CSV identity row (msg_type null, key of the identity and day)
        is already stored when its key is, whatever the time.
        """
        new = drop_repeats(frame, window_s).with_row_index("_row")
        if new.height == 0:
            return {}
        files = self.statics_files()
        replaced = None
        if files:
            old = scan_parquet(
                files, schema=STATICS_SCHEMA, include_file_paths="_file", hive_partitioning=False
            )
            if not new["msg_type"].has_nulls():
                # No identity row, which matches at any time: only rows near the batch's times
                # can match, and files wholly outside them are skipped on their statistics.
                window = dt.timedelta(seconds=window_s)
                first, last = new["timestamp_utc"].min(), new["timestamp_utc"].max()
                assert isinstance(first, dt.datetime) and isinstance(last, dt.datetime)
                old = old.filter(pl.col("timestamp_utc").is_between(*_widened(first, last, window)))
            keep, replaced = _against_stored(
                new.select(["_row", *_KEY_COLUMNS, "msg_type"]),
                old,
                window_s,
                any_time=pl.col("msg_type").is_null(),
            )
            new = new.filter(pl.Series(keep))
        new = new.drop("_row")
        if new.height:
            self._write_by_day(_in_time_order(new), self.statics_day_dir)
        self._remove_rows(replaced)
        return _per_source(new)

    def _compact_if_needed(self, folder: StorePath) -> None:
        if len(live_files(folder)) > MAX_FILES_PER_PARTITION:
            self.compact(folder)

    def compact(self, folder: StorePath) -> None:
        """Rewrite the live Parquet files of ``folder`` as one file, its rows by vessel and time
        in row groups of :data:`COMPACT_ROW_GROUP` rows: a reader of a few vessels' rows skips
        the others' row groups on their statistics.

        A journal naming the old files is written before the new file appears; from then on
        readers skip the old files, which ``purge_replaced`` deletes after a grace period. A run
        killed half way leaves either the old files or the new one live, never both.
        """
        inputs = live_files(folder)
        if len(inputs) < 2:
            return
        self._replace_files(folder, inputs, scan_parquet(inputs).sort("mmsi", "timestamp_utc"))

    def _replace_files(
        self, folder: StorePath, inputs: list[StorePath], rows: pl.LazyFrame
    ) -> None:
        """Replace the files ``inputs`` of ``folder`` with one file of ``rows``, as a compaction
        does (journal first, so readers never see both or neither)."""
        output = folder / f"part-{uuid.uuid4().hex}.parquet"
        plan = {"output": output.name, "inputs": [p.name for p in inputs]}
        journal = folder / f"_compaction-{uuid.uuid4().hex}.json"
        if not isinstance(folder, Path):
            # No rename in an object store: the output is written whole in one request.
            frame = rows.collect()
            write_text(journal, json.dumps(plan))
            atomic_write_parquet(frame, output, row_group_size=COMPACT_ROW_GROUP)
            return
        assert isinstance(output, Path) and isinstance(journal, Path)
        tmp = folder / f".{output.name}.tmp"
        rows.sink_parquet(tmp, row_group_size=COMPACT_ROW_GROUP)
        atomic_write_text(journal, json.dumps(plan))
        os.replace(tmp, output)

    @property
    def positions_dir(self) -> StorePath:
        return self.root / "positions"

    @property
    def statics_dir(self) -> StorePath:
        return self.root / "statics"

    def rows_from(self, source: str) -> tuple[int, int]:
        """Return how many positions and static reports the store holds from ``source``."""
        counts = [
            int(scan.filter(pl.col("source") == source).select(pl.len()).collect().item())
            for scan in (self.scan_positions(), self.scan_statics())
        ]
        return counts[0], counts[1]

    def position_files(self) -> list[StorePath]:
        """Return the files that hold the stored positions now, each row in one of them."""
        return [f for d in listing(self.positions_dir, "date=*") for f in live_files(d)]

    def scan_positions(self, files: list[StorePath] | None = None) -> pl.LazyFrame:
        """Return every stored position (POSITIONS_SCHEMA), one row per distinct message.

        ``files`` (from :meth:`position_files`) reads the store as it was when they were
        listed, so that two reads see the same rows while an ingest adds more.
        """
        files = self.position_files() if files is None else files
        if not files:
            return empty_frame(POSITIONS_SCHEMA).lazy()
        return scan_parquet(files, schema=POSITIONS_SCHEMA, hive_partitioning=False)

    def statics_files(self) -> list[StorePath]:
        """Return the files that hold the stored static reports now, each row in one of them
        (those of a store written before statics were split by day first)."""
        folders = listing(self.statics_dir, "date=*")
        return [*live_files(self.statics_dir), *(f for d in folders for f in live_files(d))]

    def scan_statics(self, files: list[StorePath] | None = None) -> pl.LazyFrame:
        """Return every stored static/voyage report (STATICS_SCHEMA); ``files`` (from
        :meth:`statics_files`): those of these files."""
        files = self.statics_files() if files is None else files
        if not files:
            return empty_frame(STATICS_SCHEMA).lazy()
        return scan_parquet(files, schema=STATICS_SCHEMA, hive_partitioning=False)

    def drop_positions_before(self, day: dt.date) -> list[dt.date]:
        """Delete the day partitions of positions before ``day``; return the days deleted.

        Each partition is first renamed to a hidden name, so readers see it whole or not at all.
        Hold :meth:`writer` while calling this.
        """
        dropped: list[dt.date] = []
        for folder in listing(self.positions_dir, "date=*"):
            try:
                when = dt.date.fromisoformat(folder.name.removeprefix("date="))
            except ValueError:
                continue
            if when >= day:
                break
            if isinstance(folder, Path):
                doomed = folder.with_name(f".dropped-{folder.name}-{uuid.uuid4().hex}")
                os.replace(folder, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            else:
                # No rename in an object store: the day's files go one by one (a reader meanwhile
                # may miss part of the day being dropped, and nothing else).
                folder.fs.rm(folder.path, recursive=True)
            dropped.append(when)
        return dropped

    def compact_all(self) -> int:
        """Compact every positions partition and the statics that have several files; return how
        many folders were rewritten. Hold :meth:`writer` while calling this."""
        n = 0
        for folder in self._folders():
            if len(live_files(folder)) > 1:
                self.compact(folder)
                n += 1
        return n

    def newest_position_time(self) -> dt.datetime | None:
        """Return the newest position time, reading only the last day that has positions."""
        return self._end_position_time(newest=True)

    def oldest_position_time(self) -> dt.datetime | None:
        """Return the oldest position time, reading only the first day that has positions."""
        return self._end_position_time(newest=False)

    def _end_position_time(self, *, newest: bool) -> dt.datetime | None:
        folders = listing(self.positions_dir, "date=*")
        for folder in reversed(folders) if newest else folders:
            files = live_files(folder)
            if files:
                time = pl.col("timestamp_utc")
                found = (
                    scan_parquet(files, schema=POSITIONS_SCHEMA)
                    .select(time.max() if newest else time.min())
                    .collect()
                    .item()
                )
                if isinstance(found, dt.datetime):
                    return found
        return None
