"""Alert rules: which port calls make alerts, and what an alert says (pure, on the calls frame;
the rules on events are in :mod:`monitor.alerts.event_rules`).

An alert is a JSON object: ``alert_id`` (a hash of rule, kind and call id: the same call gives
the same alert however often it is evaluated), ``rule``, ``when`` (the rule's kind),
``event_utc``, the vessel (``mmsi``, ``imo``, ``vessel_name``, ``callsign``, ``flag``,
``ship_type``), the port, the call's times, ``report`` (a link to the latest report) and
``text``, one line a person reads (Slack and Mattermost webhooks show it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from monitor.alerts.event_rules import alert_head, alert_id, event_alerts, iso_utc, vessel_text
from monitor.analyse.watchlist import Watchlist
from monitor.config import EVENT_ALERT_KINDS, AlertRule

_US_PER_H = 3_600_000_000


def _events(
    calls: pl.DataFrame,
    rule: AlertRule,
    watchlists: Mapping[Path, Watchlist],
    feed_start: dt.datetime | None,
) -> pl.DataFrame:
    """Return the calls that ``rule`` alerts on, with the time of the event as ``event_utc``
    (no arrival not observed before ``feed_start``: the vessel was inside when the feed began)."""
    if rule.ports:
        calls = calls.filter(pl.col("port_id").is_in(rule.ports))
    if rule.when == "arrival":
        return calls.filter(pl.col("arrival_observed")).with_columns(
            event_utc=pl.col("arrival_utc")
        )
    if rule.when == "arrival_not_observed":
        unseen = calls.filter(~pl.col("arrival_observed"))
        if feed_start is not None:
            unseen = unseen.filter(pl.col("arrival_utc") >= feed_start)
        return unseen.with_columns(event_utc=pl.col("arrival_utc"))
    if rule.when == "departure":
        return calls.filter(pl.col("departure_utc").is_not_null()).with_columns(
            event_utc=pl.col("departure_utc")
        )
    if rule.when == "long_stay":
        assert rule.min_duration_h is not None
        return calls.filter(pl.col("duration_h") >= rule.min_duration_h).with_columns(
            event_utc=pl.col("arrival_utc")
            + pl.duration(microseconds=int(rule.min_duration_h * _US_PER_H))
        )
    assert rule.watchlist is not None
    watched = watchlists[rule.watchlist].mark(calls, imo="imo", name="vessel_name")
    return watched.filter(pl.col("watch_match").is_not_null()).with_columns(
        event_utc=pl.col("arrival_utc")
    )


def _text(rule: AlertRule, row: dict[str, Any]) -> str:
    vessel = vessel_text(row)
    port = row["port_name"] or row["port_id"]
    at = f"{row['event_utc']:%Y-%m-%d %H:%M} UTC"
    if rule.when == "arrival":
        what = f"arrived at {port} at {at}"
    elif rule.when == "arrival_not_observed":
        what = f"was first seen already inside {port} at {at} (arrival not observed)"
    elif rule.when == "departure":
        what = f"left {port} at {at}"
    elif rule.when == "long_stay":
        what = f"has been in {port} for {rule.min_duration_h:g} h at {at}"
    else:
        what = f"(on the watchlist) arrived at {port} at {at}"
    return f"[{rule.name}] {vessel} {what}"


def evaluate(
    calls: pl.DataFrame,
    rules: Sequence[AlertRule],
    *,
    newest_utc: dt.datetime | None,
    max_age_h: float,
    report: str,
    oldest_utc: dt.datetime | None = None,
    feed_start_grace_h: float = 0.0,
    watchlists: Mapping[Path, Watchlist] | None = None,
    events: pl.DataFrame | None = None,
    statics: pl.DataFrame | None = None,
    port_names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Return the alerts that ``rules`` raise on ``calls`` (load_calls columns) and, for the
    rules on events, on ``events`` (load_events columns; ``statics``, the stored static
    reports, name their vessels).

    Events more than ``max_age_h`` before ``newest_utc`` (the newest message in the store) are
    history and raise nothing; nor does a vessel first seen inside a port less than
    ``feed_start_grace_h`` after ``oldest_utc`` (the oldest message). The same calls always give
    the same alerts, in event order.
    """
    if newest_utc is None:
        return []
    oldest = newest_utc - dt.timedelta(hours=max_age_h)
    feed_start = None
    if oldest_utc is not None:
        feed_start = oldest_utc + dt.timedelta(hours=feed_start_grace_h)
    alerts: list[dict[str, Any]] = []
    for rule in rules:
        if rule.when in EVENT_ALERT_KINDS:
            if events is not None and statics is not None:
                alerts += event_alerts(
                    events, rule, statics=statics, watchlists=watchlists or {},
                    port_names=port_names or {}, oldest=oldest, report=report,
                )  # fmt: skip
            continue
        if calls.height == 0:
            continue
        raised = _events(calls, rule, watchlists or {}, feed_start).filter(
            pl.col("event_utc") >= oldest
        )
        for row in raised.sort("event_utc", "call_id").iter_rows(named=True):
            alerts.append(
                alert_head(
                    rule, alert_id(rule.name, rule.when, row["call_id"]), row["event_utc"], row
                )
                | {
                    "port_id": row["port_id"],
                    "port_name": row["port_name"],
                    "call_id": row["call_id"],
                    "arrival_utc": iso_utc(row["arrival_utc"]),
                    "departure_utc": iso_utc(row["departure_utc"]),
                    "duration_h": round(float(row["duration_h"]), 2),
                    "arrival_observed": row["arrival_observed"],
                    "report": report,
                    "text": _text(rule, row),
                }
            )
    alerts.sort(key=lambda a: (a["event_utc"], a["alert_id"]))
    return alerts
