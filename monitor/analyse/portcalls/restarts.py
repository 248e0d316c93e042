"""Restart points of port-call detection: positions from which detection goes on and finds
what the whole history finds.

Segmentation proposes restart points where its own state is final
(:mod:`monitor.analyse.track_restarts`). Of those, call detection takes, per MMSI, the latest
position ``p`` of its track from which it can go on, carrying its state there
(:data:`~monitor.schema.CALL_STATE_SCHEMA`: the state of the position before, its stop by
speed and when that began, and in port the visit so far: arrival, positions, summed position,
longest interval, hours at anchor and at berth, what was seen of it). Always: no silence
longer than ``max_gap_h`` before ``p`` (the silence rules look back one position). Then either

* at sea: ``p`` and the position before outside every zone grown by ``exit_buffer_m`` (the
  port hysteresis starts afresh at sea), the last position in a port more than
  ``merge_gap_h`` before ``p`` (no later visit merges with an earlier one: every visit before
  ``p`` is final); or
* in port: ``p`` inside a zone of the port the position before is in (same visit), in a visit
  not merged with one before it; the visit goes on with its sums and flags so far.

Stops across ``p``: the stop by speed goes on from the state carried; a stop by position can
begin at any position less than ``min_stop_min`` before: those must all be among the active
track's seeds, which are given as context (or the vessel moves at ``p``, above
``move_speed_kn``, and is not stopped there: no stop runs across it). Speeds implied from
neighbouring fixes need the three fixes before ``p``: they are among the seeds too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from monitor.analyse.geofences import Zone, zones_for_points
from monitor.analyse.portcalls.stops import Resumed
from monitor.analyse.portcalls.visits import degrees_e9
from monitor.analyse.track_restarts import SEQ, Resume
from monitor.config import DetectSettings
from monitor.schema import CALL_STATE_SCHEMA, RESTARTS_SCHEMA, empty_frame

_US_PER_H = 3_600_000_000


def call_restarts(
    frame: pl.DataFrame,
    candidates: pl.DataFrame | None,
    zones: Sequence[Zone],
    settings: DetectSettings,
    merged: pl.DataFrame | None = None,
    apart: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return each MMSI's latest restart point among ``candidates`` (segmentation's, with
    ``_seq``) at which port-call detection can start afresh (:data:`RESTARTS_SCHEMA` rows).

    ``frame`` is the classified positions (with ``_seq``, ``track``, ``port``, ``gap``,
    ``speed_kn`` and ``stopped``), sorted by track and time.
    """
    if candidates is None or candidates.height == 0:
        return empty_frame(RESTARTS_SCHEMA)
    covered = _covered(candidates, settings)
    t_us = pl.col("timestamp_utc").dt.epoch("us")
    in_port_us = pl.when(pl.col("port") >= 0).then(t_us)
    rows = (
        frame.select(SEQ, "track", "timestamp_utc", "lat", "lon", "port", "gap", "speed_kn")
        .with_columns(
            stopped=frame["stopped"],
            prev_us=t_us.shift(1).over("track"),
            prev_port=pl.col("port").shift(1).over("track"),
            port_us=in_port_us.forward_fill().shift(1).over("track"),
        )
        .join(candidates.select(SEQ).unique(), on=SEQ)
        .filter(
            pl.col("prev_us").is_not_null()
            & ~pl.col("gap")
            & (t_us - pl.col("prev_us") <= settings.max_gap_h * _US_PER_H)
            & (pl.col("port") < 0)
            & (pl.col("prev_port") < 0)
            & (
                ((pl.col("speed_kn") > settings.move_speed_kn) & ~pl.col("stopped"))
                | pl.col(SEQ).is_in(covered.implode())
            )
            & (
                pl.col("port_us").is_null()
                | (t_us - pl.col("port_us") > settings.merge_gap_h * _US_PER_H)
            )
        )
    )
    port_zones = [zone for zone in zones if zone.kind != "area"]
    if rows.height and port_zones:
        lon, lat = rows["lon"].to_numpy(), rows["lat"].to_numpy()
        near = zones_for_points(port_zones, lon, lat, settings.exit_buffer_m) >= 0
        near |= zones_for_points(port_zones, lon, lat) >= 0
        rows = rows.filter(pl.Series(~near))
    at_sea = rows.select(SEQ)
    in_port = _in_port(frame, covered, merged is not None)
    # Only the tracks with a restart point to choose need the state.
    tracks = frame.join(candidates.select(SEQ).unique(), on=SEQ).select("track").unique()
    mine = frame.join(tracks, on="track", how="semi", maintain_order="left")
    states = _call_states(mine, apart, merged, settings).join(pl.concat([at_sea, in_port]), on=SEQ)
    chosen = (
        candidates.join(states, on=SEQ)
        .filter(pl.col(SEQ) == pl.col(SEQ).max().over("mmsi"))
        .sort("mmsi", "slot", "timestamp_utc")
    )
    return chosen.select(list(RESTARTS_SCHEMA))


