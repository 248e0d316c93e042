"""``monitor report``: write the HTML map report of a period and print where it is."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from monitor.cli.options import DATE_FORMS, UtcTime, config_option, resolve_settings, store_option

if TYPE_CHECKING:
    from monitor.report.window import Period


@click.command("report")
@config_option
@store_option
@click.option(
    "--period",
    type=click.Choice(["day", "week"]),
    default=None,
    help="Report the last 24 h or 7 days of data, ending at the newest message in the store "
    "(default: report.period from the config).",
)
@click.option(
    "--since",
    type=UtcTime(),
    default=None,
    help=f"Start of the period ({DATE_FORMS}).",
)
@click.option(
    "--until",
    type=UtcTime(end_of_day=True),
    default=None,
    help="End of the period, written like --since; a bare date includes that whole day.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder that receives the report folders and their index (default: report.output).",
)
@click.option(
    "--offline",
    is_flag=True,
    default=False,
    help="Inline every script and stylesheet so the report opens with no network.",
)
@click.pass_context
def report(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    period: str | None,
    since: datetime | None,
    until: datetime | None,
    output: Path | None,
    offline: bool,
) -> None:
    """Write an HTML map report (map, tables, CSV/GeoJSON/KML) and print its index.html path."""
    from monitor.report import write_report

    settings = resolve_settings(ctx, config, store)
    index = write_report(
        settings, cast("Period | None", period), since, until, output=output, offline=offline
    )
    click.echo(str(index))


COMMANDS: list[click.Command] = [report]
