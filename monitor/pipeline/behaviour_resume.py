"""Behaviour parts of a vessel found again from an earlier restart point, not its whole history.

A vessel's behaviour parts (:func:`~monitor.pipeline.behaviour_buckets.behaviour_parts`) depend
on its positions near each row only, but what is near reaches back: a silence's evidence looks a
day (``gaps.window_h``) before and after it, a loitering's start three positions before, a row of
where it was heard one. So a vessel goes on from a segmentation restart point ``K`` (kept in a
history of its restart points, ``calls/behaviour/seeds.parquet``) well before the positions that
changed (from ``c`` on): its parts are found from ``K`` on (the *new* rows), and the stored rows
(the *old* ones) of each track still going at ``K`` are cut at ``X``, a day and an hour after
``K`` (on a bin of the reception grids): old rows before ``X``, new rows from ``X`` on. Tracks that
ended before ``K`` keep all their rows.

A track's usual interval is over its whole history: the stored parts keep, per track, how often
each interval occurs among those that begin before its vessel's *cut* (``usual``, a restart time
of the history, ``calls/behaviour/cuts.parquet``); a vessel goes on from its cut (``K`` is the
cut), and the new rows add the intervals from there on.

This gives the rows of one run over all positions when nothing before ``X`` can see past ``c``.
That holds unless a silence or a long interval of a track still going spans the cut or ``c``;
each is checked (:func:`splice`), and a vessel where one does is found again over its whole
history, as is one without a cut, whose restart point is gone (late positions before it, or a
segmentation that cannot go on), or whose positions changed less than a day and a few hours
after its cut. So a cut lags a day and a few hours behind a vessel's newest position, and is
held back (:func:`holds`) so that ``X`` falls before a silence that new positions may still
change: a vessel silent for hours goes on from before it.

A loitering is the medians of all its positions, however long it lasts: the part keeps the
positions of each loitering that a later run may still go on (``loiter_points``), and one
begun before ``X`` and not over is made of their positions before ``X`` and those of the run
found again across ``X`` (:func:`splice`). So a vessel drifting or anchored at sea for weeks
goes on from a cut a day behind its newest position, as any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import polars as pl
import pyarrow as pa

from monitor.analyse.cells import PLACE_BITS
from monitor.analyse.loitering import POINTS_SCHEMA, SMOOTH, summarised
from monitor.analyse.reception_rows import usual_from_counts
from monitor.pipeline.behaviour_buckets import PREFIX, BehaviourJob, points_to_keep
from monitor.schema import RESTARTS_SCHEMA
from monitor.store.table import Table

_US_PER_H = 3_600_000_000
#: A new restart point joins the history only this long after the newest one in it.
SPACING_H = 6.0
#: Restart points of a vessel without a cut are kept this long back from its newest.
KEEP_H = 96.0
HOLD_SCHEMA = {"mmsi": pl.UInt32(), "hold_utc": pl.Datetime("us", "UTC")}

SEEDS = Table(
    "calls/behaviour/seeds.parquet",
    RESTARTS_SCHEMA,
    "history of restart points",
    "delete the calls/behaviour folder and run `monitor detect` again",
)
CUTS = Table(
    "calls/behaviour/cuts.parquet",
    {"mmsi": pl.UInt32(), "cut_utc": pl.Datetime("us", "UTC")},
    "cuts of the usual intervals",
    "delete the calls/behaviour folder and run `monitor detect` again",
)
#: Track-numbered tables and the column (or expression) that says when each row is.
_ANCHORS = ("silences", "times", "quiet", "samples", "near", "region", "usual")


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def next_history(
    history: pl.DataFrame, points: pl.DataFrame, reset: pl.Series, *, full: bool
) -> pl.DataFrame:
    """Return the history of restart points after a run whose restart points are ``points``:
    the vessels ``reset`` (detected again over their whole history, so that late positions may
    have come before their old points) and every vessel of a ``full`` run start it again."""
    if full:
        return points
    kept = history.filter(~pl.col("mmsi").is_in(reset.implode()))
    newest = kept.group_by("mmsi").agg(newest=pl.col("restart_utc").max())
    spacing = pl.duration(microseconds=int(SPACING_H * _US_PER_H))
    added = (
        points.join(newest, on="mmsi", how="left")
        .filter(pl.col("newest").is_null() | (pl.col("restart_utc") >= pl.col("newest") + spacing))
        .drop("newest")
    )
    return pl.concat([kept, added]).sort("mmsi", "restart_utc", "slot")


def pruned(history: pl.DataFrame, cuts: pl.DataFrame) -> pl.DataFrame:
    """Return the ``history`` without the restart points no run can go on from: before each
    vessel's cut, or long before its newest point when it has none."""
    keep_us = pl.duration(microseconds=int(KEEP_H * _US_PER_H))
    return (
        history.join(cuts, on="mmsi", how="left")
        .filter(
            pl.col("restart_utc")
            >= pl.coalesce("cut_utc", pl.col("restart_utc").max().over("mmsi") - keep_us)
        )
        .drop("cut_utc")
    )