def _covered(candidates: pl.DataFrame, settings: DetectSettings) -> pl.Series:
    """Return the candidates (``_seq``) whose seeds (the active track's fixes, kept as context)
    hold every position a stop by position across the restart point may begin at: every one
    less than ``min_stop_min`` before the position before it (or the track's first)."""
    min_us = int(settings.min_stop_min * 60e6)
    seeds = (
        candidates.filter(pl.col("active"))
        .group_by(SEQ)
        .agg(
            oldest=pl.col("timestamp_utc").min().dt.epoch("us"),
            newest=pl.col("timestamp_utc").max().dt.epoch("us"),
            n=pl.len(),
            count=pl.col("slot_count").first(),
        )
    )
    whole = pl.col("n") >= pl.col("count")
    return seeds.filter(whole | (pl.col("oldest") <= pl.col("newest") - min_us))[SEQ]


def _in_port(frame: pl.DataFrame, covered: pl.Series, visits: bool) -> pl.DataFrame:
    """Return the ``covered`` candidates (``_seq``) inside a port where detection can go on
    inside the visit: inside a zone, in the port (and visit) of the position before, without a
    silence longer than ``max_gap_h`` before."""
    if not visits:
        return pl.DataFrame(schema={SEQ: pl.Int64})
    rows = frame.select(
        SEQ,
        "visit",
        "inside",
        "gap",
        "port",
        prev_port=pl.col("port").shift(1).over("track"),
        prev_visit=pl.col("visit").shift(1).over("track"),
    ).filter(pl.col(SEQ).is_in(covered.implode()))
    return rows.filter(
        pl.col("inside")
        & ~pl.col("gap")
        & (pl.col("port") >= 0)
        & (pl.col("prev_port") == pl.col("port"))
        & (pl.col("prev_visit") == pl.col("visit"))
    ).select(SEQ)


def merged_before(visits: pl.DataFrame, runs: pl.Series) -> pl.DataFrame:
    """Return, per visit merged with earlier ones (``runs``: the list of visits of each merged
    run), the sums and flags of the run's visits before it (:data:`CALL_STATE_SCHEMA` fields,
    ``visit``); ``visits`` is :func:`~monitor.analyse.portcalls.visits.visit_table`'s."""
    members = pl.DataFrame({"visit": runs}).with_row_index("run").explode("visit")
    parts = members.join(visits, on="visit", maintain_order="left")

    def before(name: str) -> pl.Expr:
        return (pl.col(name).cum_sum() - pl.col(name)).over("run")

    def seen(name: str) -> pl.Expr:
        flag = pl.col(name).fill_null(False).cast(pl.Int64)
        return (flag.cum_sum() - flag).over("run") > 0

    if parts.is_empty():
        return pl.DataFrame(schema={"visit": pl.UInt32})
    return (
        parts.select(
            "visit",
            _later=pl.int_range(pl.len()).over("run") > 0,
            arrival_us=pl.col("arrival_utc").dt.epoch("us").first().over("run"),
            inside_us=before("inside_us"),
            n_positions=before("n_positions"),
            lat_e9=before("lat_e9"),
            lon_e9=before("lon_e9"),
            max_gap_us=(pl.col("max_gap_us").cum_max().shift(1)).over("run"),
            anchorage_us=before("anchorage_us"),
            berth_us=before("berth_us"),
            harbour=seen("harbour"),
            at_rest=seen("at_rest"),
            entry=pl.col("entry").first().over("run").fill_null(False),
            stop=seen("stop"),
            bridged=seen("bridged"),
            apart=pl.lit(False),
        )
        .filter("_later")
        .drop("_later")
    )


