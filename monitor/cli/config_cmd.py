"""``monitor config check``: validate a config file and its geofences, print a summary."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from monitor.cli.options import CliState
from monitor.cli.output import make_console
from monitor.core.terminal import terminal_text

if TYPE_CHECKING:
    from monitor.analyse.geofences import Zone
    from monitor.config import AlertSink, Settings


def _shown(text: str) -> str:
    """Return text from a config or geofence file fit to print: no markup, no control codes."""
    return rich_escape(terminal_text(text))


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
            _shown(zone.id),
            _shown(zone.name),
            _shown(zone.country or ""),
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
        table.add_row(key, _shown(str(value)))
    return table


def _summary(settings: Settings, zones: list[Zone], console: Console, n_warnings: int) -> None:
    from monitor.analyse.geofences import ZONE_KINDS

    verdict = "OK" if not n_warnings else f"OK with {n_warnings} warning(s) above"
    console.print(
        f"[bold]{_shown(str(settings.source_path))}[/bold]: {verdict} ({_shown(settings.name)})"
    )
    where = settings.store.path
    if isinstance(where, Path):
        store_state = "exists" if where.is_dir() else "not created yet"
        where = str(where.absolute())
    else:
        store_state = "object store"
    console.print(f"store:      {_shown(where)} ({store_state})")
    console.print(
        f"reports:    {_shown(str(settings.report.output.absolute()))} "
        f"(period {settings.report.period}, "
        f"offline {'yes' if settings.report.offline else 'no'})"
    )
    files = settings.geofences.files
    console.print(f"geofences:  {len(files)} file(s), {len(settings.geofences.circles)} circle(s)")
    for path in files:
        console.print(f"            {_shown(str(path))}")
    kinds: Counter[str] = Counter(zone.kind for zone in zones)
    counts = ", ".join(f"{kinds[kind]} {kind}" for kind in ZONE_KINDS)
    console.print(f"zones:      {len(zones)} ({counts})")
    if kinds["port"]:
        console.print("Ports")
        console.print(_ports_table(zones))
    console.print(_shown("Port-call thresholds [detect]"))
    console.print(_values_table(settings.detect))
    console.print(_shown("Ingest [ingest]"))
    console.print(_values_table(settings.ingest))


def _secret_source(sink: AlertSink, key: str) -> str:
    if getattr(sink, f"{key}_env"):
        return f"{key} from ${getattr(sink, f'{key}_env')}"
    if getattr(sink, f"{key}_file"):
        return f"{key} from {getattr(sink, f'{key}_file')}"
    return f"{key} in the config" if getattr(sink, key) is not None else ""


def _sink_target(sink: AlertSink) -> str:
    if sink.type == "jsonl":
        return str(sink.path)
    if sink.type == "webhook":
        return _secret_source(sink, "url")
    if sink.type == "smtp":
        login = f", login {sink.username} ({_secret_source(sink, 'password')})"
        return (
            f"{sink.host}:{sink.port}{' STARTTLS' if sink.starttls else ''} to "
            f"{', '.join(sink.to)}" + (login if sink.username else "")
        )
    return "the log"


def _service_summary(settings: Settings, console: Console) -> None:
    service = settings.service
    console.print(
        f"service:    archive {_shown(str(service.archive_dir))}, ingest every "
        f"{service.ingest_interval_s:g} s, {len(service.feeds)} feed(s)"
    )
    for feed in service.feeds:
        where = feed.address if feed.type != "inbox" else str(feed.path)
        console.print(f"            {_shown(feed.name)}: {feed.type} {_shown(str(where))}")
    rules = settings.alerts.rules
    if rules:
        console.print(f"alerts:     {len(rules)} rule(s)")
        for rule in rules:
            ports = ", ".join(rule.ports) or "every port"
            console.print(f"            {_shown(rule.name)}: {rule.when} at {_shown(ports)}")
    for sink in settings.alerts.sinks:
        console.print(f"sink:       {_shown(sink.key)}: {sink.type}, {_shown(_sink_target(sink))}")


def _service_warnings(settings: Settings) -> list[str]:
    """Check the service and alerts sections against the geofences and files; return warnings.

    Unknown ports and unreadable watchlists are errors; secrets written in a config others can
    read, and secrets not available here, are warnings.
    """
    from monitor.alerts.dispatch import check_rule_ports
    from monitor.alerts.secrets import inline_secret_warnings, secret_values
    from monitor.analyse.watchlist import load_watchlist
    from monitor.errors import ConfigError

    check_rule_ports(settings)
    for rule in settings.alerts.rules:
        if rule.watchlist is not None:
            load_watchlist(rule.watchlist, match_names=settings.watchlist.match_names)
    warnings = inline_secret_warnings(settings)
    try:
        secret_values(settings)
    except ConfigError as exc:
        warnings.append(f"{exc} (needed when monitor serve starts)")
    return warnings


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit status 1).")
@click.pass_context
def check(ctx: click.Context, file: Path | None, strict: bool) -> None:
    """Validate FILE (or the global --config), its geofences and report.tiles; print warnings,
    then a summary.

    Exits with status 1 and a message naming the file and key when anything is invalid, and
    with --strict also when there are warnings.
    """
    from monitor.analyse.geofences import load_zones, zone_warnings
    from monitor.config import load_config
    from monitor.errors import ConfigError, ReportError
    from monitor.report.mapview import tile_warnings

    state = ctx.find_object(CliState) or CliState()
    path = file or state.config_path
    if path is None:
        raise click.UsageError(
            "name a config file: monitor config check FILE (or monitor --config FILE config check)"
        )
    settings = load_config(path)
    zones = load_zones(settings)
    warnings = zone_warnings(zones)
    service = bool(settings.service.feeds or settings.alerts.rules or settings.alerts.sinks)
    if service:
        warnings += _service_warnings(settings)
    if not zones:
        warnings.append(
            "no geofences: add geofences.files or geofences.circles so that port calls can be "
            "detected"
        )
    if settings.report.tiles:
        try:
            warnings.extend(tile_warnings(settings.report.tiles))
        except ReportError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    console = make_console()
    label = "error" if strict else "warning"
    for warning in warnings:
        console.print(f"[yellow]{label}[/yellow]: {_shown(warning)}")
    if strict and warnings:
        raise click.ClickException(
            f"{path}: {len(warnings)} warning(s), errors with --strict; fix them or leave out "
            "--strict"
        )
    _summary(settings, zones, console, len(warnings))
    if service:
        _service_summary(settings, console)


@config_group.command("path")
@click.argument("name", default="korea")
def path_cmd(name: str) -> None:
    """Print the path of the config shipped as NAME (default korea).

    Useful after a package install: monitor --config "$(monitor config path)" ...
    """
    from monitor.config import shipped_config_path

    click.echo(str(shipped_config_path(name)))


COMMANDS: list[click.Command] = [config_group]
