"""Restart points of segmentation: where an MMSI's tracks can be resumed instead of redone.

Segmentation (:mod:`monitor.analyse.tracks`) reads an MMSI's positions in time order and keeps,
per track, its last few fixes (:func:`~monitor.analyse.track_kernels.assign_tracks`). That state
before a position, the *seeds*, is all it needs to go on from there exactly as over the whole
history. A restart point is such a position, taken where nothing before it can change any more:

* it and the position before it belong to one track (the *active* one), whose remembered fixes
  are still its own (no excursion split them off later), and every later position of the MMSI
  is in it or in a track begun after it (a displaced run, or another transmitter heard only
  after the active one's last fix);
* the active track is longer than any displaced run can be (``max_jump_reports``): it is never
  displaced; every other track ended at least ``max_jump_h`` before the restart point (none can
  host a run displaced from a later one, or be one), and a short one either ended before the
  active track began (so that it cannot span it) or the active track is already the longest
  (so that its growing changes no run's host);
* every other track that stays (is not a displaced run) ended before the active track began (the
  two never overlap) or long enough before the restart point that no later fix of the active
  track can be too far from it to be the same ship (:func:`far_apart_s`): the pairs of
  concurrent tracks are final.

A resumed run checks that it stays so: if a later position joins another of the MMSI's old
tracks, an excursion takes back remembered fixes, or a new track that stays overlaps the active
one in time, the MMSI is not resumed (it is detected again over its whole history). The
port-call conditions of a restart point are in :mod:`monitor.analyse.portcalls.restarts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.analyse.track_kernels import MAX_CANDIDATES
from monitor.config import TrackSettings
from monitor.core.geo import MPS_PER_KN
from monitor.schema import RESTARTS_SCHEMA

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_US_PER_H = 3_600_000_000
#: The farthest apart two points can be on the equirectangular distances tracks use, in km.
_FARTHEST_KM = 28_400.0
#: Per-row seed columns segmentation reads when resuming (null on positions to assign).
SEED_SLOT = "_seed_slot"
SEED_COUNT = "_seed_count"
SEED_JOINED = "_seed_joined"
SEED_ACTIVE = "_seed_active"
SEED_KEPT = "_seed_kept"
SEED_SINCE = "_seed_since"
#: Column marking the remembered fixes of the active track, kept as context (speeds).
CONTEXT = "_context"
#: Column holding each kept position's row in the time-sorted input (candidates refer to it).
SEQ = "_seq"


@dataclass(frozen=True)
class Resume:
    """What segmentation resumes from, and where it looks for new restart points."""

    #: :data:`~monitor.schema.RESTARTS_SCHEMA` rows of the MMSIs to resume.
    seeds: pl.DataFrame
    #: Restart points are taken at least this long before an MMSI's newest position, so that
    #: positions that come late by less than that still find theirs.
    lag_h: float = 3.0
    #: ... and within this span before that (one candidate an hour).
    window_h: float = 24.0
    #: Whether to look for new restart points at all (a pass that only goes on from the
    #: seeds, keeping none of its own, does not).
    look: bool = True


def far_apart_s(settings: TrackSettings, min_distance_km: float) -> float:
    """Return after how long no fix of one track can be too far from another track's last fix
    to be one ship (``concurrent_tracks``): farther than the farthest two points, at full
    speed, plus the margin."""
    return (_FARTHEST_KM + min_distance_km) / (settings.max_speed_kn * MPS_PER_KN / 1000.0)


def seed_frame(seeds: pl.DataFrame) -> pl.DataFrame:
    """Return restart rows as positions with the seed columns segmentation reads."""
    return seeds.select(
        "mmsi",
        "timestamp_utc",
        "lat",
        "lon",
        "sog_kn",
        pl.col("slot").cast(pl.Int64).alias(SEED_SLOT),
        pl.col("slot_count").cast(pl.Int64).alias(SEED_COUNT),
        pl.col("joined").alias(SEED_JOINED),
        pl.col("active").alias(SEED_ACTIVE),
        pl.col("kept").alias(SEED_KEPT),
        pl.col("since_utc").dt.epoch("us").alias(SEED_SINCE),
    )


def candidate_rows(mmsi: I64, t_us: I64, seed: Bools, resume: Resume) -> Bools:
    """Return the rows before which segmentation takes a snapshot: the first position of each
    hour of an MMSI within ``window_h`` before its newest position less ``lag_h``."""
    n = mmsi.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    last = np.ones(n, dtype=bool)
    last[:-1] = mmsi[1:] != mmsi[:-1]
    ends = np.flatnonzero(last)
    group = np.searchsorted(ends, np.arange(n))
    newest_us = t_us[ends][group]
    upper = newest_us - int(resume.lag_h * _US_PER_H)
    lower = upper - int(resume.window_h * _US_PER_H)
    hour = t_us // _US_PER_H
    first_of_hour = np.ones(n, dtype=bool)
    first_of_hour[1:] = (hour[1:] != hour[:-1]) | (mmsi[1:] != mmsi[:-1])
    result: Bools = first_of_hour & (t_us <= upper) & (t_us >= lower) & ~seed
    # Never an MMSI's first row: a restart point has a position before it.
    result[1:] &= mmsi[1:] == mmsi[:-1]
    result[0] = False
    return result


def check_resumed(
    mmsi: I64, raw: I64, seed_slot: I64, seed_active: Bools
) -> tuple[Bools, Bools, npt.NDArray[np.uint32]]:
    """Return which rows stay, which of them are the active track's seeds (context), and the
    MMSIs whose resumption failed (their rows all go: they are detected over their history).

    A resumed MMSI passes when no position to assign joined one of its old tracks but the
    active one, and each slot's seeds kept one track number (no excursion took them back).
    """
    seeded = seed_slot >= 0
    frame = pl.DataFrame(
        {"mmsi": mmsi, "raw": raw, "slot": seed_slot, "seeded": seeded, "active": seed_active}
    )
    resumed = frame.filter(pl.col("seeded"))["mmsi"].unique()
    part = frame.filter(pl.col("mmsi").is_in(resumed.implode()))
    active_raw = part.filter(pl.col("active")).group_by("mmsi").agg(t=pl.col("raw").first())
    slots = part.filter(pl.col("seeded")).group_by("mmsi", "slot").agg(n=pl.col("raw").n_unique())
    bad_slots = slots.filter(pl.col("n") > 1)["mmsi"]
    # Positions may start new tracks, but not join an old one other than the active track.
    old_raw = part.filter(pl.col("seeded") & ~pl.col("active")).select("mmsi", "raw").unique()
    new_rows = part.filter(~pl.col("seeded"))
    bad_rows = new_rows.join(old_raw, on=["mmsi", "raw"])["mmsi"]
    no_active = resumed.filter(~resumed.is_in(active_raw["mmsi"].implode()))
    failed = pl.concat([bad_slots, bad_rows, no_active]).unique().sort()
    fail_row = np.isin(mmsi, failed.to_numpy())
    keep: Bools = ~fail_row & (~seeded | seed_active)
    context: Bools = seeded & seed_active & ~fail_row
    return keep, context, failed.to_numpy().astype(np.uint32)


@dataclass
class Snapshots:
    """Segmentation's state before candidate rows, with what judging them needs."""

    #: Row (in time-sorted input) of each snapshot.
    at: I64
    #: Per snapshot and slot: its rows, most recent first (-1: none), then its count.
    slots: npt.NDArray[np.int64]


