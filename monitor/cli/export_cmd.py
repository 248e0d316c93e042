"""``monitor export calls``: write every detected port call as CSV, Parquet or GeoJSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from monitor.cli.options import config_option, resolve_settings, store_option

if TYPE_CHECKING:
    from monitor.pipeline.detect import ExportFormat


@click.group("export")
def export_group() -> None:
    """Export tables from the store."""


@export_group.command("calls")
@config_option
@store_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "geojson"]),
    default="csv",
    show_default=True,
    help="Output format.",
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
    from monitor.pipeline.detect import export_calls, load_calls

    settings = resolve_settings(ctx, config, store)
    text = export_calls(load_calls(settings.store.path), cast("ExportFormat", fmt), output)
    if text is not None:
        click.echo(text, nl=not text.endswith("\n"))


COMMANDS: list[click.Command] = [export_group]
