"""Times given by the user (command-line options, API arguments): parsed and made UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from monitor.errors import ConfigError


def parse_when(text: str, *, end_of_day: bool = False, option: str | None = None) -> datetime:
    """Return the UTC instant of an ISO 8601 date or date-time; a bare date is its midnight.

    Takes ``2024-05-01`` (also ``20240501``), ``2024-05-01T06:00``, ``2024-05-01 06:00:30``,
    fractions of a second, and a zone (``Z``, ``+02:00``); times without a zone are UTC. With
    ``end_of_day`` a bare date means the midnight that ends it, so ``--until 2024-05-07`` includes
    the whole of 7 May. ``option`` names the command-line option in the error message.
    """
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return moment + timedelta(days=1) if end_of_day else moment
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        where = f"{option} " if option else ""
        raise ConfigError(
            f"{where}{text!r}: not an ISO 8601 date; write YYYY-MM-DD or "
            "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]"
        ) from exc
    return as_utc(moment)


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive datetime is taken to be UTC already (never local)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


#: How every CSV and JSON output writes an instant: ISO 8601 UTC to the second, ``Z`` for UTC
#: (``2024-05-01T06:30:00Z``). Polars columns take it as ``datetime_format``/``dt.strftime``.
ISO_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: The same with the microseconds (``2024-05-01T06:30:00.250000Z``), for polars columns only, where
#: a fraction of a second matters: the simulator's exact crossing and silence times.
ISO_UTC_US_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"


def iso_utc(moment: datetime) -> str:
    """Return ``moment`` as ISO 8601 UTC text, e.g. ``2024-05-01T06:30:00Z`` (ISO_UTC_FORMAT)."""
    return as_utc(moment).strftime(ISO_UTC_FORMAT)
