"""``monitor ingest``."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from monitor.cli.compile_cmd import announce_compile
from monitor.cli.options import DATE_FORMS, UtcTime, config_option, resolve_settings, store_option

if TYPE_CHECKING:
    from monitor.pipeline.ingest import IngestSummary

#: Above this many inputs the summary gives counts per status instead of a line per input.
MAX_LISTED_INPUTS = 50


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1]))


def _print(summary: IngestSummary) -> None:
    span = "-"
    if summary.first_utc and summary.last_utc:
        span = f"{summary.first_utc:%Y-%m-%d %H:%M:%S} to {summary.last_utc:%Y-%m-%d %H:%M:%S} UTC"
    rejected = summary.rejected
    lines = [
        f"Ingested {len(summary.files)} input(s) into {summary.store} in {summary.elapsed_s:.1f} s",
        f"  lines            {summary.n_lines:>12,}",
        f"  messages         {summary.n_messages:>12,}  ({summary.messages_per_s:,.0f} msg/s)",
        f"  positions stored {summary.n_positions:>12,}",
        f"  static reports   {summary.n_statics:>12,}",
        f"  duplicates       {summary.n_duplicates:>12,}  (already in the store, not stored again)",
        f"  rejected         {sum(rejected.values()):>12,}  {_counts(dict(rejected))}".rstrip(),
        f"  time sources     {_counts(dict(summary.time_sources)) or '-'}",
        f"  time span        {span}",
        f"  vessels          {summary.n_vessels:>12,}",
    ]
    click.echo("\n".join(lines))
    if 1 < len(summary.files) <= MAX_LISTED_INPUTS:
        table = Table(box=None, padding=(0, 2), pad_edge=False)
        for name in ("input", "status", "format", "messages", "positions", "decoded"):
            table.add_column(name, justify="left" if name in ("input", "status") else "right")
        for item in summary.files:
            share = item.decoded_share
            table.add_row(
                item.input,
                item.status,
                item.format or "-",
                f"{item.n_messages:,}",
                f"{item.n_positions:,}",
                f"{share:.1%}" if share is not None else "-",
            )
        click.echo()
        Console(width=200, highlight=False, soft_wrap=True).print(table)
    elif len(summary.files) > MAX_LISTED_INPUTS:
        statuses = Counter(f.status for f in summary.files)
        click.echo(f"  inputs           {_counts(dict(statuses))} (--json lists each)")
    for error in summary.errors:
        click.echo(f"error: {error}", err=True)


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@store_option
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "nmea", "csv"]),
    default="auto",
    show_default=True,
    help="Input format; auto tells NMEA from CSV by content.",
)
@click.option(
    "--csv-columns",
    default=None,
    metavar="FIELD=COLUMN,...",
    help="Column mapping for a CSV that is neither MarineCadastre nor DMA, e.g. "
    "mmsi=ID,timestamp=time,lat=y,lon=x (overrides [ingest.csv_columns]).",
)
@click.option(
    "--fallback-time",
    type=UtcTime(),
    default=None,
    help=f"Time given to NMEA sentences that carry no time at all ({DATE_FORMS}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[str, ...],
    store: Path | None,
    config: Path | None,
    fmt: str,
    csv_columns: str | None,
    fallback_time: datetime | None,
    as_json: bool,
) -> None:
    """Read AIS NMEA or CSV files (plain, .gz, .bz2; folders, globs, - for stdin) into the store.

    Inputs already read are skipped, grown files are read on from where they stopped, and
    messages already stored are not stored again. Exits 1 when an input could not be read or
    had no time source (the other inputs are still ingested).
    """
    from monitor.decode.csv.dialects import parse_column_mapping
    from monitor.pipeline.ingest import ingest_paths

    settings = resolve_settings(ctx, config, store)
    if csv_columns is not None:
        mapping = parse_column_mapping(csv_columns)
        settings = settings.model_copy(
            update={"ingest": settings.ingest.model_copy(update={"csv_columns": mapping})}
        )
    announce_compile()
    summary = ingest_paths(
        paths, settings, fmt=fmt, progress=sys.stderr.isatty(), fallback_time_utc=fallback_time
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
    else:
        _print(summary)
    if summary.errors:
        ctx.exit(1)


COMMANDS: list[click.Command] = [ingest]
