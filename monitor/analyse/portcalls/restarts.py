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
from monitor.analyse.track_restarts import SEQ
from monitor.config import DetectSettings
from monitor.schema import RESTARTS_SCHEMA, empty_frame

_US_PER_H = 3_600_000_000


def call_restarts(
    frame: pl.DataFrame,
    candidates: pl.DataFrame | None,
    zones: Sequence[Zone],
    settings: DetectSettings,
) -> pl.DataFrame:
    """Return each MMSI's latest restart point among ``candidates`` (segmentation's, with
    ``_seq``) at which port-call detection can start afresh (:data:`RESTARTS_SCHEMA` rows).

    ``frame`` is the classified positions (with ``_seq``, ``track``, ``port``, ``gap``,
    ``speed_kn`` and ``stopped``), sorted by track and time.
    """
    if candidates is None or candidates.height == 0:
        return empty_frame(RESTARTS_SCHEMA)
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
            & (pl.col("speed_kn") > settings.move_speed_kn)
            & ~pl.col("stopped")
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
    chosen = (
        candidates.join(rows.select(SEQ), on=SEQ)
        .filter(pl.col(SEQ) == pl.col(SEQ).max().over("mmsi"))
        .sort("mmsi", "slot", "timestamp_utc")
    )
    return chosen.select(list(RESTARTS_SCHEMA))
