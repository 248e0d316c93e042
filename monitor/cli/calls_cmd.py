"""``monitor calls``: list the detected port calls as a table."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from monitor.cli.options import DATE_FORMS, UtcTime, config_option, resolve_settings, store_option


def _time(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "-"


def _number(value: object, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else "-"


def _departure(row: dict[str, object]) -> str:
    if row["status"] == "in_port":
        return "in port"
    if row["status"] == "unknown":
        return f"unknown {_time(row['last_seen_utc'])}"
    return _time(row["departure_utc"])


@click.command("calls")
@config_option
@store_option
@click.option("--port", "port_id", default=None, help="Only calls at this port id.")
@click.option("--mmsi", type=int, default=None, help="Only calls of this vessel.")
@click.option(
    "--since",
    type=UtcTime(),
    default=None,
    help=f"Only calls still in port at or after this time ({DATE_FORMS}).",
)
@click.option(
    "--open",
    "open_only",
    is_flag=True,
    help="Only calls without a departure: in port now, or last seen in port (unknown).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the last N calls.")
@click.pass_context
def calls_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    port_id: str | None,
    mmsi: int | None,
    since: datetime | None,
    open_only: bool,
    limit: int | None,
) -> None:
    """List detected port calls as a table."""
    from monitor.store.calls import filter_calls, load_calls

    settings = resolve_settings(ctx, config, store)
    calls = filter_calls(
        load_calls(settings.store.path),
        port_id=port_id,
        mmsi=mmsi,
        since=since,
        open_only=open_only,
    )
    if limit is not None:
        calls = calls.tail(limit)
    console = Console()
    if calls.is_empty():
        console.print("No calls match. Run `monitor detect` after ingesting positions.")
        return
    table = Table(
        "Arrival (UTC)",
        "Departure (UTC)",
        "Port",
        "Vessel",
        "MMSI",
        "Flag",
        "Type",
        "Hours",
        "Stop",
        "Conf.",
        "Previous port",
        title=f"{calls.height} port calls",
    )
    for row in calls.iter_rows(named=True):
        cells = [
            _time(row["arrival_utc"]) + ("" if row["arrival_observed"] else " ?"),
            _departure(row),
            row["port_name"] or row["port_id"],
            row["vessel_name"] or "",
            str(row["mmsi"]),
            row["flag"] or "",
            row["ship_type"] or "",
            _number(row["duration_h"]),
            "yes" if row["stopped"] else "no",
            str(row["confidence"]),
            row["prev_port_id"] or "",
        ]
        # AIS text is untrusted: rich would read "[...]" in a ship name as markup.
        table.add_row(*(escape(cell) for cell in cells))
    console.print(table)
    console.print("? = arrival not observed (first seen already in port)")
    if (calls["status"] == "unknown").any():
        console.print("unknown = last seen in port at that time, not heard since")


COMMANDS: list[click.Command] = [calls_command]
