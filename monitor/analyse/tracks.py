"""Tracks: each MMSI's positions split into one track per transmitter, displaced runs dropped.

Segmentation follows Global Fishing Watch's ``gpsdio-segment``. An MMSI's positions are taken in
time order, and each joins a track it can be reached from at ``max_speed_kn``, the interval
padded in quadrature by ``clock_slack_s`` (logging clocks jitter and step back by minutes, and
one message can be logged twice minutes apart). Of the tracks it could join it takes the likeliest:
a Gaussian density around each track's last fix whose spread grows with the time since, weighed
down for tracks of few fixes (which may be bad fixes themselves), so a track heard seconds ago
beats one heard hours ago. A short track also needs the fix to be within what both fixes' speed
over ground allows: bad fixes keep their ship's true SOG, and would otherwise link up at any
speed up to the maximum. A track silent for ``max_silence_h`` is closed: it takes a fix only when
no open track can, so one ship silent for days keeps its track while a second ship on its MMSI
cannot take it over; a track as small as an excursion, silent for longer than one lasts, takes
no more fixes while a real track of the MMSI is heard. A fix that no track's last fix can reach
but an earlier one (of its last 12) can, better than the fix after that one did, and with a
speed closer to the SOG reported than that fix's, returns from an excursion: it joins that
track and the excursion becomes a track of its own (gpsdio-segment's look-back, which keeps 5
fixes and has no speed test: a displaced run first heard after a satellite pass gap joins the
ship's track, and a ship heard now and then fits a fix hours back about as well as its last).
Any other fix starts a new track.

A short track (at most ``max_jump_reports`` positions over at most ``max_jump_h``, or fewer than
ten over any time) within the time span of a longer track of its MMSI (or just before its first
or just after its last position) is a displaced run: the transmitter jumped away and came back
(GPS fault, spoofing burst, a lone bad fix). It belongs to no track and is reported in
:attr:`Segmentation.jumps`. But a short track of ten or more positions that reports while the
longer one keeps reporting is a second transmitter, and stays a track.

Two tracks of one MMSI that remain are two transmitters; :func:`concurrent_tracks` finds those
active at the same time farther apart than one ship could sail.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from monitor.analyse.positions import SortedRows, sorted_rows
from monitor.analyse.track_kernels import (
    F64,
    assign_tracks,
    displaced_hosts,
    kept_labels,
    track_spans,
)
from monitor.analyse.track_restarts import (
    CONTEXT,
    SEED_ACTIVE,
    SEED_COUNT,
    SEED_JOINED,
    SEED_KEPT,
    SEED_SINCE,
    SEED_SLOT,
    SEQ,
    Resume,
    Snapshots,
    active_tracks,
    candidate_rows,
    check_resumed,
    first_times,
    overlapping,
    restart_candidates,
    seed_frame,
    settled,
)
from monitor.config import TrackSettings
from monitor.core.geo import METRES_PER_DEG, MPS_PER_KN
from monitor.core.jit import I64
from monitor.schema import CONCURRENT_SCHEMA, JUMPS_SCHEMA, RESTARTS_SCHEMA, UTC_US

_US_PER_H = 3_600_000_000


@dataclass
class Segmentation:
    """What :func:`segment` gives back."""

    #: The positions kept, sorted by mmsi, track and time, with ``track`` (UInt32): the row of
    #: their track in :attr:`tracks`.
    positions: pl.DataFrame
    #: One row per track, :data:`monitor.schema.TRACKS_SCHEMA`, in the order of ``track``.
    tracks: pl.DataFrame
    #: One row per dropped run of displaced positions, :data:`monitor.schema.JUMPS_SCHEMA`.
    jumps: pl.DataFrame
    #: MMSIs that could not be resumed (left out: detect them over their whole history).
    failed: pl.Series = field(default_factory=lambda: pl.Series("mmsi", [], pl.UInt32()))
    #: Restart points found, :data:`monitor.schema.RESTARTS_SCHEMA` and ``_seq`` (the restart
    #: position's row, as in the ``_seq`` column of :attr:`positions`); only when resuming.
    candidates: pl.DataFrame | None = None

    @property
    def n_dropped(self) -> int:
        """Return the number of positions dropped as displaced."""
        return int(self.jumps["n_positions"].sum()) if self.jumps.height else 0

    def with_track_ids(self) -> pl.DataFrame:
        """Return :attr:`positions` with a ``track_id`` column after ``mmsi``."""
        return _labelled(self.positions, self.tracks)

    def multi_track(self) -> pl.DataFrame:
        """Return :meth:`with_track_ids` of the MMSIs that have several tracks only."""
        several = self.tracks.filter(pl.len().over("mmsi") > 1)["mmsi"].unique()
        rows = self.positions.filter(pl.col("mmsi").is_in(several.implode()))
        return _labelled(rows, self.tracks)


def _labelled(positions: pl.DataFrame, tracks: pl.DataFrame) -> pl.DataFrame:
    labelled = positions.with_columns(track_id=tracks["track_id"].gather(positions["track"]))
    return labelled.select("mmsi", "track_id", pl.exclude("mmsi", "track_id"))


def _distance_km(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Return equirectangular distances: exact enough for the km to hundreds of km compared."""
    dlon = (lon2 - lon1 + 180.0) % 360.0 - 180.0
    x = dlon * np.cos(np.radians(0.5 * (lat1 + lat2)))
    result: F64 = np.hypot(x, lat2 - lat1) * (METRES_PER_DEG / 1000.0)
    return result


