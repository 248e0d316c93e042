"""Restart points of port-call detection: positions from which a fresh start finds what the
whole history finds.

Segmentation proposes restart points where its own state is final
(:mod:`monitor.analyse.track_restarts`). Of those, call detection takes, per MMSI, the latest
position ``p`` of its track where a fresh start at ``p`` classifies every later position as the
whole history does (:func:`monitor.analyse.portcalls.detect.classify`):

* ``p`` and the position before are at sea: outside every zone grown by ``exit_buffer_m`` (the
  port hysteresis starts afresh at sea) and no exit happens at ``p``;
* no silence longer than ``max_gap_h`` before ``p`` (the silence rules look back one position);
* the vessel moves at ``p`` (above ``move_speed_kn``) and is not stopped there: no stop by speed
  or by position runs across it;
* its last position in a port is more than ``merge_gap_h`` before ``p``: no later visit merges
  with an earlier one, so every visit before ``p`` is final.

Speeds implied from neighbouring fixes need the three fixes before ``p``: they are among the
active track's seeds, given as context.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from monitor.analyse.geofences import Zone, zones_for_points
from monitor.analyse.portcalls.visits import degrees_e9
from monitor.analyse.track_restarts import SEQ
from monitor.config import DetectSettings
from monitor.schema import CALL_STATE_SCHEMA, RESTARTS_SCHEMA, empty_frame

_US_PER_H = 3_600_000_000


def call_restarts(
    frame: pl.DataFrame,
    candidates: pl.DataFrame | None,
    zones: Sequence[Zone],
    settings: DetectSettings,
    group_starts: pl.Series | None = None,
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
    in_port = _in_port(frame, covered, group_starts)
    # Only the tracks with a restart point to choose need the state.
    tracks = frame.join(candidates.select(SEQ).unique(), on=SEQ).select("track").unique()
    mine = frame.join(tracks, on="track", how="semi", maintain_order="left")
    states = _call_states(mine, apart, settings).join(pl.concat([at_sea, in_port]), on=SEQ)
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


def _in_port(
    frame: pl.DataFrame, covered: pl.Series, group_starts: pl.Series | None
) -> pl.DataFrame:
    """Return the ``covered`` candidates (``_seq``) inside a port where detection can go on
    inside the visit: inside a zone, in the port of the position before, without a silence
    longer than ``max_gap_h`` before, in a visit not merged with one before it
    (``group_starts``: the first visit of each merged run)."""
    if group_starts is None:
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
        & pl.col("visit").is_in(group_starts.implode())
    ).select(SEQ)


def _call_states(
    frame: pl.DataFrame, apart: pl.DataFrame | None, settings: DetectSettings
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
    if "_call_state" not in rows.columns:
        rows = rows.with_columns(_call_state=pl.lit(None, dtype=pl.Struct(CALL_STATE_SCHEMA)))
    gone = pl.col("_call_state").first().over("visit").struct
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