def heard_lately(part: Mapping[str, pa.Table], last: pl.DataFrame) -> dict[str, pa.Table]:
    """Return ``part`` without the loitering positions kept of the vessels of ``last`` (mmsi,
    last_utc) unheard for :data:`KEEP_H` before the newest position of all: one heard again
    after that long in a loitering that goes on is found again over its whole history
    (:func:`splice`); one gone for good keeps no positions for ever."""
    newest = last["last_utc"].max()
    out = dict(part)
    if newest is not None:
        gone = last.filter(pl.col("last_utc") < pl.lit(newest) - timedelta(hours=KEEP_H))
        points = _frame(part[PREFIX + "loiter_points"])
        out[PREFIX + "loiter_points"] = points.join(gone, on="mmsi", how="anti").to_arrow()
    return out


def reach_us(job: BehaviourJob) -> int:
    """Return how far a silence's evidence reaches from it: a day (``gaps.window_h``) and an
    hour (``X`` is this far after ``K``, on a bin)."""
    return int((job.settings.gaps.window_h + 1.0) * _US_PER_H)


def lead_us(job: BehaviourJob) -> int:
    """Return how long before the positions that changed a vessel's cut must be: its
    :func:`reach_us` up to ``X``, as long as a silence or a loitering takes to be one (so that
    ``X`` is before every one not yet found: :func:`holds` keeps it before the silences found,
    :func:`splice` goes on with the loitering), and three hours of margin."""
    settings = job.settings
    found_h = max(settings.gaps.min_gap_h, settings.loitering.min_duration_h)
    return reach_us(job) + int((found_h + 3.0) * _US_PER_H)


