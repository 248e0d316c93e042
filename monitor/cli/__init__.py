"""The ``monitor`` command line: parses arguments, calls the library, turns errors into messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import click

from monitor import __version__
from monitor.config import Settings, load_config
from monitor.errors import MonitorError


@dataclass
class CliState:
    config_path: Path | None = None
    store_path: Path | None = None


def resolve_settings(
    ctx: click.Context, config: Path | None = None, store: Path | None = None
) -> Settings:
    """Return the settings for a command: its own --config/--store override the global ones."""
    state = ctx.find_object(CliState) or CliState()
    try:
        settings = load_config(config or state.config_path)
    except MonitorError as exc:
        raise click.ClickException(str(exc)) from exc
    store_path = store or state.store_path
    if store_path is not None:
        settings = settings.model_copy(
            update={"store": settings.store.model_copy(update={"path": store_path})}
        )
    return settings


config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML config file (overrides the global --config).",
)
store_option = click.option(
    "--store",
    "store",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Store directory (default from config, else ./data/store).",
)


class MonitorGroup(click.Group):
    """Turns library errors into one-line messages and exit code 1 instead of tracebacks."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=MonitorGroup)
@click.version_option(__version__, prog_name="monitor")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML config file for every command.",
)
@click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Store directory for every command.",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.pass_context
def main(ctx: click.Context, config: Path | None, store: Path | None, verbose: int) -> None:
    """AIS port-activity monitor: ingest AIS, detect port calls, write map reports."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = CliState(config_path=config, store_path=store)


def _register() -> None:
    from monitor.cli import (
        alerts_cmd,
        config_cmd,
        detect_cmd,
        ingest_cmd,
        report_cmd,
        serve_cmd,
        simulate_cmd,
    )

    modules = (ingest_cmd, config_cmd, detect_cmd, report_cmd, simulate_cmd, serve_cmd, alerts_cmd)
    for module in modules:
        for command in module.COMMANDS:
            main.add_command(command)


_register()