def restart_candidates(
    columns: pl.DataFrame,
    raw: I64,
    joined: npt.NDArray[np.float64],
    snaps: Snapshots,
    kept_raw: Bools,
    seed_kept: Bools | None,
    seed_count: I64 | None,
    since_us: I64,
    settings: TrackSettings,
) -> pl.DataFrame:
    """Return the seeds of each snapshot that can be a restart point as far as tracks go:
    :data:`RESTARTS_SCHEMA` rows without the active track's id and first fix (the caller adds
    them), with ``_seq`` the restart row.

    ``columns`` are the time-sorted rows (mmsi, timestamp_utc, lat, lon, sog_kn), ``raw`` their
    final track numbers, ``kept_raw`` whether each track number stays (is not displaced);
    ``seed_kept`` and ``seed_count`` whether a seed row's slot stayed and its size (resumed
    MMSIs; -1 elsewhere), else None; ``since_us`` per row the time of its MMSI's first position.
    """
    out: list[dict[str, object]] = []
    n = raw.size
    if snaps.at.size == 0:
        return pl.DataFrame(schema={**_CANDIDATE_SCHEMA})
    mmsi = columns["mmsi"].to_numpy()
    t_us = columns["timestamp_utc"].dt.epoch("us").to_numpy()
    # Each row's MMSI's last row, and each track's first and last rows.
    last = np.ones(n, dtype=bool)
    last[:-1] = mmsi[1:] != mmsi[:-1]
    ends = np.flatnonzero(last)
    end_of = ends[np.searchsorted(ends, np.arange(n))]
    n_raw = int(raw.max(initial=-1)) + 1
    first_of = np.full(n_raw, n, dtype=np.int64)
    np.minimum.at(first_of, raw, np.arange(n))
    last_of = np.zeros(n_raw, dtype=np.int64)
    np.maximum.at(last_of, raw, np.arange(n))
    counts = np.bincount(raw, minlength=n_raw)
    # Each MMSI's track numbers run from its first row's to its highest.
    heads = np.flatnonzero(np.r_[True, mmsi[1:] != mmsi[:-1]])
    group = np.searchsorted(heads, np.arange(n), side="right") - 1
    start_of = heads[group]
    top_of = np.maximum.reduceat(raw, heads)[group] if n else raw
    lat = columns["lat"].to_numpy()
    lon = columns["lon"].to_numpy()
    sog = columns["sog_kn"].cast(pl.Float64).to_numpy() if "sog_kn" in columns.columns else None
    jump_us = int(settings.max_jump_h * _US_PER_H)
    for k, p in enumerate(snaps.at.tolist()):
        t = raw[p]
        if p == 0 or mmsi[p - 1] != mmsi[p] or raw[p - 1] != t:
            continue
        # Later positions are in the track, or in tracks begun after it that a resumed run
        # finds again: displaced runs, or tracks that stay and begin after the track's end.
        later = raw[p : end_of[p] + 1]
        later = later[later != t]
        if later.size and (
            (first_of[later] < p).any()
            or (kept_raw[later] & (t_us[first_of[later]] <= t_us[last_of[t]])).any()
        ):
            continue
        if t_us[p - 1] >= t_us[p]:
            continue
        slots = snaps.slots[k * MAX_CANDIDATES : (k + 1) * MAX_CANDIDATES]
        used = [s for s in range(MAX_CANDIDATES) if slots[s, 0] >= 0]
        active = next((s for s in used if slots[s, 0] == p - 1), -1)
        if active < 0:
            continue
        ok = True
        others: list[tuple[int, int]] = []
        for s in used:
            rows = slots[s, :-1]
            rows = rows[rows >= 0]
            labels = raw[rows]
            if (labels != labels[0]).any():
                ok = False
                break
            if s != active:
                others.append((int(labels[0]), int(slots[s, -1])))
        if not ok:
            continue
        # Tracks the slots forgot (more tracks than slots) count as much as those remembered.
        known = {label for label, _ in others} | {int(t)}
        for label in range(int(raw[start_of[p]]), int(top_of[p]) + 1):
            if label not in known and first_of[label] < p:
                others.append((label, 0))
        other_max, kept_latest, short_latest = 0, -1, -1
        stays: dict[int, bool] = {}
        for label, remembered in others:
            head = int(first_of[label])
            seed_size = int(seed_count[head]) if seed_count is not None else -1
            seed = seed_size >= 0
            count = max(remembered, seed_size if seed else int(counts[label]))
            latest = int(t_us[last_of[label]])
            # Other tracks ended long enough before: no new track can host them or be theirs.
            if latest >= t_us[p] - jump_us:
                ok = False
                break
            other_max = max(other_max, count)
            stays[label] = (
                bool(seed_kept[head]) if seed_kept is not None and seed else bool(kept_raw[label])
            )
            if stays[label]:
                kept_latest = max(kept_latest, latest)
            if count <= settings.max_jump_reports:
                # The active track could host it only if it began before it ended, or (as an
                # MMSI's first track, soon after): what time the active track's start must pass.
                need = latest + jump_us
                if counts[label] >= count and int(t_us[head]) > int(since_us[p]):
                    need = latest
                short_latest = max(short_latest, need)
        if not ok:
            continue
        active_rows = slots[active, :-1]
        active_rows = active_rows[active_rows >= 0]
        active_count = int(slots[active, -1])
        if active_rows.size < 3 or raw[active_rows[0]] != t:
            continue
        if active_count <= settings.max_jump_reports:
            continue
        for s in used:
            rows = slots[s, :-1]
            rows = rows[rows >= 0]
            slot_stays = stays.get(int(raw[rows[0]]), True)
            for r in rows[::-1].tolist():
                out.append(
                    {
                        "mmsi": int(mmsi[p]),
                        "restart_us": int(t_us[p]),
                        "slot": s,
                        "slot_count": int(slots[s, -1]),
                        "active": s == active,
                        "kept": slot_stays,
                        "time_us": int(t_us[r]),
                        "lat": float(lat[r]),
                        "lon": float(lon[r]),
                        "sog_kn": float(sog[r]) if sog is not None else float("nan"),
                        "joined": float(joined[r]),
                        SEQ: p,
                        "kept_latest_us": kept_latest,
                        "short_latest_us": short_latest,
                        "bigger": active_count > other_max,
                        "since_us": int(since_us[p]),
                    }
                )
    if not out:
        return pl.DataFrame(schema={**_CANDIDATE_SCHEMA})
    frame = pl.DataFrame(out, schema=_RAW_CANDIDATE, orient="row")
    return frame.with_columns(
        restart_utc=pl.col("restart_us").cast(pl.Datetime("us", "UTC")),
        timestamp_utc=pl.col("time_us").cast(pl.Datetime("us", "UTC")),
        sog_kn=pl.col("sog_kn").fill_nan(None),
        since_utc=pl.col("since_us").cast(pl.Datetime("us", "UTC")),
    ).select(list(_CANDIDATE_SCHEMA))


