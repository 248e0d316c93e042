"""``monitor events``: the events the last detection found (shared MMSIs, jumps, identity
changes, ...) as a table that fits the terminal, CSV or JSON."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from monitor.cli.options import (
    config_option,
    format_option,
    period_filters,
    period_options,
    resolve_settings,
    store_option,
)
from monitor.cli.output import WATCH_COLUMNS, Column, echo_listing, minute, nothing_listed

EVENT_COLUMNS = (
    Column("start_utc", "Start (UTC)", minute),
    Column("end_utc", "End (UTC)", minute, drop=3),
    Column("event", "Event", shrink_to=10),
    Column("mmsi", "MMSI", right=True),
    Column("near_port", "Near port", drop=2, shrink_to=8),
    Column("what", "What", shrink_to=20),
    Column("track_id", "Track", drop=4),
)


def check_kind(kind: str | None) -> None:
    """Refuse an unknown ``--kind`` as a bad argument (exit status 2), naming the kinds."""
    from monitor.schema import EVENT_KINDS

    if kind is not None and kind not in EVENT_KINDS:
        raise click.BadParameter(
            f"unknown event kind {kind!r}; use one of {', '.join(EVENT_KINDS)}",
            param_hint="'--kind'",
        )


@click.command("events")
@config_option
@store_option
@period_options
@click.option(
    "--kind",
    default=None,
    metavar="KIND",
    help="Only events of this kind: shared_mmsi, position_jump, identity_change, imo_reuse, "
    "invalid_mmsi, gap (dark periods), encounter or loitering.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the last N events.")
@click.option(
    "--watchlist",
    "watched",
    is_flag=True,
    help="Only events of vessels on the configured watchlist (either vessel of an encounter), "
    "with the list and how they matched.",
)
@format_option
@click.pass_context
def events_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    port_id: str | None,
    mmsi: int | None,
    since: datetime | None,
    until: datetime | None,
    kind: str | None,
    limit: int | None,
    watched: bool,
    fmt: str,
) -> None:
    """List the detected events: shared MMSIs, position jumps, identity changes, IMO reuse,
    invalid MMSIs, dark periods, encounters and loitering.

    --port keeps the events near that port, --mmsi those of that vessel (as the vessel or the
    other vessel), --since/--until those under way in the period. The table fits the terminal;
    CSV and JSON carry every column of the events table.
    """
    import polars as pl

    from monitor.report.fmt import EVENT_TITLES, event_summary
    from monitor.store.events import EVENTS, filter_events, load_events

    check_kind(kind)
    settings = resolve_settings(ctx, config, store)
    filters = period_filters(settings, port_id, mmsi, since, until)
    stored = load_events(settings.store.path)
    events = filter_events(
        stored,
        kind=kind,
        since=filters.since,
        until=filters.until,
        port_id=filters.port_id,
        mmsi=filters.mmsi,
    )
    columns: tuple[Column, ...] = EVENT_COLUMNS
    if watched:
        from monitor.analyse.watchlist import configured_watchlist, mark_by_vessel
        from monitor.store.parquet import Store

        watchlist = configured_watchlist(settings.watchlist)
        statics = Store(settings.store.path).scan_statics().select("mmsi", "imo", "vessel_name")
        events = mark_by_vessel(events, statics.collect(), watchlist, ["mmsi", "other_mmsi"])
        events = events.filter(pl.col("watch_match").is_not_null())
        columns = (*EVENT_COLUMNS[:4], *WATCH_COLUMNS, *EVENT_COLUMNS[4:])
    if limit is not None:
        events = events.tail(limit)
    if fmt != "table":
        echo_listing(events, columns, fmt)  # type: ignore[arg-type]
        return
    if events.is_empty():
        detected = EVENTS.exists(settings.store.path)
        click.echo(nothing_listed(stored.height, "events", detected=detected, watched=watched))
        return
    rows = events.with_columns(
        event=pl.col("kind").replace_strict(EVENT_TITLES, default=pl.col("kind")),
        near_port=pl.when(pl.col("port_id").is_not_null()).then(
            pl.format("{} ({} km)", "port_id", pl.col("port_distance_km").round(0).cast(pl.Int64))
        ),
        what=pl.Series([event_summary(row) for row in events.iter_rows(named=True)]),
    )
    echo_listing(rows, columns, "table", title=f"{events.height:,} event(s)")


COMMANDS: list[click.Command] = [events_command]
