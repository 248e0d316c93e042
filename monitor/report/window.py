"""The period a report covers: the last day or week of data, or explicit --since/--until."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import polars as pl

from monitor.core.times import as_utc
from monitor.errors import ConfigError, ReportError

Period = Literal["day", "week"]
PERIOD_LENGTHS: dict[str, timedelta] = {"day": timedelta(days=1), "week": timedelta(days=7)}


def newest_message_time(positions: pl.LazyFrame) -> datetime | None:
    """Return the newest position time in the store, None when it holds no positions."""
    return _message_time(positions.select(pl.col("timestamp_utc").max()))


def oldest_message_time(positions: pl.LazyFrame) -> datetime | None:
    """Return the oldest position time in the store (where the data begins), None if none."""
    return _message_time(positions.select(pl.col("timestamp_utc").min()))


def _message_time(query: pl.LazyFrame) -> datetime | None:
    value = query.collect().item()
    if value is None:
        return None
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def report_window(
    positions: pl.LazyFrame,
    period: Period | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[datetime, datetime]:
    """Return (since, until) in UTC: explicit bounds, else ``period`` ending at the newest message.

    The window is the full day (24 h) or week (7 days) that ends at the newest position time in
    the store, so a report is the same whenever it is run on the same data.
    """
    since = as_utc(since) if since is not None else None
    until = as_utc(until) if until is not None else None
    if since is not None and until is not None:
        if until <= since:
            raise ConfigError(
                f"--until {until.isoformat()} must be after --since {since.isoformat()}"
            )
        return since, until
    length = PERIOD_LENGTHS[period or "day"]
    if since is not None:
        return since, since + length
    if until is not None:
        return until - length, until
    newest = newest_message_time(positions)
    if newest is None:
        raise ReportError(
            "the store holds no positions, so there is no period to report; ingest data first "
            "or give --since and --until"
        )
    return newest - length, newest
