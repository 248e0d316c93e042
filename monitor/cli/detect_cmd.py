"""Commands ``detect``, ``calls`` and ``export calls``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from monitor.cli import config_option, resolve_settings, store_option
from monitor.pipeline.detect import detect_calls
from monitor.report.exports import EXPORT_FORMATS, ExportFormat, export_calls
from monitor.store.calls import filter_calls, load_calls


@click.command("detect")
@config_option
@store_option
@click.option(
    "--geofences",
    "geofences",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    multiple=True,
    help="GeoJSON geofence file, instead of the config's files (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def detect(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    geofences: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Detect port calls in the store's positions (only vessels with new data are re-run)."""
    settings = resolve_settings(ctx, config, store)
    if geofences:
        settings = settings.model_copy(
            update={"geofences": settings.geofences.model_copy(update={"files": list(geofences)})}
        )
    summary = detect_calls(settings)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    console = Console()
    kind = "every vessel re-detected" if summary.full_run else "vessels with new data"
    console.print(
        f"Processed {summary.positions_processed:,} positions of {summary.vessels_processed:,} "
        f"vessels ({kind}; {summary.outliers_dropped:,} outliers dropped)."
    )
    console.print(
        f"Calls: {summary.calls_total:,} ({summary.calls_new:,} new, {summary.calls_open:,} in "
        f"port now); transits: {summary.transits_total:,}; visits under way: "
        f"{summary.visits_pending:,}."
    )
    ports = sorted(set(summary.calls_per_port) | set(summary.transits_per_port))
    if ports:
        table = Table("Port", "Calls", "Transits")
        for port in ports:
            table.add_row(
                port,
                str(summary.calls_per_port.get(port, 0)),
                str(summary.transits_per_port.get(port, 0)),
            )
        console.print(table)


def _time(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "-"


def _number(value: object, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else "-"


@click.command("calls")
@config_option
@store_option
@click.option("--port", "port_id", default=None, help="Only calls at this port id.")
@click.option("--mmsi", type=int, default=None, help="Only calls of this vessel.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Only calls still in port at or after this UTC date/time.",
)
@click.option("--open", "open_only", is_flag=True, help="Only vessels in port now.")
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
    settings = resolve_settings(ctx, config, store)
    calls = filter_calls(
        load_calls(settings.store.path),
        port_id=port_id,
        mmsi=mmsi,
        since=since.replace(tzinfo=UTC) if since else None,
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
            "in port" if row["status"] == "in_port" else _time(row["departure_utc"]),
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


@click.group("export")
def export_group() -> None:
    """Export tables from the store."""


@export_group.command("calls")
@config_option
@store_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
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
    settings = resolve_settings(ctx, config, store)
    calls = load_calls(settings.store.path)
    text = export_calls(calls, cast(ExportFormat, fmt), output, title=settings.name)
    if text is not None:
        click.echo(text, nl=not text.endswith("\n"))


COMMANDS: list[click.Command] = [detect, calls_command, export_group]