def _bases(frame: pl.DataFrame, merged: pl.DataFrame | None) -> pl.DataFrame:
    """Return per visit what its rows add to (``_base``): the state a visit that goes on from a
    restart point carried, or the sums of the earlier visits it is merged with."""
    struct = pl.Struct(CALL_STATE_SCHEMA)
    frames = []
    if "_call_state" in frame.columns:
        carried = frame.filter(
            pl.col("visit").is_not_null()
            & pl.col("_call_state").struct.field("arrival_us").is_not_null()
        )
        frames.append(carried.select("visit", _base=pl.col("_call_state")))
    if merged is not None and "arrival_us" in merged.columns:
        fields = [pl.col(c) if c in merged.columns else pl.lit(None) for c in CALL_STATE_SCHEMA]
        names = [f.alias(c) for f, c in zip(fields, CALL_STATE_SCHEMA, strict=True)]
        frames.append(merged.select("visit", _base=pl.struct(names).cast(struct)))
    if not frames:
        return pl.DataFrame(schema={"visit": pl.UInt32, "_base": struct})
    return pl.concat(frames).unique("visit", keep="first")


def _call_states(
    frame: pl.DataFrame,
    apart: pl.DataFrame | None,
    merged: pl.DataFrame | None,
    settings: DetectSettings,
) -> pl.DataFrame:
    """Return per row (``_seq``, ``call_state``) the call detector's state before it
    (:data:`~monitor.schema.CALL_STATE_SCHEMA`): the state and stop by speed of the row before,
    and in a visit, its sums and flags over its rows before, with what a visit that went on
    from a restart point carried."""
    t_us = pl.col("timestamp_utc").dt.epoch("us")
    visit = pl.col("visit")
    next_us = pl.when(visit.shift(-1).over("track") == visit).then(t_us.shift(-1).over("track"))
    interval = next_us - t_us
    counted = pl.when(interval <= settings.max_gap_h * _US_PER_H).then(interval).otherwise(0)
    head = visit.is_not_null() & (visit != visit.shift(1).over("track")).fill_null(True)

    def summed(expr: pl.Expr) -> pl.Expr:
        return (expr.cum_sum() - expr).over("visit")

    def seen(expr: pl.Expr) -> pl.Expr:
        return (expr.cast(pl.Int64).cum_sum() - expr.cast(pl.Int64)).over("visit") > 0

    rows = frame.with_columns(
        _interval=interval.fill_null(0),
        _counted=counted.fill_null(0),
        _head=head,
        _e9_lat=degrees_e9("lat"),
        _e9_lon=degrees_e9("lon"),
    )
    rows = rows.join(_bases(frame, merged), on="visit", how="left")
    gone = pl.col("_base").struct
    goes_on = gone.field("arrival_us").is_not_null()

    def plus(expr: pl.Expr, field: str) -> pl.Expr:
        return pl.when(goes_on).then(expr + gone.field(field)).otherwise(expr)

    def either(expr: pl.Expr, field: str) -> pl.Expr:
        return pl.when(goes_on).then(expr | gone.field(field)).otherwise(expr)

    kind = pl.col("kind")
    flags = (
        apart
        if apart is not None
        else pl.DataFrame(schema={"visit": pl.UInt32, "apart": pl.Boolean})
    )
    rows = rows.join(flags.select("visit", _apart="apart"), on="visit", how="left")
    in_visit = visit.is_not_null()
    state = pl.struct(
        prior_state=pl.col("state").shift(1).over("track"),
        by_speed=pl.col("by_speed").shift(1).over("track"),
        speed_since_us=pl.col("since_us").shift(1).over("track"),
        arrival_us=pl.when(in_visit).then(
            pl.when(goes_on).then(gone.field("arrival_us")).otherwise(t_us.first().over("visit"))
        ),
        part_arrival_us=pl.when(in_visit).then(
            pl.coalesce(gone.field("part_arrival_us"), t_us.first().over("visit"))
        ),
        inside_us=pl.when(in_visit).then(pl.coalesce(gone.field("inside_us"), pl.lit(0))),
        n_positions=pl.when(in_visit).then(
            plus(pl.int_range(pl.len()).over("visit").cast(pl.UInt32), "n_positions")
        ),
        lat_e9=pl.when(in_visit).then(plus(summed(pl.col("_e9_lat")), "lat_e9")),
        lon_e9=pl.when(in_visit).then(plus(summed(pl.col("_e9_lon")), "lon_e9")),
        max_gap_us=pl.when(in_visit).then(
            pl.max_horizontal(
                pl.col("_interval").cum_max().shift(1).over("visit").fill_null(0),
                pl.when(goes_on).then(gone.field("max_gap_us")).otherwise(0),
            )
        ),
        anchorage_us=pl.when(in_visit).then(
            plus(summed(pl.when(kind == 2).then(pl.col("_counted")).otherwise(0)), "anchorage_us")
        ),
        berth_us=pl.when(in_visit).then(
            plus(summed(pl.when(kind == 1).then(pl.col("_counted")).otherwise(0)), "berth_us")
        ),
        harbour=pl.when(in_visit).then(either(seen(pl.col("inside") & (kind != 2)), "harbour")),
        at_rest=pl.when(in_visit).then(
            either(seen(pl.col("at_rest") & pl.col("inside")), "at_rest")
        ),
        entry=pl.when(in_visit).then(
            pl.when(goes_on)
            .then(gone.field("entry"))
            .otherwise((~pl.col("first") & ~pl.col("gap")).first().over("visit"))
        ),
        stop=pl.when(in_visit).then(either(seen(pl.col("state") == 2), "stop")),
        bridged=pl.when(in_visit).then(either(seen(pl.col("gap") & ~pl.col("_head")), "bridged")),
        apart=pl.when(in_visit).then(
            pl.when(goes_on).then(gone.field("apart")).otherwise(pl.col("_apart").fill_null(False))
        ),
    )
    return rows.select(SEQ, call_state=state.cast(pl.Struct(CALL_STATE_SCHEMA)))


