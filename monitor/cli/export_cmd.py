"""``monitor export calls|transits|positions|events|gaps|encounters``: tables and tracks from the
store as files.

The commands take the same options (the period filters, ``--format``, ``--output``) and differ
only in what they write (and ``events`` in ``--kind``), so each is made by
:func:`_export_command` from its writer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from monitor.cli.options import (
    config_option,
    period_filters,
    period_options,
    resolve_settings,
    store_option,
)
from monitor.core.terminal import terminal_text

if TYPE_CHECKING:
    import polars as pl

    from monitor.config import Settings
    from monitor.pipeline.extract import Filters

#: Writes what a command exports to the file, or returns it as text without one; the values of
#: the command's extra options come as keyword arguments.
Writer = Callable[..., "str | None"]


@click.group("export")
def export_group() -> None:
    """Export calls, transits, positions or events from the store."""


def _export_command(
    name: str,
    fmt_option: Callable[[Any], Any],
    doc: str,
    write: Writer,
    extra: Sequence[Callable[[Any], Any]] = (),
) -> None:
    """Add ``monitor export NAME``, which writes the filtered store with ``write``, given the
    values of the ``extra`` options too."""

    def extra_options(func: Any) -> Any:
        for option in reversed(extra):
            func = option(func)
        return func

    @export_group.command(name, help=doc)
    @config_option
    @store_option
    @period_options
    @extra_options
    @fmt_option
    @click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Output file, written atomically (default: standard output; needed for parquet).",
    )
    @click.pass_context
    def command(
        ctx: click.Context,
        /,
        config: Path | None,
        store: Path | str | None,
        port_id: str | None,
        mmsi: int | None,
        since: datetime | None,
        until: datetime | None,
        fmt: str,
        output: Path | None,
        **options: Any,
    ) -> None:
        settings = resolve_settings(ctx, config, store)
        filters = period_filters(settings, port_id, mmsi, since, until)
        text = write(settings, filters, fmt, output, **options)
        if text is not None:
            if sys.stdout.isatty():
                # For a person reading it; a program reading the pipe gets the text as stored.
                text = terminal_text(text, keep_newlines=True)
            click.echo(text, nl=not text.endswith("\n"))


def _calls(settings: Settings, filters: Filters, fmt: str, output: Path | None) -> str | None:
    from monitor.report.exports import ExportFormat, export_calls
    from monitor.store.calls import load_calls

    calls = filters.keep(load_calls(settings.store.path))
    return export_calls(calls, cast(ExportFormat, fmt), output, title=settings.name)


def _transits(settings: Settings, filters: Filters, fmt: str, output: Path | None) -> str | None:
    from monitor.cli.output import listing_text
    from monitor.core.atomic import atomic_write_text
    from monitor.errors import ConfigError
    from monitor.store.calls import TRANSITS
    from monitor.store.table import atomic_write_parquet

    transits = filters.keep(TRANSITS.read(settings.store.path)).sort("arrival_utc", "mmsi")
    if fmt == "parquet":
        if output is None:
            raise ConfigError("--format parquet needs --output FILE (Parquet is not text)")
        atomic_write_parquet(transits, output)
        return None
    text = listing_text(transits, (), "csv" if fmt == "csv" else "json")
    if output is None:
        return text
    atomic_write_text(output, text)
    return None


def _positions(settings: Settings, filters: Filters, fmt: str, output: Path | None) -> str | None:
    from monitor.pipeline.extract import positions_for_export
    from monitor.report.track_files import TrackFormat, export_tracks
    from monitor.store.calls import load_calls

    positions = positions_for_export(settings.store.path, load_calls(settings.store.path), filters)
    return export_tracks(positions, cast(TrackFormat, fmt), output)


def _events(
    settings: Settings, filters: Filters, fmt: str, output: Path | None, kind: str | None
) -> str | None:
    from monitor.cli.events_cmd import check_kind
    from monitor.report.exports import EventFormat, export_events
    from monitor.store.events import filter_events, load_events

    check_kind(kind)
    events = filter_events(
        load_events(settings.store.path),
        kind=kind,
        since=filters.since,
        until=filters.until,
        port_id=filters.port_id,
        mmsi=filters.mmsi,
    )
    return export_events(events, cast(EventFormat, fmt), output)


def _gaps(
    settings: Settings, filters: Filters, fmt: str, output: Path | None, every: bool
) -> str | None:
    import polars as pl

    from monitor.analyse.behaviour import gaps_of
    from monitor.report.exports import EventFormat, export_gaps

    gaps = gaps_of(_filtered_events(settings, filters, "gap"))
    if not every:
        gaps = gaps.filter(pl.col("cause") == "dark")
    return export_gaps(gaps, cast(EventFormat, fmt), output)


def _encounters(settings: Settings, filters: Filters, fmt: str, output: Path | None) -> str | None:
    from monitor.analyse.behaviour import encounters_of
    from monitor.report.exports import EventFormat, export_encounters

    encounters = encounters_of(_filtered_events(settings, filters, "encounter"))
    return export_encounters(encounters, cast(EventFormat, fmt), output)


def _filtered_events(settings: Settings, filters: Filters, kind: str) -> pl.DataFrame:
    from monitor.store.events import filter_events, load_events

    return filter_events(
        load_events(settings.store.path),
        kind=kind,
        since=filters.since,
        until=filters.until,
        port_id=filters.port_id,
        mmsi=filters.mmsi,
    )


def _library_format(help_text: str) -> Callable[[Any], Any]:
    # The library checks the name: its list of formats is not imported for --help.
    return click.option(
        "--format", "fmt", default="csv", show_default=True, metavar="FORMAT", help=help_text
    )


_export_command(
    "calls",
    _library_format("Output format: csv, parquet, geojson or kml."),
    "Export the detected port calls (the columns of the calls table).",
    _calls,
)
_export_command(
    "transits",
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["csv", "parquet", "json"]),
        default="csv",
        show_default=True,
        help="Output format.",
    ),
    "Export the transits: passes through a port's zones without a stop, shorter than "
    "detect.min_stay_h (mmsi, port_id, arrival_utc, departure_utc, duration_h, n_positions).",
    _transits,
)
_export_command(
    "positions",
    _library_format(
        "csv or parquet: one row per position; geojson or kml: one track (line) per vessel."
    ),
    "Export positions: one vessel's track (--mmsi) or a period's (--since/--until).\n\n"
    "--port keeps the positions during calls at that port (arrival to departure).",
    _positions,
)

_export_command(
    "events",
    _library_format("Output format: csv, parquet or geojson."),
    "Export the detected events (the columns of the events table).\n\n"
    "--port keeps the events near that port, --mmsi those of that vessel (as the vessel or the "
    "other vessel), --since/--until those under way in the period.",
    _events,
    extra=[
        click.option(
            "--kind",
            default=None,
            metavar="KIND",
            help="Only events of this kind (shared_mmsi, position_jump, identity_change, "
            "imo_reuse, invalid_mmsi, gap, encounter, loitering).",
        )
    ],
)
_export_command(
    "gaps",
    _library_format(
        "Output format: csv, parquet or geojson (a line from where each silence "
        "began to where it ended)."
    ),
    "Export the dark periods: the silences whose cause is dark (with --all, every silence and "
    "its cause).\n\n"
    "--port keeps those near that port, --mmsi those of that vessel, --since/--until those "
    "under way in the period.",
    _gaps,
    extra=[
        click.option(
            "--all",
            "every",
            is_flag=True,
            help="Every silence, whatever its cause (dark, coverage, outage, range).",
        )
    ],
)
_export_command(
    "encounters",
    _library_format("Output format: csv, parquet or geojson (a point where each pair met)."),
    "Export the ship-to-ship encounters.\n\n"
    "--port keeps those near that port, --mmsi those of that vessel (either of the two), "
    "--since/--until those under way in the period.",
    _encounters,
)

COMMANDS: list[click.Command] = [export_group]
