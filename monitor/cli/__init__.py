"""The ``monitor`` command line: parses arguments, calls the library, turns errors into messages.

One command per module (``<name>_cmd.py``), registered below; shared options live in
``monitor.cli.options``. Command modules import the library inside their command functions, not
at import time, so that ``monitor --help`` and every ``--help`` start without numba, polars or
shapely.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from monitor import __version__
from monitor.cli.options import CliState, global_config_option, global_store_option
from monitor.core.terminal import terminal_text
from monitor.errors import MonitorError


class _TerminalFormatter(logging.Formatter):
    """Log lines without escape sequences (they quote file names and AIS text)."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_text(super().format(record), keep_newlines=True)


class MonitorGroup(click.Group):
    """Turns library errors into one-line messages and exit code 1 instead of tracebacks."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            # Messages quote file names and file contents: no escape sequence reaches the terminal.
            raise click.ClickException(terminal_text(str(exc), keep_newlines=True)) from exc


@click.group(cls=MonitorGroup)
@click.version_option(__version__, prog_name="monitor")
@global_config_option
@global_store_option
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.pass_context
def main(ctx: click.Context, config: Path | None, store: Path | None, verbose: int) -> None:
    """AIS port-activity monitor: ingest AIS, detect port calls, write map reports."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_TerminalFormatter("%(levelname)s %(name)s: %(message)s"))
    ctx.obj = CliState(config_path=config, store_path=store)


def _register() -> None:
    from monitor.cli import (
        alerts_cmd,
        calls_cmd,
        compile_cmd,
        config_cmd,
        demo_cmd,
        detect_cmd,
        events_cmd,
        export_cmd,
        ingest_cmd,
        report_cmd,
        serve_cmd,
        simulate_cmd,
        vessels_cmd,
    )

    for module in (
        ingest_cmd,
        config_cmd,
        detect_cmd,
        calls_cmd,
        vessels_cmd,
        events_cmd,
        export_cmd,
        report_cmd,
        simulate_cmd,
        demo_cmd,
        compile_cmd,
        serve_cmd,
        alerts_cmd,
    ):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