_RAW_CANDIDATE: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "restart_us": pl.Int64(),
    "slot": pl.UInt8(),
    "slot_count": pl.UInt32(),
    "active": pl.Boolean(),
    "kept": pl.Boolean(),
    "time_us": pl.Int64(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "sog_kn": pl.Float64(),
    "joined": pl.Float64(),
    SEQ: pl.Int64(),
    "kept_latest_us": pl.Int64(),
    "short_latest_us": pl.Int64(),
    "bigger": pl.Boolean(),
    "since_us": pl.Int64(),
}
#: Candidates: RESTARTS_SCHEMA without the active track's id and first fix and the call
#: detector's state, and ``_seq``.
_CANDIDATE_SCHEMA: dict[str, pl.DataType] = {
    **{
        k: v
        for k, v in RESTARTS_SCHEMA.items()
        if k not in ("track_id", "first_utc", "first_lat", "first_lon", "call_state")
    },
    SEQ: pl.Int64(),
    "kept_latest_us": pl.Int64(),
    "short_latest_us": pl.Int64(),
    "bigger": pl.Boolean(),
}


def settled(candidates: pl.DataFrame, far_s: float) -> pl.DataFrame:
    """Return the candidates (with the active track's ``first_utc``) whose other tracks cannot
    change: those that stay either ended before the active track began (they never overlap) or
    long enough before the restart point that no later fix is too far from them
    (``far_s``); short ones either ended well before it began (it cannot span them) or the
    active track is already the largest (it cannot overtake their host)."""
    first = pl.col("first_utc").dt.epoch("us")
    restart = pl.col("restart_utc").dt.epoch("us")
    return candidates.filter(
        (
            (pl.col("kept_latest_us") < 0)
            | (pl.col("kept_latest_us") < first)
            | (pl.col("kept_latest_us") <= restart - int(far_s * 1e6))
        )
        & (pl.col("bigger") | (pl.col("short_latest_us") < 0) | (pl.col("short_latest_us") < first))
    )


