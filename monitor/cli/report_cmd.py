"""``monitor report``: write the HTML map report of a period and print where it is."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from monitor.cli import config_option, resolve_settings, store_option
from monitor.core.times import parse_when
from monitor.store.parquet import Store


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
@click.option("--since", default=None, help="Start of the period (YYYY-MM-DD[THH:MM], UTC).")
@click.option(
    "--until",
    default=None,
    help="End of the period (YYYY-MM-DD[THH:MM], UTC; a bare date includes that whole day).",
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
    since: str | None,
    until: str | None,
    output: Path | None,
    offline: bool,
) -> None:
    """Write an HTML map report (map, tables, CSV/GeoJSON/KML) and print its index.html path."""
    settings = resolve_settings(ctx, config, store)
    if period is not None and since is not None and until is not None:
        raise click.UsageError("give --period, or --since and --until, not all three")
    # Imported here: folium takes about a second to import, and other commands do not need it.
    from monitor.report import report_window, write_report
    from monitor.report.window import Period

    start = parse_when(since, option="--since") if since else None
    end = parse_when(until, end_of_day=True, option="--until") if until else None
    window_since, window_until = report_window(
        Store(settings.store.path).scan_positions(),
        cast(Period, period or settings.report.period),
        start,
        end,
    )
    index = write_report(settings, window_since, window_until, output=output, offline=offline)
    click.echo(str(index))


COMMANDS: list[click.Command] = [report]
