"""Commands ``serve`` (the unattended service) and ``status`` (what it is doing)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from monitor.cli.options import config_option, resolve_settings, store_option
from monitor.cli.output import make_console, markup_text


@click.command("serve")
@config_option
@click.option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="Log lines on standard error as text or as one JSON object each.",
)
@click.pass_context
def serve_command(ctx: click.Context, config: Path | None, log_format: str) -> None:
    """Run the service: read the feeds of [service], archive, ingest, detect, alert, report.

    Runs until SIGTERM or SIGINT (Ctrl-C), which stop it cleanly; a second signal exits at once.
    """
    from monitor.service.runner import serve

    settings = resolve_settings(ctx, config)
    serve(settings, "json" if log_format == "json" else "plain")


def _ago(iso: str | None, now: dt.datetime) -> str:
    if not iso:
        return "-"
    when = dt.datetime.fromisoformat(iso)
    seconds = (now - when).total_seconds()
    text = f"{when:%Y-%m-%d %H:%M:%S}"
    if abs(seconds) < 48 * 3600:
        text += f" ({_duration(abs(seconds))} {'ago' if seconds >= 0 else 'from now'})"
    return text


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _jobs_table(jobs: list[dict[str, Any]], now: dt.datetime) -> Table:
    table = Table(title="Jobs (UTC)")
    for column in ("job", "last run", "took", "outcome", "counts", "next run"):
        table.add_column(column)
    for job in jobs:
        last = job["last"] or {}
        counts = last.get("counts") or {}
        shown = ", ".join(
            f"{k} {v}"
            for k, v in counts.items()
            if k != "seconds" and isinstance(v, int | float) and v
        )
        outcome = last.get("outcome", "-")
        if last.get("error"):
            outcome += f": {last['error']}"
        took = last.get("duration_s")
        table.add_row(
            markup_text(job["job"]),
            _ago(last.get("started_utc"), now),
            f"{took:.1f} s" if took is not None else "-",
            markup_text(outcome),
            markup_text(shown),
            _ago(job.get("next_run_utc"), now),
        )
    return table


def _feeds_table(feeds: list[dict[str, Any]], now: dt.datetime) -> Table:
    table = Table(title="Feeds")
    for column in ("feed", "type", "state", "since", "last minute", "total", "dropped", "error"):
        table.add_column(column)
    for feed in feeds:
        since = feed.get("connected_since")
        since_iso = dt.datetime.fromtimestamp(since, dt.UTC).isoformat() if since else None
        unit = "files" if feed["type"] == "inbox" else "lines"
        dropped = ", ".join(f"{k} {v}" for k, v in (feed.get("dropped") or {}).items())
        table.add_row(
            markup_text(feed["name"]),
            feed["type"],
            feed["state"],
            _ago(since_iso, now),
            f"{feed['lines_last_minute']:,} {unit}",
            f"{feed['lines_total']:,}",
            markup_text(dropped or "-"),
            markup_text(feed.get("last_error") or "-"),
        )
    return table


@click.command("status")
@config_option
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def status_command(
    ctx: click.Context, config: Path | None, store: Path | None, as_json: bool
) -> None:
    """Show the service: jobs' last and next runs, data lag, positions today, vessels in port,
    feeds."""
    from monitor.service.status import service_status

    settings = resolve_settings(ctx, config, store)
    now = dt.datetime.now(dt.UTC)
    status = service_status(settings, now)
    if as_json:
        click.echo(json.dumps(status, indent=1, default=str))
        return
    console = make_console()
    service = status["service"]
    line = f"service: {markup_text(service['state'])}"
    if service.get("pid") and service["state"] == "running":
        line += f" (pid {service['pid']}, since {_ago(service.get('started_utc'), now)})"
    console.print(line)
    console.print(f"store:   {markup_text(status['store'])}")
    data = status["data"]
    if data is None:
        console.print("data:    no store yet")
    else:
        lag = data["lag_s"]
        console.print(
            f"data:    newest message {_ago(data['newest_message_utc'], now)}"
            + (f", lag {_duration(lag)}" if lag is not None else "")
        )
        console.print(f"         {data['positions_today']:,} positions today (UTC)")
        per_port = ", ".join(f"{k} {v}" for k, v in data["in_port_per_port"].items())
        console.print(
            f"         {data['vessels_in_port']} vessel(s) in port now"
            + (f" ({markup_text(per_port)})" if per_port else "")
        )
    archive = service.get("archive")
    if archive:
        console.print(
            f"archive: {markup_text(archive['root'])}: {archive['lines_written']:,} lines written, "
            f"{archive['lines_dropped']:,} dropped, {archive['lines_queued']:,} queued"
            + (f"; error: {markup_text(archive['error'])}" if archive.get("error") else "")
        )
    if status["jobs"]:
        console.print(_jobs_table(status["jobs"], now))
    if status["feeds"]:
        console.print(_feeds_table(status["feeds"], now))


COMMANDS: list[click.Command] = [serve_command, status_command]
