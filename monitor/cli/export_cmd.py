"""``monitor export calls`` and ``monitor export events``: write the detected port calls or
events as CSV, Parquet, GeoJSON (or KML for calls)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from monitor.cli.options import config_option, resolve_settings, store_option

if TYPE_CHECKING:
    from monitor.report.exports import EventFormat, ExportFormat


@click.group("export")
def export_group() -> None:
    """Export tables from the store."""


@export_group.command("calls")
@config_option
@store_option
@click.option(
    "--format",
    "fmt",
    default="csv",
    show_default=True,
    metavar="FORMAT",
    help="Output format: csv, parquet, geojson or kml.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file (default: standard output; required for parquet).",
)
@click.pass_context
def export_calls_command(
    ctx: click.Context, config: Path | None, store: Path | None, fmt: str, output: Path | None
) -> None:
    """Export every detected port call (columns of the calls schema)."""
    from monitor.report.exports import export_calls
    from monitor.store.calls import load_calls

    settings = resolve_settings(ctx, config, store)
    calls = load_calls(settings.store.path)
    text = export_calls(calls, cast("ExportFormat", fmt), output, title=settings.name)
    if text is not None:
        click.echo(text, nl=not text.endswith("\n"))


@export_group.command("events")
@config_option
@store_option
@click.option(
    "--format",
    "fmt",
    default="csv",
    show_default=True,
    metavar="FORMAT",
    help="Output format: csv, parquet or geojson.",
)
@click.option(
    "--kind",
    default=None,
    metavar="KIND",
    help="Only events of this kind (shared_mmsi, position_jump, identity_change, imo_reuse, "
    "invalid_mmsi).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file (default: standard output; required for parquet).",
)
@click.pass_context
def export_events_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    fmt: str,
    kind: str | None,
    output: Path | None,
) -> None:
    """Export the detected events (columns of the events schema)."""
    from monitor.report.exports import export_events
    from monitor.store.events import filter_events, load_events

    settings = resolve_settings(ctx, config, store)
    events = filter_events(load_events(settings.store.path), kind=kind)
    text = export_events(events, cast("EventFormat", fmt), output)
    if text is not None:
        click.echo(text, nl=not text.endswith("\n"))


COMMANDS: list[click.Command] = [export_group]