@dataclass
class ActiveTracks:
    """The resumed MMSIs' active tracks in a resumed segmentation, as over the whole history."""

    #: Their track numbers.
    label: I64
    first_us: I64
    #: Positions before the restart point that are not among the seeds given.
    before: I64
    first_lat: npt.NDArray[np.float64]
    first_lon: npt.NDArray[np.float64]
    track_id: list[str]


def active_tracks(
    track_mmsi: npt.NDArray[np.uint32], first_row: I64, context: Bools, seeds: pl.DataFrame
) -> ActiveTracks:
    """Return the active tracks: those whose first row is a seed (context), with their first
    fix, number of positions and id from ``seeds``."""
    label = np.flatnonzero(context[first_row]).astype(np.int64)
    info = (
        seeds.filter(pl.col("active"))
        .group_by("mmsi")
        .agg(
            pl.col("track_id", "first_utc", "first_lat", "first_lon", "slot_count").first(),
            n_seeds=pl.len(),
        )
    )
    rows = pl.DataFrame({"mmsi": track_mmsi[label]}, schema={"mmsi": pl.UInt32()}).join(
        info, on="mmsi", how="left", maintain_order="left"
    )
    return ActiveTracks(
        label=label,
        first_us=rows["first_utc"].dt.epoch("us").to_numpy(),
        before=(rows["slot_count"].cast(pl.Int64) - rows["n_seeds"]).to_numpy(),
        first_lat=rows["first_lat"].to_numpy(),
        first_lon=rows["first_lon"].to_numpy(),
        track_id=rows["track_id"].to_list(),
    )


