"""``monitor ingest``."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.compile_cmd import announce_compile
from monitor.cli.options import DATE_FORMS, UtcTime, config_option, resolve_settings, store_option
from monitor.cli.output import Column, output_width, plain, table_lines
from monitor.core.terminal import terminal_text

if TYPE_CHECKING:
    from monitor.pipeline.ingest import IngestSummary

#: Above this many inputs the summary gives counts per status instead of a line per input.
MAX_LISTED_INPUTS = 50


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1]))


#: How the headline names inputs that were not read, by status.
_NOT_READ = {
    "unchanged": "unchanged (already read)",
    "empty": "empty",
    "error": "could not be read",
}

INPUT_COLUMNS = (
    Column("input", "input"),
    Column("status", "status"),
    Column("format", "format", drop=3),
    Column("messages", "messages", right=True),
    Column("positions", "positions", right=True, drop=1),
    Column("decoded", "decoded", right=True, drop=2),
)


def _inputs(n: int) -> str:
    return "1 input" if n == 1 else f"{n:,} inputs"


def _headline(summary: IngestSummary) -> str:
    """Return what the run did in one sentence: how many inputs were read and why not the rest."""
    statuses = summary.statuses
    others = ", ".join(
        f"{statuses[status]:,} {_NOT_READ[status].split(' (')[0]}"
        for status in _NOT_READ
        if statuses[status]
    )
    took = f"in {summary.elapsed_s:.1f} s"
    if summary.n_read == 0:
        only = next(iter(statuses)) if len(statuses) == 1 else ""
        why = _NOT_READ.get(only, f"({others})")
        return f"Nothing ingested into {summary.store}: {_inputs(len(summary.files))} {why}"
    if summary.n_read == len(summary.files):
        read = summary.files[0].input if len(summary.files) == 1 else _inputs(summary.n_read)
        return f"Ingested {read} into {summary.store} {took}"
    return (
        f"Ingested {summary.n_read:,} of {_inputs(len(summary.files))} into {summary.store} "
        f"{took} ({others})"
    )


def _print(summary: IngestSummary) -> None:
    click.echo(_headline(summary))
    if summary.n_read:
        span = "-"
        if summary.first_utc and summary.last_utc:
            span = (
                f"{summary.first_utc:%Y-%m-%d %H:%M:%S} to {summary.last_utc:%Y-%m-%d %H:%M:%S} UTC"
            )
        rejected = summary.rejected
        lines = [
            f"  lines            {summary.n_lines:>12,}",
            f"  messages         {summary.n_messages:>12,}  ({summary.messages_per_s:,.0f} msg/s)",
            f"  positions stored {summary.n_positions:>12,}",
            f"  static reports   {summary.n_statics:>12,}",
        ]
        if summary.n_duplicates:
            why = (
                "received more than once in these inputs, stored once"
                if summary.store_was_empty
                else "received more than once or already in the store, not stored again"
            )
            lines.append(f"  duplicates       {summary.n_duplicates:>12,}  ({why})")
        lines += [
            f"  rejected         {sum(rejected.values()):>12,}  {_counts(dict(rejected))}".rstrip(),
            f"  time sources     {_counts(dict(summary.time_sources)) or '-'}",
            f"  time span        {span}",
            f"  vessels          {summary.n_vessels:>12,}",
        ]
        click.echo("\n".join(lines))
    if len(summary.files) <= MAX_LISTED_INPUTS:
        rows = []
        for item in summary.files:
            share = item.decoded_share
            rows.append(
                [
                    plain(item.input),
                    item.status,
                    item.format or "-",
                    f"{item.n_messages:,}",
                    f"{item.n_positions:,}",
                    f"{share:.1%}" if share is not None else "-",
                ]
            )
        click.echo()
        for line in table_lines(rows, INPUT_COLUMNS, output_width()):
            click.echo(line)
    else:
        click.echo(f"  inputs           {_counts(dict(summary.statuses))} (--json lists each)")
    for error in summary.errors:
        click.echo(f"error: {terminal_text(error, keep_newlines=True)}", err=True)


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
