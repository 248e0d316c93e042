"""``monitor detect``: find port calls in the stored positions and print a summary."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from monitor.cli.options import config_option, resolve_settings, store_option
from monitor.cli.output import make_console, plain


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
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    help="Run vessel buckets in this process (local) or on a Dask cluster; default: [engine].",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT|local:N",
    help="Dask scheduler to run on (implies --engine dask); default: engine.scheduler.",
)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    help="Split vessels into this many buckets; default: from engine.partition_positions.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def detect(
    ctx: click.Context,
    config: Path | None,
    store: Path | str | None,
    geofences: tuple[Path, ...],
    engine: str | None,
    scheduler: str | None,
    partitions: int | None,
    as_json: bool,
) -> None:
    """Detect tracks, port calls and events in the store (vessels with new data are re-run)."""
    from monitor.errors import MonitorError
    from monitor.pipeline.detect import detect_calls

    settings = resolve_settings(ctx, config, store)
    if geofences:
        settings = settings.model_copy(
            update={"geofences": settings.geofences.model_copy(update={"files": list(geofences)})}
        )
    if scheduler is not None and engine == "local":
        raise click.UsageError("--scheduler runs on Dask: drop it or use --engine dask")
    try:
        settings = settings.with_engine(
            kind="dask" if scheduler else engine, scheduler=scheduler, partitions=partitions
        )
    except MonitorError as exc:
        raise click.UsageError(str(exc)) from exc
    summary = detect_calls(settings)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    console = make_console()
    kind = "every vessel re-detected" if summary.full_run else "vessels with new data"
    console.print(
        f"Processed {summary.positions_processed:,} positions of {summary.vessels_processed:,} "
        f"vessels ({kind}; {summary.positions_dropped:,} displaced positions dropped)."
    )
    console.print(
        f"Calls: {summary.calls_total:,} ({summary.calls_new:,} new, {summary.calls_open:,} in "
        f"port now, {summary.calls_unknown:,} unknown: last seen in port, not heard for over "
        f"{settings.detect.max_unheard_h:g} h); transits: {summary.transits_total:,}; visits "
        f"under way: {summary.visits_pending:,}."
    )
    console.print(
        f"Tracks: {summary.tracks_total:,} ({summary.mmsis_several_tracks:,} "
        f"MMSI{'' if summary.mmsis_several_tracks == 1 else 's'} with more than one, "
        f"{summary.mmsis_shared:,} used by two ships at once)."
    )
    per_kind = ", ".join(f"{kind} {n:,}" for kind, n in summary.events_per_kind.items())
    console.print(f"Events: {summary.events_total:,}" + (f" ({per_kind})." if per_kind else "."))
    ports = sorted(set(summary.calls_per_port) | set(summary.transits_per_port))
    if ports:
        table = Table("Port", "Calls", "Transits")
        for port in ports:
            table.add_row(
                escape(plain(port)),
                str(summary.calls_per_port.get(port, 0)),
                str(summary.transits_per_port.get(port, 0)),
            )
        console.print(table)


COMMANDS: list[click.Command] = [detect]