def _track_ids(mmsi: pl.Series, first_utc: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"mmsi": mmsi, "first_utc": first_utc}).with_columns(
        stamp=pl.col("first_utc").dt.strftime("%Y%m%dT%H%M%SZ")
    )
    frame = frame.with_columns(k=pl.int_range(pl.len()).over("mmsi", "stamp"))
    suffix = pl.when(pl.col("k") > 0).then(pl.format("-{}", pl.col("k") + 1)).otherwise(pl.lit(""))
    return frame.select(track_id=pl.format("{}-{}", "mmsi", "stamp") + suffix).to_series()


def _valid(positions: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    return (
        positions.lazy()
        .filter(
            pl.col("lat").is_finite()
            & pl.col("lon").is_finite()
            & pl.col("mmsi").is_not_null()
            & pl.col("timestamp_utc").is_not_null()
        )
        .collect()
    )


def segment(
    positions: pl.LazyFrame | pl.DataFrame,
    settings: TrackSettings,
    resume: Resume | None = None,
    *,
    far_s: float = 0.0,
) -> Segmentation:
    """Return the positions split into tracks, one per transmitter, displaced runs dropped.

    ``positions`` needs mmsi, timestamp_utc, lat and lon; other columns are kept, and ``sog_kn``
    (when there) keeps stray fixes apart. Rows without a finite position, an MMSI or a time are
    left out. Each MMSI is segmented over the positions given, in time order, so the result does
    not depend on their order or on other MMSIs.

    With ``resume``, MMSIs with seeds go on from their restart point (``positions`` holds theirs
    from there on; see :mod:`monitor.analyse.track_restarts`), those that cannot are left out
    and named in :attr:`Segmentation.failed`, and restart points are looked for
    (:attr:`Segmentation.candidates`; ``far_s``: see
    :func:`~monitor.analyse.track_restarts.far_apart_s`).
    The positions then have ``_seq`` and ``_context`` (the active track's seeds, kept for speeds).
    """
    frame = _valid(positions)
    seeded = resume is not None and resume.seeds.height > 0
    if resume is not None and seeded:
        frame = pl.concat([frame, seed_frame(resume.seeds)], how="diagonal_relaxed")
    rows = sorted_rows(frame)
    n = rows.order.size
    names = ("mmsi", "timestamp_utc", "lat", "lon", "sog_kn")
    seed_names = (
        (SEED_SLOT, SEED_COUNT, SEED_JOINED, SEED_ACTIVE, SEED_KEPT, SEED_SINCE) if seeded else ()
    )
    columns = rows.columns((*names, *seed_names))
    mmsi = columns["mmsi"].to_numpy()
    t_us = columns["timestamp_utc"].dt.epoch("us").to_numpy()
    lat = columns["lat"].to_numpy()
    lon = columns["lon"].to_numpy()
    sog_kn = (
        columns["sog_kn"].cast(pl.Float64).fill_null(np.nan)
        if "sog_kn" in columns.columns
        else np.full(n, np.nan)
    )
    no_int, no_float = np.empty(0, np.int64), np.empty(0, np.float64)
    seed_slot = columns[SEED_SLOT].fill_null(-1).to_numpy() if seeded else no_int
    snap = (
        candidate_rows(mmsi, t_us, seed_slot >= 0 if seeded else np.zeros(n, bool), resume)
        if resume is not None and resume.look
        else np.empty(0, np.bool_)
    )
    raw, joined, snap_slots, snap_at = assign_tracks(
        mmsi,
        t_us,
        lat,
        lon,
        np.asarray(sog_kn, dtype=np.float64),
        settings.max_speed_kn * MPS_PER_KN / METRES_PER_DEG,
        settings.clock_slack_s,
        int(settings.max_silence_h * _US_PER_H),
        settings.max_jump_reports,
        int(settings.max_jump_h * _US_PER_H),
        seed_slot,
        columns[SEED_COUNT].fill_null(0).to_numpy() if seeded else no_int,
        columns[SEED_JOINED].fill_null(1.0).to_numpy() if seeded else no_float,
        snap,
    )
    failed = np.empty(0, np.uint32)
    seq = np.arange(n, dtype=np.int64)
    context = np.zeros(n, dtype=bool)
    all_columns, all_raw = columns, raw
    if seeded:
        active = columns[SEED_ACTIVE].fill_null(False).to_numpy()
        keep, context, failed = check_resumed(mmsi, raw, seed_slot, active)
        if not keep.all():
            seq = np.flatnonzero(keep)
            rows = SortedRows(
                rows.frame, rows.order[seq], tuple(r.gather(seq) for r in rows.rebuilt)
            )
            columns = columns[seq]
            mmsi, t_us, lat, lon, context = mmsi[seq], t_us[seq], lat[seq], lon[seq], context[seq]
            # Track numbers of the rows left, dense again (they rise with the MMSI still).
            _, raw = np.unique(raw[seq], return_inverse=True)
            raw = raw.astype(np.int64)
            n = seq.size
    n_raw = int(raw.max()) + 1 if n else 0
    first_row, last_row, count = track_spans(raw, n_raw)
    # The rows of each track in time order, for the MMSIs with several tracks only: most have
    # one, and their rows need no sort.
    track_mmsi = mmsi[first_row]
    several = np.zeros(n_raw, dtype=bool)
    if n_raw > 1:
        same = track_mmsi[1:] == track_mmsi[:-1]
        several[1:] |= same
        several[:-1] |= same
    involved = np.flatnonzero(several[raw])
    grouped = involved[np.argsort(raw[involved], kind="stable")]
    starts = np.zeros(n_raw, dtype=np.int64)
    starts[several] = np.cumsum(count[several]) - count[several]
    # A resumed track spans its restart point: its first fix and size are those of its history.
    first_us, size = t_us[first_row], count
    first_lat, first_lon = lat[first_row], lon[first_row]
    spanning = None
    if seeded:
        assert resume is not None
        spanning = active_tracks(track_mmsi, first_row, context, resume.seeds)
        first_us, size = first_us.copy(), count.copy()
        first_lat, first_lon = first_lat.copy(), first_lon.copy()
        first_us[spanning.label] = spanning.first_us
        size[spanning.label] += spanning.before
        first_lat[spanning.label] = spanning.first_lat
        first_lon[spanning.label] = spanning.first_lon
    host = displaced_hosts(
        track_mmsi,
        first_us,
        t_us[last_row],
        size,
        starts,
        t_us[grouped],
        settings.max_jump_reports,
        int(settings.max_jump_h * _US_PER_H),
        int(settings.clock_slack_s * 1e6),
        count,
    )
    kept = host < 0
    # A run displaced from another displaced run jumped away from the track that one was
    # displaced from: each run's host is the kept track at the end of the chain.
    host = _kept_hosts(host)
    if spanning is not None:
        assert resume is not None
        clash = overlapping(track_mmsi, kept, spanning.label, first_us, t_us[last_row])
        if clash.size:
            # A new track beside the resumed one at the same time: whether they were too far
            # apart to be one ship needs the resumed one's history. Those MMSIs start over.
            again = segment(
                positions.lazy().filter(~pl.col("mmsi").is_in(clash)),
                settings,
                replace(resume, seeds=resume.seeds.filter(~pl.col("mmsi").is_in(clash))),
                far_s=far_s,
            )
            again.failed = pl.concat([again.failed, pl.Series("mmsi", clash, pl.UInt32())])
            return again
    index = np.cumsum(kept) - 1
    tracks = pl.DataFrame(
        {
            "mmsi": columns["mmsi"].gather(first_row[kept]),
            "first_utc": pl.Series(first_us[kept]).cast(pl.Datetime("us", "UTC")),
            "last_utc": columns["timestamp_utc"].gather(last_row[kept]),
            "n_positions": size[kept].astype(np.uint32),
            "first_lat": first_lat[kept],
            "first_lon": first_lon[kept],
            "last_lat": lat[last_row[kept]],
            "last_lon": lon[last_row[kept]],
        }
    )
    ids = _track_ids(tracks["mmsi"], tracks["first_utc"])
    if spanning is not None:
        ids = ids.scatter(index[spanning.label], pl.Series(spanning.track_id, dtype=pl.String))
    tracks = tracks.select(ids, *tracks.columns)
    jumps = _jumps(columns, t_us, lat, lon, (first_row, last_row, count), grouped, starts, host)
    if jumps.height:
        jumps = jumps.with_columns(
            track_id=tracks["track_id"].gather(index[host[host >= 0]])
        ).select(list(JUMPS_SCHEMA))
    # One gather for all columns: kept rows, each track's rows together, in time order.
    keep_rows, labels, in_order = kept_labels(raw, np.where(kept, index, -1))
    frame = rows.take(None if labels.size == n else keep_rows, columns)
    if resume is not None:
        frame = frame.drop(seed_names).with_columns(
            pl.Series(SEQ, seq if labels.size == n else seq[keep_rows], pl.Int64),
            pl.Series(CONTEXT, context if labels.size == n else context[keep_rows]),
        )
    if not in_order:
        # Tracks of one MMSI interleave: only their rows move, within their MMSI's rows.
        kept_mmsi = track_mmsi[kept]
        several_kept = np.zeros(kept_mmsi.size, dtype=bool)
        several_kept[1:] = kept_mmsi[1:] == kept_mmsi[:-1]
        several_kept[:-1] |= several_kept[1:].copy()
        moving = np.flatnonzero(several_kept[labels])
        source = moving[np.argsort(labels[moving], kind="stable")]
        frame = frame.with_columns(
            column.scatter(moving, column.gather(source)) for column in frame.iter_columns()
        )
        labels[moving] = labels[source]
    frame = frame.with_columns(track=pl.Series(labels, dtype=pl.UInt32))
    if resume is None:
        return Segmentation(positions=frame, tracks=tracks, jumps=jumps)
    kept_raw = np.zeros(int(all_raw.max(initial=-1)) + 1, dtype=bool)
    if n:
        kept_raw[all_raw[seq]] = kept[raw]
    seed_kept = all_columns[SEED_KEPT].cast(pl.Int8).fill_null(-1).to_numpy() if seeded else None
    found = restart_candidates(
        all_columns,
        all_raw,
        joined,
        Snapshots(snap_at[:, 0], snap_slots),
        kept_raw,
        seed_kept,
        all_columns[SEED_COUNT].fill_null(-1).to_numpy() if seeded else None,
        first_times(
            all_columns["mmsi"].to_numpy(),
            all_columns["timestamp_utc"].dt.epoch("us").to_numpy(),
            all_columns[SEED_SINCE].fill_null(-1).to_numpy() if seeded else None,
        ),
        settings,
    )
    found = found.filter(~pl.col("mmsi").is_in(pl.Series(failed, dtype=pl.UInt32).implode()))
    track_of = frame.select(SEQ, "track").join(found.select(SEQ).unique(), on=SEQ)
    first = tracks.select("track_id", "first_utc", "first_lat", "first_lon").with_row_index("track")
    found = found.join(track_of, on=SEQ).join(first, on="track").drop("track")
    found = settled(found, far_s)
    return Segmentation(
        positions=frame,
        tracks=tracks,
        jumps=jumps,
        failed=pl.Series("mmsi", failed, pl.UInt32()),
        candidates=found.select(*(c for c in RESTARTS_SCHEMA if c != "call_state"), SEQ),
    )


def _kept_hosts(host: I64) -> I64:
    """Return per run of ``host`` (the run each was displaced from, -1: none) the run at the
    end of its chain of hosts: one not displaced."""
    host = host.copy()
    for _ in range(host.size):
        chained = np.flatnonzero(host >= 0)
        chained = chained[host[host[chained]] >= 0]
        if not chained.size:
            break
        host[chained] = host[host[chained]]
    return host


def _jumps(
    columns: pl.DataFrame,
    t_us: I64,
    lat: F64,
    lon: F64,
    spans: tuple[I64, I64, I64],
    grouped: I64,
    starts: I64,
    host: I64,
) -> pl.DataFrame:
    """Return one row per displaced run (:data:`JUMPS_SCHEMA`, ``track_id`` left null)."""
    first_row, last_row, count = spans
    dropped = np.flatnonzero(host >= 0)
    if dropped.size == 0:
        return pl.DataFrame(schema=JUMPS_SCHEMA)
    to_row = first_row[dropped]
    end_row = last_row[dropped]
    from_row = np.empty(dropped.size, dtype=np.int64)
    for k, s in enumerate(dropped.tolist()):
        h = host[s]
        rows = grouped[starts[h] : starts[h] + count[h]]
        before = int(np.searchsorted(t_us[rows], t_us[to_row[k]], side="right")) - 1
        from_row[k] = rows[max(before, 0)]
    return pl.DataFrame(
        {
            "mmsi": columns["mmsi"].gather(to_row),
            "track_id": pl.Series([None] * dropped.size, dtype=pl.String),
            "start_utc": columns["timestamp_utc"].gather(to_row),
            "end_utc": columns["timestamp_utc"].gather(end_row),
            "n_positions": count[dropped].astype(np.uint32),
            "lat": lat[to_row],
            "lon": lon[to_row],
            "from_lat": lat[from_row],
            "from_lon": lon[from_row],
            "distance_km": _distance_km(lat[from_row], lon[from_row], lat[to_row], lon[to_row]),
        },
        schema=JUMPS_SCHEMA,
    )


def concurrent_tracks(
    positions: pl.DataFrame, settings: TrackSettings, min_distance_km: float
) -> pl.DataFrame:
    """Return the pairs of tracks of one MMSI that were active at the same time far apart.

    ``positions`` has mmsi, track_id, timestamp_utc, lat and lon (as
    :meth:`Segmentation.with_track_ids`). A position of one track is too far from another track
    when reaching it from that track's nearest positions in time (before or after) would take
    more than ``max_speed_kn`` (the interval padded by ``clock_slack_s`` as in segmentation), by
    more than ``min_distance_km``. Rows: :data:`CONCURRENT_SCHEMA`, sorted by mmsi and start;
    ``track_id`` is the track that started first.
    """
    multi = positions.filter(pl.col("track_id").n_unique().over("mmsi") > 1)
    if multi.is_empty():
        return pl.DataFrame(schema=CONCURRENT_SCHEMA)
    multi = multi.sort("mmsi", "track_id", "timestamp_utc")
    t_us = multi["timestamp_utc"].dt.epoch("us").to_numpy()
    lat = multi["lat"].to_numpy()
    lon = multi["lon"].to_numpy()
    spans = (
        multi.with_row_index("row")
        .group_by("mmsi", "track_id", maintain_order=True)
        .agg(
            lo=pl.col("row").first(),
            hi=pl.col("row").last() + 1,
            first_us=pl.col("timestamp_utc").first().dt.epoch("us"),
            last_us=pl.col("timestamp_utc").last().dt.epoch("us"),
        )
        .sort("mmsi", "first_us", "track_id")
    )
    reach_km_per_s = settings.max_speed_kn * MPS_PER_KN / 1000.0
    rows: list[dict[str, object]] = []
    for group in spans.partition_by("mmsi", maintain_order=True):
        tracks = group.rows(named=True)
        for i, a in enumerate(tracks):
            for b in tracks[i + 1 :]:
                if b["first_us"] > a["last_us"] or a["first_us"] > b["last_us"]:
                    continue
                ra = np.arange(a["lo"], a["hi"])
                rb = np.arange(b["lo"], b["hi"])
                here: list[I64] = []
                there: list[I64] = []
                for mine, other, out_mine, out_other in (
                    (ra, rb, here, there),
                    (rb, ra, there, here),
                ):
                    excess, nearest = _excess_km(
                        t_us, lat, lon, mine, other, reach_km_per_s, settings.clock_slack_s
                    )
                    far = excess > min_distance_km
                    out_mine.append(mine[far])
                    out_other.append(nearest[far])
                ia, ib = np.concatenate(here), np.concatenate(there)
                if ia.size == 0:
                    continue
                first = int(np.argmin(np.minimum(t_us[ia], t_us[ib])))
                k, m = int(ia[first]), int(ib[first])
                rows.append(
                    {
                        "mmsi": a["mmsi"],
                        "track_id": a["track_id"],
                        "other_track_id": b["track_id"],
                        "start_utc": int(np.minimum(t_us[ia], t_us[ib]).min()),
                        "end_utc": int(np.maximum(t_us[ia], t_us[ib]).max()),
                        "lat": float(lat[k]),
                        "lon": float(lon[k]),
                        "other_lat": float(lat[m]),
                        "other_lon": float(lon[m]),
                        "distance_km": float(_distance_km(lat[k], lon[k], lat[m], lon[m])),
                        "n_positions": int(ia.size),
                    }
                )
    if not rows:
        return pl.DataFrame(schema=CONCURRENT_SCHEMA)
    raw = {k: (pl.Int64() if v == UTC_US else v) for k, v in CONCURRENT_SCHEMA.items()}
    frame = pl.DataFrame(rows, schema=raw, orient="row")
    return frame.with_columns(
        pl.col("start_utc", "end_utc").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    ).sort("mmsi", "start_utc", "track_id")


def _excess_km(
    t_us: I64,
    lat: F64,
    lon: F64,
    mine: I64,
    other: I64,
    reach_km_per_s: float,
    slack_s: float,
) -> tuple[F64, I64]:
    """Return, per row of ``mine``, how far beyond reach it is from the ``other`` track (the
    smaller of its nearest positions before and after in time), and that nearest row."""
    ot = t_us[other]
    at = np.searchsorted(ot, t_us[mine], side="right")
    best = np.full(mine.size, np.inf)
    nearest = np.full(mine.size, other[0], dtype=np.int64)
    for side in (at - 1, at):
        ok = (side >= 0) & (side < other.size)
        rows = other[np.clip(side, 0, other.size - 1)]
        dt_s = (t_us[mine] - t_us[rows]) * 1e-6
        reach = reach_km_per_s * np.sqrt(dt_s * dt_s + slack_s * slack_s)
        excess = _distance_km(lat[mine], lon[mine], lat[rows], lon[rows]) - reach
        better = ok & (excess < best)
        best[better] = excess[better]
        nearest[better] = rows[better]
    return best, nearest
