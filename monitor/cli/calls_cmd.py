"""``monitor calls``: the detected port calls as a table that fits the terminal, CSV or JSON."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

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


def _arrival(row: dict[str, Any]) -> str:
    return minute(row["arrival_utc"]) + ("" if row["arrival_observed"] else " ?")


CALL_COLUMNS = (
    Column("arrival", "Arrival (UTC)"),
    Column("departure", "Departure (UTC)"),
    Column("port", "Port", shrink_to=8),
    Column("vessel_name", "Vessel", shrink_to=10),
    Column("mmsi", "MMSI", right=True),
    Column("duration_h", "Hours", lambda h: f"{h:.1f}", drop=2, right=True),
    Column("flag", "Flag", drop=4, shrink_to=8),
    Column("confidence", "Conf.", drop=3, right=True),
    Column("ship_type", "Type", drop=6, shrink_to=8),
    Column("stopped", "Stop", lambda s: "yes" if s else "no", drop=5),
    Column("prev_port_id", "Previous port", drop=7, shrink_to=8),
)


@click.command("calls")
@config_option
@store_option
@period_options
@click.option(
    "--open",
    "open_only",
    is_flag=True,
    help="Only calls without a departure: in port now, or last seen in port (unknown).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the last N calls.")
@click.option(
    "--watchlist",
    "watched",
    is_flag=True,
    help="Only calls of vessels on the configured watchlist (by MMSI, IMO or name), with the "
    "list and how they matched.",
)
@format_option
@click.pass_context
def calls_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | str | None,
    port_id: str | None,
    mmsi: int | None,
    since: datetime | None,
    until: datetime | None,
    open_only: bool,
    limit: int | None,
    watched: bool,
    fmt: str,
) -> None:
    """List the detected port calls.

    The table fits the terminal (100 columns into a pipe), leaving out the least needed columns
    when narrow; CSV and JSON carry every column of the calls table.
    """
    import polars as pl

    from monitor.store.calls import CALLS, load_calls

    settings = resolve_settings(ctx, config, store)
    filters = period_filters(settings, port_id, mmsi, since, until)
    all_calls = load_calls(settings.store.path)
    calls = filters.keep(all_calls, open_only=open_only)
    columns: tuple[Column, ...] = CALL_COLUMNS
    if watched:
        from monitor.analyse.watchlist import configured_watchlist

        watchlist = configured_watchlist(settings.watchlist)
        calls = watchlist.mark(calls, imo="imo", name="vessel_name")
        calls = calls.filter(pl.col("watch_match").is_not_null())
        columns = (*CALL_COLUMNS[:5], *WATCH_COLUMNS, *CALL_COLUMNS[5:])
    if limit is not None:
        calls = calls.tail(limit)
    if fmt != "table":
        echo_listing(calls, columns, fmt)  # type: ignore[arg-type]
        return
    if calls.is_empty():
        detected = CALLS.exists(settings.store.path)
        click.echo(nothing_listed(all_calls.height, "calls", detected=detected, watched=watched))
        return
    rows = calls.with_columns(
        arrival=pl.struct("arrival_utc", "arrival_observed").map_elements(
            _arrival, return_dtype=pl.String
        ),
        departure=pl.when(pl.col("status") == "in_port")
        .then(pl.lit("in port"))
        .when(pl.col("status") == "unknown")
        .then(pl.lit("unknown ") + pl.col("last_seen_utc").dt.strftime("%Y-%m-%d %H:%M"))
        .otherwise(pl.col("departure_utc").dt.strftime("%Y-%m-%d %H:%M")),
        port=pl.coalesce("port_name", "port_id"),
    )
    echo_listing(
        rows,
        columns,
        "table",
        title=f"{calls.height:,} port call(s)",
        notes=[
            note
            for note, shown in (
                (
                    "? = arrival not observed (first seen already in port)",
                    not calls["arrival_observed"].all(),
                ),
                (
                    "unknown = last seen in port at that time, not heard since",
                    (calls["status"] == "unknown").any(),
                ),
            )
            if shown
        ],
    )


COMMANDS: list[click.Command] = [calls_command]
