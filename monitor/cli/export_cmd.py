"""``monitor export calls|transits|positions``: tables and tracks from the store as files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from monitor.cli.options import (
    config_option,
    period_filters,
    period_options,
    resolve_settings,
    store_option,
)

if TYPE_CHECKING:
    from monitor.report.exports import ExportFormat

output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file, written atomically (default: standard output; needed for parquet).",
)


def _echo(text: str | None) -> None:
    if text is not None:
        click.echo(text, nl=not text.endswith("\n"))


@click.group("export")
def export_group() -> None:
    """Export calls, transits or positions from the store."""


@export_group.command("calls")
@config_option
@store_option
@period_options
@click.option(
    "--format",
    "fmt",
    default="csv",
    show_default=True,
    metavar="FORMAT",
    help="Output format: csv, parquet, geojson or kml.",
)
@output_option
@click.pass_context
def export_calls_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    port_id: str | None,
    mmsi: int | None,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Export the detected port calls (the columns of the calls table)."""
    from monitor.report.exports import export_calls
    from monitor.store.calls import load_calls

    settings = resolve_settings(ctx, config, store)
    filters = period_filters(settings, port_id, mmsi, since, until)
    calls = filters.keep(load_calls(settings.store.path))
    _echo(export_calls(calls, cast("ExportFormat", fmt), output, title=settings.name))


@export_group.command("transits")
@config_option
@store_option
@period_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "json"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@output_option
@click.pass_context
def export_transits_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    port_id: str | None,
    mmsi: int | None,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Export the transits: passes through a port's zones without a stop, shorter than
    detect.min_stay_h (mmsi, port_id, arrival_utc, departure_utc, duration_h, n_positions)."""
    from monitor.cli.output import listing_text
    from monitor.core.atomic import atomic_write_text
    from monitor.errors import ConfigError
    from monitor.store.calls import TRANSITS
    from monitor.store.table import atomic_write_parquet

    settings = resolve_settings(ctx, config, store)
    filters = period_filters(settings, port_id, mmsi, since, until)
    transits = filters.keep(TRANSITS.read(settings.store.path)).sort("arrival_utc", "mmsi")
    if fmt == "parquet":
        if output is None:
            raise ConfigError("--format parquet needs --output FILE (Parquet is not text)")
        atomic_write_parquet(transits, output)
        return
    text = listing_text(transits, (), "csv" if fmt == "csv" else "json")
    if output is None:
        _echo(text)
    else:
        atomic_write_text(output, text)


@export_group.command("positions")
@config_option
@store_option
@period_options
@click.option(
    "--format",
    "fmt",
    default="csv",
    show_default=True,
    metavar="FORMAT",
    help="csv or parquet: one row per position; geojson or kml: one track (line) per vessel.",
)
@output_option
@click.pass_context
def export_positions_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    port_id: str | None,
    mmsi: int | None,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Export positions: one vessel's track (--mmsi) or a period's (--since/--until).

    --port keeps the positions during calls at that port (arrival to departure).
    """
    from monitor.pipeline.extract import positions_for_export
    from monitor.report.track_files import TrackFormat, export_tracks
    from monitor.store.calls import load_calls

    settings = resolve_settings(ctx, config, store)
    filters = period_filters(settings, port_id, mmsi, since, until)
    positions = positions_for_export(settings.store.path, load_calls(settings.store.path), filters)
    _echo(export_tracks(positions, cast("TrackFormat", fmt), output))


COMMANDS: list[click.Command] = [export_group]
