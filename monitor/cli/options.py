"""Options shared by the commands, declared once, and the settings they resolve to.

Every command module imports its options from here (never from ``monitor.cli``, which imports the
command modules). Like the command modules, this one imports only click and light modules at
import time, so that ``monitor --help`` does not load the library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from monitor.cli.output import LISTING_FORMATS, unknown_id_errors
from monitor.core.terminal import terminal_text
from monitor.core.times import parse_when
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.pipeline.extract import Filters

F = TypeVar("F", bound=Callable[..., object])


@dataclass
class CliState:
    """The global options, given before the command name."""

    config_path: Path | None = None
    store_path: Path | None = None


def resolve_settings(
    ctx: click.Context,
    config: Path | None = None,
    store: Path | None = None,
    *,
    default_config: Path | None = None,
) -> Settings:
    """Return the settings for a command: its own --config/--store override the global ones.

    ``default_config`` is read when neither the command nor the global options name a config.
    """
    from monitor.config import load_config

    state = ctx.find_object(CliState) or CliState()
    try:
        settings = load_config(config or state.config_path or default_config)
    except MonitorError as exc:
        raise click.ClickException(terminal_text(str(exc), keep_newlines=True)) from exc
    store_path = store or state.store_path
    if store_path is not None:
        settings = settings.model_copy(
            update={"store": settings.store.model_copy(update={"path": store_path})}
        )
    return settings


class UtcTime(click.ParamType[datetime]):
    """A date or date-time as :func:`monitor.core.times.parse_when` reads it, in UTC."""

    name = "date"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "DATE"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        option = max(param.opts, key=len) if param is not None and param.opts else None
        try:
            return parse_when(str(value), end_of_day=self.end_of_day, option=option)
        except MonitorError as exc:
            raise click.ClickException(str(exc)) from exc


#: How a DATE may be written, for the help of every option that takes one.
DATE_FORMS = (
    "2024-05-01, 2024-05-01T06:00, 2024-05-01T06:00Z or 2024-05-01T08:00+02:00; "
    "UTC unless an offset is given"
)
CONFIG_FILE = click.Path(dir_okay=False, path_type=Path)
STORE_DIR = click.Path(file_okay=False, path_type=Path)

global_config_option = click.option(
    "--config", type=CONFIG_FILE, default=None, help="TOML config file for every command."
)
global_store_option = click.option(
    "--store", type=STORE_DIR, default=None, help="Store directory for every command."
)
config_option = click.option(
    "--config",
    "config",
    type=CONFIG_FILE,
    default=None,
    help="TOML config file (overrides the global --config).",
)
store_option = click.option(
    "--store",
    "store",
    type=STORE_DIR,
    default=None,
    help="Store directory (default from config, else ./data/store).",
)
days_option = click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=7.0,
    show_default=True,
    help="Length of the simulated period.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(LISTING_FORMATS),
    default="table",
    show_default=True,
    help="table (fits the terminal; 100 columns into a pipe), or csv or json with every column "
    "and ISO 8601 UTC times, for programs.",
)
_PERIOD_OPTIONS = (
    click.option("--port", "port_id", default=None, help="Only this port id."),
    click.option("--mmsi", type=int, default=None, help="Only this vessel."),
    click.option(
        "--since",
        type=UtcTime(),
        default=None,
        help=f"Only what is still under way at or after this time ({DATE_FORMS}).",
    ),
    click.option(
        "--until",
        type=UtcTime(end_of_day=True),
        default=None,
        help="Only what began before this time, written like --since; a bare date includes "
        "that whole day.",
    ),
)


def period_options(func: F) -> F:
    """Add --port, --mmsi, --since and --until (the filters of calls and exports)."""
    for option in reversed(_PERIOD_OPTIONS):
        func = option(func)
    return func


def period_filters(
    settings: Settings,
    port_id: str | None,
    mmsi: int | None,
    since: datetime | None,
    until: datetime | None,
) -> Filters:
    """Return the filters the period options give, after checking the port id and MMSI exist.

    An unknown one ends the command with its message and exit status 2.
    """
    from monitor.analyse.geofences import load_zones
    from monitor.pipeline.extract import Filters
    from monitor.store.calls import load_calls

    filters = Filters(since=since, until=until, port_id=port_id, mmsi=mmsi)
    known = [z.port_id for z in load_zones(settings)]
    known += load_calls(settings.store.path)["port_id"].to_list()
    with unknown_id_errors():
        filters.check(settings.store.path, known)
    return filters
