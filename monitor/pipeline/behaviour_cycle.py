"""The behaviour parts kept in the store between detection runs, under ``calls/behaviour/``.

The per-vessel behaviour parts (:func:`~monitor.pipeline.behaviour_buckets.behaviour_parts`)
of every vessel are kept as one part, its tracks in the order one run over all positions
numbers them (by MMSI, then as segmented), one Parquet file per table. A run that detects some
vessels only finds the parts of those vessels and takes the others' from the store: each part
depends on its vessel's positions and the reception grids' first time only, so the merge over
them gives what one run over all positions gives. A changed vessel's parts are found from its
cut on where that gives the same (:mod:`monitor.pipeline.behaviour_resume`), else over its
whole history. When the store's first time moves (positions older than all others arrived)
every part is found again.

The tables whose rows grow with time (where each track was heard, its samples) are kept by
day of their rows' time, their tracks named by a key that does not change as tracks come and
go (:func:`track_keys`): a run rewrites the days in which its changed vessels have rows that
may have changed, not the days before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

from monitor.errors import StoreError
from monitor.pipeline.along_cycle import KeptAlong, changed_codes, read_along
from monitor.pipeline.behaviour_buckets import PREFIX, BehaviourJob, window_slots
from monitor.pipeline.behaviour_resume import (
    CUTS,
    SEEDS,
    heard_lately,
    holds,
    new_cuts,
    next_history,
    pruned,
    resumable,
    row_time,
    splice,
)
from monitor.pipeline.buckets import file_slices
from monitor.pipeline.engines import Engine, behaviour_in_buckets
from monitor.pipeline.features_cycle import (
    KeptFeatures,
    changed_from_us,
    reach_us,
    read_features,
    track_keys,
)
from monitor.pipeline.ledger import Changes, days_of
from monitor.pipeline.pairs_cycle import (
    PAIRS,
    KeptPairs,
    changed_windows,
    differing,
    read_pairs,
    vessel_rows,
)
from monitor.schema import RESTARTS_SCHEMA, empty_frame
from monitor.store.fs import StorePath, arrow_source, listing, read_parquet
from monitor.store.fs import store_path as store_root
from monitor.store.table import Table, atomic_write_parquet

log = logging.getLogger(__name__)

FOLDER = "calls/behaviour"
#: The tables of a part, each a file of :data:`FOLDER`.
NAMES = (
    "tracks", "silences", "times", "quiet", "samples", "loitering", "loiter_points", "start",
    "near", "region", "usual",
)  # fmt: skip
#: Tables whose ``track`` column numbers the rows of ``tracks``.
_NUMBERED = ("silences", "times", "quiet", "samples", "near", "region", "usual")
#: Tables whose rows name their vessel (``mmsi``) and their track by id.
_BY_VESSEL = ("loitering", "loiter_points")
#: Tables kept by day of their rows' time, a file per day under ``FOLDER/<name>/``.
BY_DAY = ("near", "region", "samples")
_US_PER_DAY = 86_400_000_000
#: The days of the tables kept by day, and how many rows each file holds.
DAYS = Table(
    f"{FOLDER}/days.parquet",
    {"name": pl.String(), "day": pl.Date(), "n_rows": pl.Int64()},
    "days of the stored behaviour parts",
    "delete the calls/behaviour folder and run `monitor detect` again",
)


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _renumbered(frame: pl.DataFrame, new: np.ndarray) -> pl.DataFrame:
    """Return the rows of ``frame`` whose track ``new`` keeps (>= 0), numbered as it says."""
    if not frame.height:
        return frame
    number = new[frame["track"].to_numpy()]
    keep = number >= 0
    return frame.filter(pl.Series(keep)).with_columns(
        track=pl.Series(number[keep], dtype=frame.schema["track"])
    )


def one_part(parts: Sequence[Mapping[str, pa.Table]], job: BehaviourJob) -> dict[str, pa.Table]:
    """Return the buckets' ``parts`` (each vessel in one of them) as one part, its tracks by
    MMSI, then as segmented (as the merge numbers them)."""
    tracks = pl.concat(
        [
            _frame(p[PREFIX + "tracks"]).with_columns(
                bucket=pl.lit(b), local=pl.int_range(pl.len())
            )
            for b, p in enumerate(parts)
        ]
    ).sort("mmsi", maintain_order=True)
    numbers = tracks.with_row_index("track").select(
        "bucket", "local", pl.col("track").cast(pl.Int64)
    )
    out: dict[str, pl.DataFrame] = {"tracks": tracks.drop("bucket", "local")}
    for name in _NUMBERED:
        found = []
        for b, p in enumerate(parts):
            to_one = numbers.filter(pl.col("bucket") == b).sort("local")["track"].to_numpy()
            found.append(_renumbered(_frame(p[PREFIX + name]), to_one))
        if name == "silences":
            # A silence's row of its bucket's positions: of no use once its evidence is found.
            found = [f.drop("row", strict=False) for f in found]
        frame = pl.concat(found)
        out[name] = frame.sort("slot", maintain_order=True) if name == "samples" else frame
    for name in _BY_VESSEL:
        out[name] = pl.concat([_frame(p[PREFIX + name]) for p in parts])
    out["start"] = pl.DataFrame({"first_us": [job.data_start_us]}, schema={"first_us": pl.Int64})
    return {PREFIX + name: frame.to_arrow() for name, frame in out.items()}


def without(part: Mapping[str, pa.Table], mmsis: pl.Series) -> dict[str, pa.Table]:
    """Return ``part`` without the tracks of the vessels ``mmsis``."""
    tracks = _frame(part[PREFIX + "tracks"])
    keep = ~tracks["mmsi"].is_in(mmsis.implode()).to_numpy()
    new = np.full(tracks.height, -1, dtype=np.int64)
    new[keep] = np.arange(int(keep.sum()))
    out = {
        "tracks": tracks.filter(pl.Series(keep)),
        **{
            name: _frame(part[PREFIX + name]).filter(~pl.col("mmsi").is_in(mmsis.implode()))
            for name in _BY_VESSEL
        },
        "start": _frame(part[PREFIX + "start"]),
    }
    for name in _NUMBERED:
        out[name] = _renumbered(_frame(part[PREFIX + name]), new)
    return {PREFIX + name: frame.to_arrow() for name, frame in out.items()}


def _path(root: StorePath | str, name: str) -> StorePath:
    return store_root(root) / FOLDER / f"{name}.parquet"


def _day_path(root: StorePath | str, name: str, day: date | None) -> StorePath:
    """Return the file of a day of the table ``name`` (None: of no day, its columns)."""
    return store_root(root) / FOLDER / name / f"day={day or 'none'}.parquet"


def _file_day(path: StorePath) -> date | None:
    """Return the day of a file of :func:`_day_path`."""
    text = path.name.removeprefix("day=").removesuffix(".parquet")
    return None if text == "none" else date.fromisoformat(text)


def _day(name: str, job: BehaviourJob) -> pl.Expr:
    """Return the day (UTC) of each row of the table ``name``."""
    days = row_time(name, job) // _US_PER_DAY
    return days.cast(pl.Int32).cast(pl.Date).alias("day")


def read_tables(
    root: StorePath | str, from_day: date | None = None
) -> dict[str, pl.DataFrame] | None:
    """Return the tables of the stored part, those kept by day of the days from
    ``from_day`` on only (all without), None when the store has none (or one it cannot read
    whole)."""
    paths = {name: _path(root, name) for name in NAMES if name not in BY_DAY}
    if not all(p.is_file() for p in paths.values()) or not DAYS.exists(root):
        return None
    try:
        found = {name: read_parquet(p) for name, p in paths.items()}
        days = DAYS.read(root)
        if from_day is not None:
            days = days.filter(pl.col("day").is_null() | (pl.col("day") >= from_day))
        for name in BY_DAY:
            rows = _read_days(root, name, days.filter(pl.col("name") == name))
            named = _with_tracks(rows, found["tracks"])
            if named is None:
                return None
            found[name] = named
    except (OSError, StoreError, pl.exceptions.PolarsError):
        return None
    return found


def _read_days(root: StorePath | str, name: str, files: pl.DataFrame) -> pl.DataFrame:
    """Return the rows of the table ``name`` in the day files ``files`` (rows of
    :data:`DAYS`), that of none (its columns) first; raise StoreError when one does not hold
    what the days say."""
    frames = [read_parquet(_day_path(root, name, w)) for w in files["day"].to_list()]
    if not files["day"].is_null().any() or [f.height for f in frames] != files["n_rows"].to_list():
        raise StoreError(f"{_day_path(root, name, None).parent}: files unlike their days")
    return pl.concat(frames)


def _with_tracks(rows: pl.DataFrame, tracks: pl.DataFrame) -> pl.DataFrame | None:
    """Return ``rows`` (with ``key``) with the number of their track in ``tracks`` instead,
    None when a key names no track or two."""
    numbers = tracks.select(
        track_keys(tracks["track_id"]), track=pl.int_range(pl.len(), dtype=pl.Int64)
    )
    if numbers["key"].n_unique() != numbers.height:
        return None  # two track ids of one key: the days cannot tell them apart
    named = rows.join(numbers, on="key", how="left", maintain_order="left")
    if named["track"].null_count():
        return None
    return named.select([c if c != "key" else "track" for c in rows.columns])


def _days_between(root: StorePath | str, since: date, before: date) -> pl.DataFrame:
    """Return the files (rows of :data:`DAYS`) of the days from ``since`` to before ``before``,
    and those of no day."""
    return DAYS.read(root).filter(
        pl.col("day").is_null() | pl.col("day").is_between(since, before, closed="left")
    )


def read_older_rows(
    root: StorePath | str, name: str, tracks: pl.DataFrame, since: date, before: date
) -> pl.DataFrame:
    """Return the stored rows of the table ``name`` of the days from ``since`` to before
    ``before``, their tracks by id (``tracks``: the stored ones)."""
    days = _days_between(root, since, before).filter(pl.col("name") == name)
    rows = _read_days(root, name, days)
    ids = tracks.select(track_keys(tracks["track_id"]), "track_id")
    return rows.join(ids, on="key").drop("key")


def read_part(
    root: StorePath | str, job: BehaviourJob, from_day: date | None = None
) -> dict[str, pa.Table] | None:
    """Return the stored part (its rows kept by day from ``from_day`` on only), or None
    when the store has none or one whose reception grids start elsewhere than ``job``'s (or an
    unreadable one: then every part is found again)."""
    found = read_tables(root, from_day)
    if found is None or found["start"]["first_us"].to_list() != [job.data_start_us]:
        return None
    if "station" not in found["near"].columns:
        return None  # stored before the rows named their receiver station
    if not {"settled_utc", "lead_utc"} <= set(found["loitering"].columns):
        return None  # stored before loitering rows said which positions they depend on
    return {PREFIX + name: found[name].to_arrow() for name in NAMES}


def save_part(
    root: StorePath | str,
    part: Mapping[str, pa.Table],
    job: BehaviourJob,
    days: Collection[date] | None = None,
    loaded_from: date | None = None,
) -> None:
    """Replace the stored part with ``part`` (each file atomically): of the tables kept by day
    only the ``days`` given (all, and no other, with None); ``part`` holds their rows from
    the day ``loaded_from`` on only, if given (the days before stay as stored)."""
    for name in NAMES:
        if name not in BY_DAY:
            atomic_write_parquet(_frame(part[PREFIX + name]), _path(root, name))
    keys = track_keys(_frame(part[PREFIX + "tracks"])["track_id"])
    before = pl.DataFrame(schema=DAYS.schema)
    if loaded_from is not None:
        before = DAYS.read(root).filter(pl.col("day") < loaded_from)
    found = [before]
    for name in BY_DAY:
        frame = _frame(part[PREFIX + name]).with_columns(_day(name, job))
        counts = frame.group_by("day").agg(n_rows=pl.len().cast(pl.Int64))
        if days is not None:
            frame = frame.filter(pl.col("day").is_in(list(days)))
        columns = [c if c != "track" else "key" for c in frame.columns if c != "day"]
        frame = frame.with_columns(
            key=keys.gather(frame["track"]) if frame.height else pl.lit(None, pl.Int64)
        )
        by_day: dict[date | None, pl.DataFrame] = {
            w: rows.select(columns)
            for (w,), rows in frame.partition_by("day", as_dict=True, maintain_order=True).items()
        }
        # The table's columns, in a file of no day.
        by_day[None] = frame.head(0).select(columns)
        todo = set(by_day) if days is None else {None, *days}
        if days is None:
            folder = store_root(root) / FOLDER / name
            todo.update(map(_file_day, listing(folder, "day=*")))
            for path in listing(folder, "week=*"):
                path.unlink()  # a file of a part stored by week, before days
        kept = set(counts["day"])
        for day in todo:
            if day in by_day:
                atomic_write_parquet(by_day[day], _day_path(root, name, day))
            elif day not in kept:
                _day_path(root, name, day).unlink(missing_ok=True)
        none = pl.DataFrame({"day": [None], "n_rows": [0]}, schema=counts.schema)
        found.append(pl.concat([none, counts]).select(pl.lit(name).alias("name"), "day", "n_rows"))
    DAYS.write(root, pl.concat(found).sort("name", "day"))
    if days is None:
        # What a part stored whole, or by week, left: a store of those is detected whole.
        for name in BY_DAY:
            _path(root, name).unlink(missing_ok=True)
        (store_root(root) / FOLDER / "weeks.parquet").unlink(missing_ok=True)


def changed_days(
    stored: Mapping[str, pa.Table],
    found: Sequence[Mapping[str, pa.Table]],
    mmsis: pl.Series,
    job: BehaviourJob,
) -> set[date]:
    """Return the days on which the rows of the vessels ``mmsis`` differ between the ``stored``
    part and the parts ``found`` again (as multisets, their tracks by id)."""
    days: set[date] = set()
    for name in BY_DAY:
        old = vessel_rows(stored, name, mmsis)
        diff = differing(old, [vessel_rows(p, name, mmsis) for p in found], old.columns)
        days.update(diff.select(_day(name, job).unique())["day"].to_list())
    return days


def _since_x(
    part: Mapping[str, pa.Table], since: pl.DataFrame, job: BehaviourJob
) -> dict[str, pa.Table]:
    """Return ``part`` with the rows kept by day of a vessel of ``since`` (mmsi, x_us: it went
    on from its cut, its rows before are the stored ones) from x_us on only."""
    tracks = _frame(part[PREFIX + "tracks"]).with_row_index("track")
    x_us = tracks.join(since.select("mmsi", "x_us"), on="mmsi", how="left").select(
        pl.col("track").cast(pl.Int64), "x_us"
    )
    out = dict(part)
    for name in BY_DAY:
        rows = _frame(part[PREFIX + name]).join(x_us, on="track", how="left", maintain_order="left")
        keep = pl.col("x_us").is_null() | (row_time(name, job) >= pl.col("x_us"))
        out[PREFIX + name] = rows.filter(keep).drop("x_us").to_arrow()
    return out


def with_older_rows(
    root: StorePath | str, part: Mapping[str, pa.Table], mmsis: pl.Series, since: date, before: date
) -> dict[str, pa.Table] | None:
    """Return the stored ``part`` (its rows kept by day from the day ``before`` on) with the
    stored rows of the tracks of the vessels ``mmsis`` on the days from ``since`` to before
    ``before`` too; None when those cannot be told apart by key."""
    tracks = _frame(part[PREFIX + "tracks"])
    keys = track_keys(tracks.filter(pl.col("mmsi").is_in(mmsis.implode()))["track_id"])
    days = _days_between(root, since, before)
    out = dict(part)
    for name in BY_DAY:
        rows = _read_days(root, name, days.filter(pl.col("name") == name))
        named = _with_tracks(rows.filter(pl.col("key").is_in(keys.implode())), tracks)
        if named is None:
            return None
        out[PREFIX + name] = pl.concat([named, _frame(part[PREFIX + name])]).to_arrow()
    return out


def from_day(
    part: Mapping[str, pa.Table], day: date | None, job: BehaviourJob
) -> dict[str, pa.Table]:
    """Return ``part`` with the rows kept by day from the day ``day`` on only (all: None)."""
    out = dict(part)
    if day is not None:
        for name in BY_DAY:
            rows = _frame(part[PREFIX + name])
            out[PREFIX + name] = rows.filter(row_time(name, job) >= _day_us(day)).to_arrow()
    return out


def only(part: Mapping[str, pa.Table], mmsis: pl.Series) -> dict[str, pa.Table]:
    """Return the tracks of the vessels ``mmsis`` of ``part``."""
    others = _frame(part[PREFIX + "tracks"]).filter(~pl.col("mmsi").is_in(mmsis.implode()))
    return without(part, others["mmsi"].unique())


@dataclass
class CyclePart:
    """What :func:`cycle_part` found."""

    #: The part of every vessel of the store.
    part: dict[str, pa.Table]
    #: The close-pair search of its merge.
    pairs: KeptPairs
    #: Each vessel's cut (:data:`~monitor.pipeline.behaviour_resume.CUTS`).
    cuts: pl.DataFrame
    #: Vessels whose parts were found from their cuts on.
    resumed: int = 0
    #: The restart points kept (:data:`~monitor.pipeline.behaviour_resume.SEEDS`).
    history: pl.DataFrame | None = None
    #: The readings of the grids along the silences of its merge.
    along: KeptAlong = field(default_factory=KeptAlong)
    #: The days of the tables kept by day that may have changed (None: all).
    days: set[date] | None = None
    #: What the grids told of the silences of its merge.
    features: KeptFeatures = field(default_factory=KeptFeatures)
    #: The part holds the rows kept by day from this day on (None: all).
    loaded: date | None = None

    def save(self, root: StorePath | str) -> None:
        """Replace the stored part, close pairs, readings along silences, cuts and restart
        points (each file atomically; hold :func:`~monitor.store.calls.detection_writes`
        meanwhile: together they are one state)."""
        save_part(root, self.part, self.pairs.job, self.days, self.loaded)
        self.pairs.save(root)
        self.along.save(root)
        self.features.save(root)
        assert self.history is not None
        SEEDS.write(root, self.history)
        CUTS.write(root, self.cuts)


def update(
    root: StorePath | str,
    files: list[StorePath],
    changes: Changes,
    engine: Engine,
    behaviour: BehaviourJob,
    *,
    found: Sequence[Mapping[str, pa.Table]] | None,
    reset: pl.Series,
    points: pl.DataFrame,
    last: pl.DataFrame,
) -> CyclePart:
    """Return the behaviour parts of a detection run and what to keep of them: from the
    buckets' parts ``found`` in a full run, else from the stored ones (:func:`cycle_part`).
    ``points`` are the run's restart points; the vessels ``reset`` were detected over their
    whole history (late positions may lie before their old points) and start their history of
    restart points again, as every vessel of a full run does."""
    full = found is not None
    history = next_history(
        empty_frame(RESTARTS_SCHEMA) if full else _stored_seeds(root), points, reset, full=full
    )
    if found is not None:
        cycle = CyclePart(
            one_part(found, behaviour), KeptPairs(behaviour, engine), empty_frame(CUTS.schema)
        )
    else:
        cycle = cycle_part(
            root, files, changes.ledger, engine, behaviour, changes.changed, history, last
        )
    cycle.history = pruned(history, cycle.cuts)
    cycle.part = heard_lately(cycle.part, last)
    return cycle


def cycle_part(
    root: StorePath | str,
    files: list[StorePath],
    hours: pl.DataFrame,
    engine: Engine,
    behaviour: BehaviourJob,
    changed: pl.DataFrame,
    history: pl.DataFrame,
    last: pl.DataFrame,
) -> CyclePart:
    """Return the part of every vessel of the store: the stored one, the ``changed`` vessels'
    (mmsi, changed_utc) found again, from their cuts on where they can go on from there
    (:mod:`monitor.pipeline.behaviour_resume`; ``history``: the restart points, ``last``: mmsi,
    last_utc of every vessel), else from all their positions (every vessel's when there is no
    usable stored part); and the close-pair search of its merge, which searches again only the
    windows where the changed vessels' samples changed (every window without usable stored
    pairs). The stored rows kept by day are read from the first day they change on."""
    # First the tables of the part but its rows by day: which days to read depends on them.
    stored = read_part(root, behaviour, date.max)
    stored_features, activity = read_features(root)
    window = window_slots(behaviour)
    old_cuts = _stored_cuts(root) if stored is not None else empty_frame(CUTS.schema)
    mmsis = changed["mmsi"] if stored is not None else last["mmsi"]
    ends = last.filter(pl.col("mmsi").is_in(mmsis.implode()))
    hold = None if stored is None else holds(stored, ends.join(changed, on="mmsi"), behaviour)
    cuts = new_cuts(history, ends, behaviour, old_cuts, hold)
    all_cuts = (
        pl.concat([old_cuts.filter(~pl.col("mmsi").is_in(mmsis.implode())), cuts])
        .filter(pl.col("mmsi").is_in(last["mmsi"].implode()))
        .sort("mmsi")
    )
    going = None if stored is None else resumable(changed, history, old_cuts, behaviour)
    loaded: date | None = None
    if stored is not None and going is not None:
        # The days of the rows that may change; every day while what tells of the older ones
        # is missing.
        loaded = _first_day(stored, changed)
        if stored_features is None or activity is None or not PAIRS.exists(root):
            loaded = None
    kept: tuple[pl.DataFrame, pl.DataFrame] | None = None
    if stored is not None:
        stored, kept, loaded = _stored_rows(root, behaviour, loaded)
    from_window = _window_of(loaded, window, behaviour)
    if stored is not None and not changed.height:
        features = _kept_features(
            root, behaviour, np.iinfo(np.int64).max, loaded, stored_features, activity, stored
        )
        return CyclePart(
            stored, KeptPairs(behaviour, engine, stored=kept, from_window=from_window), all_cuts,
            along=KeptAlong(read_along(root)), days=set(), loaded=loaded, features=features,
        )  # fmt: skip
    job = replace(
        behaviour,
        cuts=tuple(
            zip(
                cuts["mmsi"].to_list(),
                cuts["cut_utc"].dt.epoch("us").to_list(),
                strict=True,
            )
        ),
    )
    sources = [arrow_source(f) for f in files]
    filesystem = sources[0][1] if sources else None
    settings = behaviour.settings

    def find(
        names: list[str],
        sizes: pl.DataFrame,
        vessels: pl.Series | pl.DataFrame | None,
        seeds: pl.DataFrame | None = None,
    ) -> list[dict[str, pa.Table]]:
        wanted = vessels["mmsi"] if isinstance(vessels, pl.DataFrame) else vessels
        slices = file_slices(names, settings.engine.partition_positions, filesystem, vessels=wanted)
        return behaviour_in_buckets(
            engine, slices, sizes, behaviour.zones, settings, job,
            filesystem=filesystem, vessels=vessels, seeds=seeds,
        )  # fmt: skip

    parts: list[dict[str, pa.Table]] = []
    full = mmsis
    n_resumed = 0
    spliced_from = pl.DataFrame(schema={"mmsi": pl.UInt32, "x_us": pl.Int64})
    if stored is not None and going is not None:
        started = time.perf_counter()
        if going.vessels.height:
            vessels = going.vessels.with_columns(day=pl.col("restart_utc").dt.date())
            # Two passes: the vessels whose cuts are within a day of the newest read the days
            # from there on; the few with older cuts (in port or silent for hours, back after
            # a long silence) the days from theirs in which they have positions.
            newest = vessels["day"].max()
            assert isinstance(newest, date)
            recent = pl.col("day") >= newest - timedelta(days=1)
            found = []
            days: set[str] = set()
            for group in (vessels.filter(recent), vessels.filter(~recent)):
                if not group.height:
                    continue
                first_day = group["day"].min()
                assert isinstance(first_day, date)
                theirs = days_of(hours, group["mmsi"], since=first_day)
                read = [f for f in files if f.parent.name in theirs]
                days |= {f.parent.name for f in read}
                since = hours.join(group.select("mmsi", "restart_utc"), on="mmsi").filter(
                    pl.col("hour_utc") >= pl.col("restart_utc").dt.truncate("1h")
                )
                found += find(
                    [arrow_source(f)[0] for f in read],
                    since.group_by("mmsi").agg(pl.col("n_positions").sum()),
                    group.select("mmsi", "restart_utc"),
                    going.seeds.filter(pl.col("mmsi").is_in(group["mmsi"].implode())),
                )
            spliced, bad = splice(only(stored, going.vessels["mmsi"]), found, going.vessels, job)
            parts.append(spliced)
            done = going.vessels["mmsi"].filter(~going.vessels["mmsi"].is_in(bad.implode()))
            spliced_from = going.vessels.filter(pl.col("mmsi").is_in(done.implode()))
            full = mmsis.filter(~mmsis.is_in(done.implode()))
            n_resumed = done.len()
            log.info(
                "detect: behaviour parts of %d vessel(s) from their cuts (%d day folder(s)), "
                "%d of them found again over their whole history: %.1f s",
                going.vessels.height, len(days), bad.len(), time.perf_counter() - started,
            )  # fmt: skip
    if stored is None or full.len():
        started = time.perf_counter()
        names = [name for name, _ in sources]
        if stored is not None:
            days = days_of(hours, full)
            names = [n for f, n in zip(files, names, strict=True) if f.parent.name in days]
        sizes = hours.group_by("mmsi").agg(pl.col("n_positions").sum())
        parts.extend(find(names, sizes, None if stored is None else full))
        log.info(
            "detect: behaviour parts of %s vessel(s) over their whole history: %.1f s",
            "every" if stored is None else full.len(), time.perf_counter() - started,
        )  # fmt: skip
    if stored is None:
        return CyclePart(one_part(parts, behaviour), KeptPairs(behaviour, engine), all_cuts)
    # The changed vessels' stored rows on the days before those read (from X on for those
    # that went on from their cuts), to tell whether theirs changed there.
    seen_from = _first_seen(stored, full, hours)
    x_us = spliced_from["x_us"].min()
    if isinstance(x_us, int):
        seen_from = min(seen_from, _day_of(x_us))

    def compare() -> tuple[
        Mapping[str, pa.Table] | None, list[dict[str, pa.Table]], set[date] | None
    ]:
        """Return the stored rows, the rows found again (a vessel's from its X on: before
        are the stored ones) and the days on which they differ (None for both: the stored
        rows cannot be told apart by key)."""
        assert stored is not None
        compared: Mapping[str, pa.Table] | None = stored
        if loaded is not None and seen_from < loaded:
            compared = with_older_rows(root, stored, mmsis, seen_from, loaded)
        found_x = [_since_x(p, spliced_from, behaviour) for p in parts]
        if compared is None:
            return None, found_x, None
        compared = _since_x(compared, spliced_from, behaviour)
        return compared, found_x, changed_days(compared, found_x, mmsis, behaviour)

    compared, found_x, changed_on = compare()
    while loaded is not None and (changed_on is None or min(changed_on, default=loaded) < loaded):
        # Rows changed before the day guessed: read from there (every day if they cannot be
        # compared), and splice the parts found again with those rows.
        earlier = None if changed_on is None else min(changed_on)
        log.info(
            "detect: rows changed on days before %s, not read: reading %s", loaded,
            "every day" if earlier is None else f"from {earlier}",
        )  # fmt: skip
        stored, kept, loaded = _stored_rows(root, behaviour, earlier)
        from_window = _window_of(loaded, window, behaviour)
        if going is not None and going.vessels.height:
            parts[0], _ = splice(only(stored, going.vessels["mmsi"]), found, going.vessels, job)
        compared, found_x, changed_on = compare()
    assert compared is not None and changed_on is not None
    redo = changed_windows(compared, found_x, mmsis, window)
    pairs = KeptPairs(behaviour, engine, stored=kept, redo=redo, from_window=from_window)
    changed_rows = changed_codes(compared, found_x, mmsis)
    along = KeptAlong(read_along(root), changed_rows)
    changed_us = changed_from_us(compared, found_x, mmsis, behaviour)
    features = _kept_features(
        root, behaviour, changed_us, loaded, stored_features, activity, stored
    )
    part = from_day(one_part([without(stored, mmsis), *parts], behaviour), loaded, behaviour)
    return CyclePart(
        part, pairs, all_cuts, n_resumed, along=along, days=changed_on, features=features,
        loaded=loaded,
    )  # fmt: skip


def _stored_rows(
    root: StorePath | str, job: BehaviourJob, loaded: date | None
) -> tuple[dict[str, pa.Table], tuple[pl.DataFrame, pl.DataFrame] | None, date | None]:
    """Return the stored part with its rows kept by day from the day ``loaded`` on (every day
    with None), the stored close pairs that go with it, and the first day read: every day
    when the pairs do not go with the part (every window is searched, in every day's
    samples)."""
    window = window_slots(job)
    part = read_part(root, job, loaded)
    if part is None:
        raise StoreError(f"{store_root(root) / FOLDER}: the stored part changed while read")
    kept = read_pairs(root, part, window, _window_of(loaded, window, job))
    if kept is None and loaded is not None:
        return _stored_rows(root, job, None)
    return part, kept, loaded


def _day_us(day: date) -> int:
    return (day - date(1970, 1, 1)).days * _US_PER_DAY


def _window_of(loaded: date | None, window: int, job: BehaviourJob) -> int:
    """Return the first window of the close-pair search whose samples are read from the day
    ``loaded`` on (0: all are)."""
    if loaded is None:
        return 0
    step_us = int(job.settings.encounters.grid_min * 60e6)
    return -(-_day_us(loaded) // step_us) // window


def _first_day(part: Mapping[str, pa.Table], changed: pl.DataFrame) -> date:
    """Return the first day whose rows may change, a guess: that of the first change of the
    vessels ``changed`` (mmsi, changed_utc) or of the last time before it of the track in
    ``part`` going on then (samples may join the two, across a long silence at one spot),
    whichever is first; ``date.max`` for none. Their rows may change before (a track found
    again otherwise): the run then reads on from there."""
    times = _vessel_times(part)
    change = changed.select("mmsi", change_us=pl.col("changed_utc").dt.epoch("us"))
    going_on = (
        times.join(change, on="mmsi")
        .filter(pl.col("first_us") <= pl.col("change_us"))
        .group_by("mmsi")
        .agg(pl.col("last_us").sort_by("first_us").last())
    )
    first = change.join(going_on, on="mmsi", how="left").select(
        pl.min_horizontal("change_us", "last_us").min()
    )
    return date.max if first.item() is None else _day_of(first.item())


def _first_seen(part: Mapping[str, pa.Table], mmsis: pl.Series, hours: pl.DataFrame) -> date:
    """Return the first day of the vessels ``mmsis``: of their first tracks in ``part`` or
    positions in ``hours`` (the ledger's); ``date.max`` for none."""
    times = _vessel_times(part)
    first = [
        times.filter(pl.col("mmsi").is_in(mmsis.implode()))["first_us"].min(),
        hours.filter(pl.col("mmsi").is_in(mmsis.implode()))["hour_utc"].dt.epoch("us").min(),
    ]
    known = [int(t) for t in first if isinstance(t, int)]
    return _day_of(min(known)) if known else date.max


def _vessel_times(part: Mapping[str, pa.Table]) -> pl.DataFrame:
    """Return the ``times`` of a part's tracks with their vessels' MMSIs."""
    tracks = _frame(part[PREFIX + "tracks"]).with_row_index("track")
    return _frame(part[PREFIX + "times"]).join(
        tracks.select(pl.col("track").cast(pl.Int64), "mmsi"), on="track"
    )


def _day_of(t_us: int) -> date:
    """Return the day (UTC) of ``t_us``."""
    return date(1970, 1, 1) + timedelta(days=t_us // _US_PER_DAY)


def _kept_features(
    root: StorePath | str,
    job: BehaviourJob,
    changed_us: int,
    loaded: date | None,
    stored: pl.DataFrame | None,
    activity: tuple[pl.DataFrame, pl.DataFrame] | None,
    part: Mapping[str, pa.Table],
) -> KeptFeatures:
    """Return what the grids told of the stored silences, nothing from ``changed_us`` on; the
    rows of the merge are those from the day ``loaded`` on, those of the stored ``part``
    before."""
    spec = job.specs()[0]
    if loaded is None:
        return KeptFeatures(stored, changed_us, reach_us(job))
    loaded_bin = -((spec.t0_us - _day_us(loaded)) // spec.bin_us)
    tracks = _frame(part[PREFIX + "tracks"])

    def rows(name: str, from_bin: int) -> pl.DataFrame:
        since = _day_of(spec.t0_us + from_bin * spec.bin_us)
        return read_older_rows(root, name, tracks, since, loaded)

    return KeptFeatures(stored, changed_us, reach_us(job), loaded_bin, activity, rows)


def _stored_seeds(root: StorePath | str) -> pl.DataFrame:
    """Return the stored history of restart points, none when unreadable."""
    try:
        return SEEDS.read(root)
    except StoreError:
        return empty_frame(RESTARTS_SCHEMA)


def _stored_cuts(root: StorePath | str) -> pl.DataFrame:
    """Return the stored cuts, none when unreadable (every changed vessel is found again over
    its whole history)."""
    try:
        return CUTS.read(root)
    except StoreError:
        return empty_frame(CUTS.schema)