def overlapping(
    track_mmsi: npt.NDArray[np.uint32], kept: Bools, label: I64, first_us: I64, last_us: I64
) -> npt.NDArray[np.uint32]:
    """Return the MMSIs of the active tracks ``label`` beside which another track that stays
    began before the active one's last fix (the two overlap in time)."""
    if label.size == 0:
        return np.empty(0, np.uint32)
    active = np.zeros(track_mmsi.size, dtype=bool)
    active[label] = True
    frame = pl.DataFrame(
        {"mmsi": track_mmsi, "kept": kept, "active": active, "first": first_us, "last": last_us}
    )
    ends = frame.filter(pl.col("active")).select("mmsi", end=pl.col("last"))
    others = frame.filter(pl.col("kept") & ~pl.col("active")).join(ends, on="mmsi")
    clash = others.filter(pl.col("first") <= pl.col("end"))["mmsi"].unique().sort()
    return clash.to_numpy().astype(np.uint32)


def first_times(mmsi: npt.NDArray[np.uint32], t_us: I64, seed_since: I64 | None) -> I64:
    """Return per row (sorted by MMSI and time) the time of its MMSI's first position: its first
    row's, or for a resumed MMSI the one its seeds keep (``seed_since``, -1 elsewhere)."""
    n = mmsi.size
    start = np.ones(n, dtype=bool)
    start[1:] = mmsi[1:] != mmsi[:-1]
    first = np.flatnonzero(start)
    group = np.cumsum(start) - 1
    since: I64 = t_us[first][group]
    if seed_since is not None:
        known = seed_since[first] >= 0
        since = np.where(known[group], seed_since[first][group], since)
    return since
