"""``monitor events``: list the events the last detection found (shared MMSIs, jumps, ...)."""

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


@click.command("events")
@config_option
@store_option
@click.option(
    "--kind",
    default=None,
    metavar="KIND",
    help="Only events of this kind: shared_mmsi, position_jump, identity_change, imo_reuse or "
    "invalid_mmsi.",
)
@click.option(
    "--since",
    type=UtcTime(),
    default=None,
    help=f"Only events lasting until this time or later ({DATE_FORMS}).",
)
@click.option("--port", "port_id", default=None, help="Only events near this port id.")
@click.option("--mmsi", type=int, default=None, help="Only events of this vessel.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the last N events.")
@click.pass_context
def events_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    kind: str | None,
    since: datetime | None,
    port_id: str | None,
    mmsi: int | None,
    limit: int | None,
) -> None:
    """List detected events: shared MMSIs, position jumps, identity changes, IMO reuse, invalid
    MMSIs."""
    from monitor.report.fmt import EVENT_TITLES, event_summary
    from monitor.store.events import filter_events, load_events

    settings = resolve_settings(ctx, config, store)
    events = filter_events(
        load_events(settings.store.path), kind=kind, since=since, port_id=port_id, mmsi=mmsi
    )
    if limit is not None:
        events = events.tail(limit)
    console = Console()
    if events.is_empty():
        console.print("No events match. Run `monitor detect` after ingesting positions.")
        return
    table = Table(
        "Start (UTC)",
        "End (UTC)",
        "Event",
        "MMSI",
        "Track",
        "Near port",
        "What",
        title=f"{events.height} events",
    )
    for row in events.iter_rows(named=True):
        port = row["port_id"] or ""
        if port:
            port += f" ({row['port_distance_km']:.0f} km)"
        cells = [
            _time(row["start_utc"]),
            _time(row["end_utc"]),
            EVENT_TITLES.get(row["kind"], row["kind"]),
            str(row["mmsi"]),
            row["track_id"] or "",
            port,
            event_summary(row),
        ]
        # AIS text is untrusted: rich would read "[...]" in a ship name as markup.
        table.add_row(*(escape(cell) for cell in cells))
    console.print(table)


COMMANDS: list[click.Command] = [events_command]