def holds(part: Mapping[str, pa.Table], last: pl.DataFrame, job: BehaviourJob) -> pl.DataFrame:
    """Return, per vessel of ``last`` (mmsi, last_utc: its newest position, changed_utc: the
    first of its new ones), how late its next cut may be (mmsi, hold_utc) so that its next
    run can go on from it: its ``X`` at or before each silence of its ``part`` that may not be
    over by then (open, or ended within :func:`lead_us` of its newest position), as those rows
    are found again from ``X`` on only. The silence after its newest position in ``part`` ends
    at the first new one: held before when that long is a silence."""
    reach, lead = reach_us(job), lead_us(job)
    bin_us, t0 = job.specs()[0].bin_us, job.data_start_us
    ids = _ids(part).select("track", "mmsi")
    newest = (
        _frame(part[PREFIX + "times"])
        .join(ids, on="track")
        .group_by("mmsi")
        .agg(newest_us=pl.col("last_us").max())
    )
    shortest_us = int(job.settings.gaps.near_port_min_gap_h * _US_PER_H)
    ended = pl.col("open") & (pl.col("start_us") >= pl.col("newest_us"))
    silences = (
        _frame(part[PREFIX + "silences"])
        .join(ids, on="track")
        .join(newest, on="mmsi")
        .join(last.select("mmsi", changed_us=pl.col("changed_utc").dt.epoch("us")), on="mmsi")
        .with_columns(
            end_us=pl.when(ended).then("changed_us").otherwise("end_us"),
            open=pl.col("open") & ~ended,
        )
        .filter(pl.col("end_us") - pl.col("start_us") >= shortest_us)
    )
    rows = silences.select("mmsi", "start_us", "end_us", "open").join(
        last.select("mmsi", last_us=pl.col("last_utc").dt.epoch("us")), on="mmsi"
    )
    going = rows.filter(pl.col("open") | (pl.col("end_us") >= pl.col("last_us") - lead))
    return (
        # The latest K whose X (on a bin, see :func:`resumable`) is at the row's start or before.
        going.with_columns(hold_us=t0 + (pl.col("start_us") - t0) // bin_us * bin_us - reach)
        .group_by("mmsi")
        .agg(hold_utc=pl.col("hold_us").min().cast(pl.Datetime("us", "UTC")))
    )


def new_cuts(
    history: pl.DataFrame,
    last: pl.DataFrame,
    job: BehaviourJob,
    old: pl.DataFrame,
    hold: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return the cut of each vessel of ``last`` (mmsi, last_utc: its newest position): its
    newest restart point at least :func:`lead_us` before the start of that position's hour,
    and not after its ``hold`` (:func:`holds`) if it has one, never before its ``old`` cut.

    The next run knows its new positions by the hour they are in (the ledger's), which may be
    the hour of this newest one: a cut a lead before that hour is a lead before them."""
    lead = pl.duration(microseconds=lead_us(job))
    hold = hold if hold is not None else pl.DataFrame(schema=HOLD_SCHEMA)
    latest = pl.min_horizontal(pl.col("last_utc").dt.truncate("1h") - lead, pl.col("hold_utc"))
    found = (
        history.select("mmsi", "restart_utc")
        .unique()
        .join(last.select("mmsi", "last_utc"), on="mmsi")
        .join(hold, on="mmsi", how="left")
        .filter(pl.col("restart_utc") <= latest)
        .group_by("mmsi")
        .agg(cut_utc=pl.col("restart_utc").max())
    )
    both = found.join(old, on="mmsi", how="full", coalesce=True, suffix="_old")
    both = both.filter(pl.col("mmsi").is_in(last["mmsi"].implode()))
    return both.select("mmsi", cut_utc=pl.max_horizontal("cut_utc", "cut_utc_old")).sort("mmsi")


@dataclass(frozen=True)
class Resumed:
    """The vessels that go on from their cuts: mmsi, restart_utc (``K``), x_us (``X``),
    changed_us (``c``); and the seeds to go on from."""

    vessels: pl.DataFrame
    seeds: pl.DataFrame


def resumable(
    changed: pl.DataFrame,
    history: pl.DataFrame,
    cuts: pl.DataFrame,
    job: BehaviourJob,
) -> Resumed:
    """Return which of the ``changed`` vessels (mmsi, changed_utc) can go on from their cuts:
    those whose cut is a restart point of the ``history`` at least :func:`lead_us` before the
    positions that changed."""
    bin_us, t0 = job.specs()[0].bin_us, job.data_start_us
    points = history.select("mmsi", "restart_utc").unique()
    vessels = (
        changed.join(cuts, on="mmsi")
        .join(points, left_on=["mmsi", "cut_utc"], right_on=["mmsi", "restart_utc"], how="semi")
        .select(
            "mmsi",
            restart_utc="cut_utc",
            changed_us=pl.col("changed_utc").dt.epoch("us"),
            k_us=pl.col("cut_utc").dt.epoch("us"),
        )
        .filter(pl.col("changed_us") - pl.col("k_us") >= lead_us(job))
    )
    # X on a bin of the reception grids: rows of where a track was heard are cut by bin.
    first_bin = (pl.col("k_us") + reach_us(job) - t0 + bin_us - 1) // bin_us
    vessels = vessels.with_columns(x_us=t0 + first_bin * bin_us).drop("k_us")
    seeds = history.join(vessels.select("mmsi", "restart_utc"), on=["mmsi", "restart_utc"])
    return Resumed(vessels.sort("mmsi"), seeds)


def row_time(name: str, job: BehaviourJob) -> pl.Expr:
    """Return when each row of the part's table ``name`` is, in us (null: a row per track)."""
    if name in ("silences",):
        return pl.col("start_us")
    if name == "quiet":
        return pl.col("from_us")
    if name == "samples":
        return pl.col("slot") * int(job.settings.encounters.grid_min * 60e6)
    if name in ("near", "region"):
        spec = job.specs()[0]
        return spec.t0_us + (pl.col("code") // (1 << PLACE_BITS)) * spec.bin_us
    return pl.lit(None, pl.Int64)


def _named(part: Mapping[str, pa.Table], name: str, ids: pl.DataFrame) -> pl.DataFrame:
    """Return the rows of a part's table ``name`` with their tracks' ids (and mmsi)."""
    frame = _frame(part[PREFIX + name])
    frame = frame.drop([c for c in ("track_id", "mmsi") if c in frame.columns])
    return frame.join(ids, on="track").drop("track")


def _ids(part: Mapping[str, pa.Table]) -> pl.DataFrame:
    tracks = _frame(part[PREFIX + "tracks"])
    return tracks.with_columns(track=pl.int_range(pl.len(), dtype=pl.Int64))


def splice(
    old: Mapping[str, pa.Table],
    found: Sequence[Mapping[str, pa.Table]],
    resumed: pl.DataFrame,
    job: BehaviourJob,
) -> tuple[dict[str, pa.Table], pl.Series]:
    """Return the part of the ``resumed`` vessels (:class:`Resumed` ``vessels``) made of their
    ``old`` rows (the stored part of those vessels) and the rows ``found`` from their cuts on,
    and the vessels for which that would not be what one run over all positions gives (left
    out of the part: find them again over their whole history)."""
    old_ids = _ids(old)
    new_ids = pl.concat(
        [_ids(p).with_columns(bucket=pl.lit(b)) for b, p in enumerate(found)]
    ).with_columns(order=pl.int_range(pl.len()))
    when = resumed.select("mmsi", "x_us", "changed_us", k_us=pl.col("restart_utc").dt.epoch("us"))
    failed = pl.concat(
        [pl.Series("mmsi", [], pl.UInt32), *(_frame(p[PREFIX + "failed"])["mmsi"] for p in found)]
    )
    going = set(new_ids["track_id"].to_list())

    def old_rows(name: str) -> pl.DataFrame:
        return (
            _named(old, name, old_ids)
            .with_columns(going=pl.col("track_id").is_in(list(going)), when=row_time(name, job))
            .join(when, on="mmsi")
        )

    def new_rows(name: str) -> pl.DataFrame:
        rows = [_named(p, name, _ids(p)).with_columns(when=row_time(name, job)) for p in found]
        return pl.concat(rows).join(when, on="mmsi")

    bad: list[pl.Series] = [failed]
    # Tracks: the old ones in their order, then those begun since, after all old ones.
    first_old = _named(old, "times", old_ids).select("track_id", "mmsi", "first_us")
    first_new = new_rows("times").select("track_id", "mmsi", new_first="first_us")
    begun = first_new.join(first_old, on="track_id", how="anti")
    latest = first_old.group_by("mmsi").agg(latest=pl.col("first_us").max())
    bad.append(
        begun.join(latest, on="mmsi").filter(pl.col("new_first") <= pl.col("latest"))["mmsi"]
    )
    # Old tracks begun after K must go on in the new rows (else their positions moved).
    lost = first_old.join(when, on="mmsi").filter(
        (pl.col("first_us") >= pl.col("k_us")) & ~pl.col("track_id").is_in(list(going))
    )
    bad.append(lost["mmsi"])
    # Intervals of 30 minutes or more, as the part will hold them.
    quiet = pl.concat(
        [
            old_rows("quiet").filter(~pl.col("going") | (pl.col("when") < pl.col("x_us"))),
            new_rows("quiet")
            .filter(pl.col("when") >= pl.col("x_us"))
            .with_columns(going=pl.lit(True)),
        ],
        how="diagonal_relaxed",
    )
    going_quiet = quiet.filter("going")
    # An interval from before X to after c: a silence or samples across the cut.
    bad.append(
        going_quiet.filter(
            (pl.col("from_us") < pl.col("x_us")) & (pl.col("to_us") >= pl.col("changed_us"))
        )["mmsi"]
    )
    # A loitering from X on, of a track going on at K: its start depends on the positions
    # from its lead on, which must be new ones (a track begun since has all its positions new).
    loitering_found = pl.concat([_frame(p[PREFIX + "loitering"]) for p in found])
    loitering_new = loitering_found.join(when, on="mmsi").filter(
        pl.col("start_utc").dt.epoch("us") >= pl.col("x_us")
    )
    spanning = first_old.join(when, on="mmsi").filter(pl.col("first_us") < pl.col("k_us"))
    lead_us = pl.col("lead_utc").dt.epoch("us")
    bad.append(
        loitering_new.join(spanning.select("track_id"), on="track_id").filter(
            lead_us.is_null() | (lead_us < pl.col("k_us"))
        )["mmsi"]
    )
    # Old silences before X must be over, their evidence a day after them before c.
    window_us = reach_us(job)
    silences = old_rows("silences").filter("going", pl.col("when") < pl.col("x_us"))
    bad.append(
        silences.filter(pl.col("open") | (pl.col("end_us") + window_us >= pl.col("changed_us")))[
            "mmsi"
        ]
    )
    # Old loitering before X that may not be over (not settled before c) goes on in the new
    # rows' run across X.
    loiter = _frame(old[PREFIX + "loitering"]).join(when, on="mmsi")
    loiter = loiter.with_columns(
        going=pl.col("track_id").is_in(list(going)),
        start_us=pl.col("start_utc").dt.epoch("us"),
    )
    settled_us = pl.col("settled_utc").dt.epoch("us")
    going_on = loiter.filter(
        "going",
        pl.col("start_us") < pl.col("x_us"),
        settled_us.is_null() | (settled_us >= pl.col("changed_us")),
    )
    old_points = _frame(old[PREFIX + "loiter_points"])
    new_points = pl.concat([_frame(p[PREFIX + "loiter_points"]) for p in found])
    went_on, went_on_points, not_on = _went_on(
        going_on, old_points, loitering_found, new_points, job
    )
    bad.append(not_on)
    out_bad = pl.concat([b.cast(pl.UInt32) for b in bad]).unique().sort()
    keep = ~pl.col("mmsi").is_in(out_bad.implode())

    # The part: tracks of each vessel, old ones first.
    tracks = (
        pl.concat(
            [
                old_ids.select("track_id", "mmsi", key=pl.lit(0), order=pl.col("track")),
                new_ids.join(old_ids.select("track_id"), on="track_id", how="anti").select(
                    "track_id", "mmsi", key=pl.lit(1), order="order"
                ),
            ]
        )
        .filter(keep)
        .sort("mmsi", "key", "order")
        .with_row_index("track")
        .with_columns(pl.col("track").cast(pl.Int64))
    )
    number = tracks.select("track_id", "track")
    out: dict[str, pl.DataFrame] = {"tracks": tracks.select("track_id", "mmsi")}
    for name in _ANCHORS:
        schema = _frame(old[PREFIX + name]).schema
        if name == "times":
            continue
        columns = [c for c in schema if c != "track"]
        columns += [] if "track_id" in columns else ["track_id"]
        rows = pl.concat(
            [
                old_rows(name)
                .filter(~pl.col("going") | (pl.col("when") < pl.col("x_us")) | (name == "usual"))
                .select(*columns, side=pl.lit(0)),
                new_rows(name)
                .filter((pl.col("when") >= pl.col("x_us")) | (name == "usual"))
                .select(*columns, side=pl.lit(1)),
            ],
            how="vertical_relaxed",
        )
        rows = rows.join(number, on="track_id").sort("track", "side", maintain_order=True)
        out[name] = rows.select([pl.col(c).cast(t) for c, t in schema.items()])
    counts = pl.concat(
        [
            old_rows("usual").filter("going").select("track_id", "dt_us", "n"),
            *(
                _named(p, name, _ids(p)).select("track_id", "dt_us", "n")
                for p in found
                for name in ("usual", "recent")
            ),
        ]
    )
    out["times"] = _times(old_rows("times"), new_rows("times"), counts, number, job)
    out["times"] = out["times"].select(
        [pl.col(c).cast(t) for c, t in _frame(old[PREFIX + "times"]).schema.items()]
    )
    old_loiter = loiter.filter(~pl.col("going") | (pl.col("start_us") < pl.col("x_us"))).join(
        going_on, on=["track_id", "start_utc"], how="anti"
    )
    schema = _frame(old[PREFIX + "loitering"]).schema
    out["loitering"] = pl.concat(
        [old_loiter.select(list(schema)), went_on, loitering_new.select(list(schema))]
    ).filter(keep)
    points = pl.concat(
        [
            old_points.join(_runs(old_loiter), on=["track_id", "run_utc"], how="semi"),
            went_on_points,
            new_points.join(_runs(loitering_new), on=["track_id", "run_utc"], how="semi"),
        ]
    )
    out["loiter_points"] = points_to_keep(points, out["loitering"], job.cut_frame()).filter(keep)
    out["start"] = _frame(old[PREFIX + "start"])
    return {PREFIX + name: frame.to_arrow() for name, frame in out.items()}, out_bad


def _runs(rows: pl.DataFrame) -> pl.DataFrame:
    """Return the runs of loitering ``rows`` as their points name them."""
    return rows.select("track_id", run_utc="start_utc")


def _went_on(
    rows: pl.DataFrame,
    old_points: pl.DataFrame,
    new_rows: pl.DataFrame,
    new_points: pl.DataFrame,
    job: BehaviourJob,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """Return the loitering ``rows`` of the old part (begun before their vessel's X, not
    settled before its c; with x_us, changed_us) gone on in the run of ``new_rows`` (found from
    the cut on) across X, and their points: the old run's points before X, the new run's from
    X on. And the vessels of those that cannot be so told (find them again whole): an old run
    that ended before X, a new run that does not cross it, points not kept, or fewer than
    :data:`~monitor.analyse.loitering.SMOOTH` positions from X to c, after which the
    old points before X would not be settled."""
    us = pl.col("timestamp_utc").dt.epoch("us")
    across = new_rows.join(
        rows.select(
            "track_id",
            "x_us",
            "changed_us",
            old_start="start_utc",
            old_end="end_utc",
            old_n="n_positions",
        ),
        on="track_id",
    ).filter(
        pl.col("start_utc").dt.epoch("us") < pl.col("x_us"),
        pl.col("end_utc").dt.epoch("us") >= pl.col("x_us"),
        pl.col("old_end").dt.epoch("us") >= pl.col("x_us"),
    )
    old_run = old_points.join(
        across.select("track_id", "x_us", run_utc="old_start"), on=["track_id", "run_utc"]
    )
    new_run = new_points.join(
        across.select("track_id", "x_us", "changed_us", "old_start", run_utc="start_utc"),
        on=["track_id", "run_utc"],
    )
    counts = (
        across.select("track_id", "old_n", "n_positions")
        .join(old_run.group_by("track_id").agg(n_old=pl.len()), on="track_id")
        .join(
            new_run.group_by("track_id").agg(
                n_new=pl.len(),
                n_settled=((us >= pl.col("x_us")) & (us < pl.col("changed_us"))).sum(),
            ),
            on="track_id",
        )
    )
    ok = counts.filter(
        pl.col("n_old") == pl.col("old_n"),
        pl.col("n_new") == pl.col("n_positions"),
        pl.col("n_settled") >= SMOOTH,
    )["track_id"]
    points = (
        pl.concat(
            [
                old_run.filter(us < pl.col("x_us")).drop("x_us"),
                new_run.filter(us >= pl.col("x_us")).with_columns(run_utc="old_start"),
            ],
            how="diagonal_relaxed",
        )
        .filter(pl.col("track_id").is_in(ok.implode()))
        .sort("track_id", "run_utc", maintain_order=True)
        .select(list(POINTS_SCHEMA))
    )
    merged = summarised(points, job.settings.loitering, settled=True)
    not_on = rows.join(merged, on=["track_id", "start_utc"], how="anti")
    return merged, points, not_on["mmsi"]


def _times(
    old: pl.DataFrame,
    new: pl.DataFrame,
    counts: pl.DataFrame,
    number: pl.DataFrame,
    job: BehaviourJob,
) -> pl.DataFrame:
    """Return per track its first and last time and usual interval: the old row of a track
    that ended before K, else its first time of old, its last of new, and its usual interval
    from ``counts`` of its intervals (track_id, dt_us, n: before the cut, old ``usual``; from it
    on, new ``usual`` and ``recent``)."""
    max_us = int(job.settings.gaps.min_gap_h * _US_PER_H)
    ended = old.filter(~pl.col("going")).select("track_id", "first_us", "last_us", "usual_us")
    going = new.drop("usual_us").join(
        old.select("track_id", old_first="first_us"), on="track_id", how="left"
    )
    ids = going.select("track_id").with_columns(track=pl.int_range(pl.len(), dtype=pl.Int64))
    usual = usual_from_counts(counts.join(ids, on="track_id").drop("track_id"), max_us)
    going = going.join(ids, on="track_id").join(usual, on="track", how="left")
    rows = pl.concat(
        [
            ended,
            going.select(
                "track_id",
                first_us=pl.coalesce("old_first", "first_us"),
                last_us="last_us",
                usual_us=pl.col("usual_us").fill_null(max_us),
            ),
        ],
        how="vertical_relaxed",
    )
    return (
        rows.join(number, on="track_id")
        .sort("track")
        .select("track", "first_us", "last_us", "usual_us")
    )