def going_on(prepared: pl.DataFrame, context: pl.DataFrame, resume: Resume) -> pl.DataFrame:
    """Return ``prepared`` with, on the first row of each track resumed (the one with seeds
    in ``context``), the call detector's state there (``_call_state``) and its fields that
    classifying reads (``_prior_state``, ``_prior_by_speed``, ``_prior_since_us``)."""
    if context.height == 0:
        return prepared
    states = (
        resume.seeds.filter(pl.col("active")).group_by("mmsi").agg(pl.col("call_state").first())
    )
    resumed = context["track"].unique().implode()
    head = (pl.col("track") != pl.col("track").shift(1)).fill_null(True) & pl.col("track").is_in(
        resumed
    )
    joined = prepared.join(states, on="mmsi", how="left", maintain_order="left")
    state = pl.when(head).then(pl.col("call_state"))
    carried = pl.col("_call_state").struct
    return (
        joined.with_columns(_call_state=state)
        .drop("call_state")
        .with_columns(
            _prior_state=carried.field("prior_state"),
            _prior_by_speed=carried.field("by_speed"),
            _prior_since_us=carried.field("speed_since_us"),
        )
    )


def visits_before(frame: pl.DataFrame) -> pl.DataFrame | None:
    """Return, per visit that goes on from a restart point, its sums and flags before it."""
    if "_call_state" not in frame.columns:
        return None
    return (
        frame.filter(pl.col("visit").is_not_null() & pl.col("_call_state").is_not_null())
        .select("visit", "_call_state")
        .unnest("_call_state")
        .filter(pl.col("arrival_us").is_not_null())
    )


def resumed_stops(
    prepared: pl.DataFrame, unit: np.ndarray, first: np.ndarray, context: pl.DataFrame | None
) -> Resumed | None:
    """Return what stops go on from at the rows that go on from a restart point."""
    if "_prior_state" not in prepared.columns:
        return None
    known = prepared["_prior_state"].is_not_null().to_numpy()
    prior = prepared["_prior_by_speed"].fill_null(False).to_numpy() & known
    since = np.where(known, prepared["_prior_since_us"].fill_null(-1).to_numpy(), -1)
    heads = np.flatnonzero(first & known)
    rows = pl.DataFrame({"track": unit[heads], "_row": heads.astype(np.int64)})
    if context is None:
        context = pl.DataFrame({"track": unit[:0], "timestamp_utc": [], "lat": [], "lon": []})
        context = context.cast(
            {"timestamp_utc": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64}
        )
    given = context.join(rows, on="track").sort("_row", "timestamp_utc")
    return Resumed(
        prior=prior,
        since_us=since.astype(np.int64),
        lat=given["lat"].to_numpy(),
        lon=given["lon"].to_numpy(),
        micros=given["timestamp_utc"].dt.epoch("us").to_numpy(),
        before=given["_row"].to_numpy(),
    )
