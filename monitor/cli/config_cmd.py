"""``monitor config check``: validate a config file and its geofences, print a summary."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from monitor.cli.options import CliState

if TYPE_CHECKING:
    from monitor.analyse.geofences import Zone
    from monitor.config import Settings


@click.group("config")
def config_group() -> None:
    """Check configuration files."""


def _ports_table(zones: list[Zone]) -> Table:
    from monitor.analyse.geofences import area_km2

    table = Table()
    for column in ("id", "name", "country"):
        table.add_column(column, no_wrap=True)
    for column in ("berths", "anchorages", "areas", "km²"):
        table.add_column(column, justify="right")
    children: dict[str, Counter[str]] = {}
    for zone in zones:
        if zone.port_id != zone.id:
            children.setdefault(zone.port_id, Counter())[zone.kind] += 1
    for zone in zones:
        if zone.kind != "port":
            continue
        kinds = children.get(zone.id, Counter())
        table.add_row(
            escape(zone.id),
            escape(zone.name),
            escape(zone.country or ""),
            str(kinds["berth"]),
            str(kinds["anchorage"]),
            str(kinds["area"]),
            f"{area_km2(zone.geometry):.1f}",
        )
    return table


def _values_table(section: object) -> Table:
    table = Table(show_header=False)
    table.add_column("key")
    table.add_column("value", justify="right")
    assert hasattr(section, "model_dump")
    for key, value in section.model_dump().items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
        table.add_row(key, escape(str(value)))
    return table


def _summary(settings: Settings, zones: list[Zone], console: Console) -> None:
    from monitor.analyse.geofences import ZONE_KINDS

    console.print(f"[bold]{escape(str(settings.source_path))}[/bold]: OK ({escape(settings.name)})")
    store_state = "exists" if settings.store.path.is_dir() else "not created yet"
    console.print(f"store:      {escape(str(settings.store.path.absolute()))} ({store_state})")
    console.print(
        f"reports:    {escape(str(settings.report.output.absolute()))} "
        f"(period {settings.report.period}, "
        f"offline {'yes' if settings.report.offline else 'no'})"
    )
    files = settings.geofences.files
    console.print(f"geofences:  {len(files)} file(s), {len(settings.geofences.circles)} circle(s)")
    for path in files:
        console.print(f"            {escape(str(path))}")
    kinds: Counter[str] = Counter(zone.kind for zone in zones)
    counts = ", ".join(f"{kinds[kind]} {kind}" for kind in ZONE_KINDS)
    console.print(f"zones:      {len(zones)} ({counts})")
    if kinds["port"]:
        console.print("Ports")
        console.print(_ports_table(zones))
    console.print(escape("Port-call thresholds [detect]"))
    console.print(_values_table(settings.detect))
    console.print(escape("Ingest [ingest]"))
    console.print(_values_table(settings.ingest))


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def check(ctx: click.Context, file: Path | None) -> None:
    """Validate FILE (or the global --config) and its geofences; print a summary.

    Exits with status 1 and a message naming the file and key when anything is invalid.
    """
    from monitor.analyse.geofences import load_zones, zone_warnings
    from monitor.config import load_config

    state = ctx.find_object(CliState) or CliState()
    path = file or state.config_path
    if path is None:
        raise click.UsageError(
            "name a config file: monitor config check FILE (or monitor --config FILE config check)"
        )
    settings = load_config(path)
    zones = load_zones(settings)
    console = Console(highlight=False, soft_wrap=True)
    _summary(settings, zones, console)
    warnings = zone_warnings(zones)
    for warning in warnings:
        console.print(f"[yellow]warning[/yellow]: {escape(warning)}")
    if not zones:
        console.print(
            "[yellow]warning[/yellow]: no geofences: add geofences.files or geofences.circles "
            "so that port calls can be detected"
        )


@config_group.command("path")
@click.argument("name", default="korea")
def path_cmd(name: str) -> None:
    """Print the path of the config shipped as NAME (default korea).

    Useful after a package install: monitor --config "$(monitor config path)" ...
    """
    from monitor.config import shipped_config_path

    click.echo(str(shipped_config_path(name)))


COMMANDS: list[click.Command] = [config_group]
