"""Command ``alerts``: the alerts the service sent and those still pending, per sink."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from monitor.cli import config_option, resolve_settings, store_option


@click.command("alerts")
@config_option
@store_option
@click.option("--since", default=None, help="Only alerts of events at or after this UTC date.")
@click.option("--pending", "pending_only", is_flag=True, help="Only alerts not sent yet.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@click.pass_context
def alerts_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    since: str | None,
    pending_only: bool,
    as_json: bool,
) -> None:
    """List the alerts in the outbox: sent (when) and pending (attempts, last error)."""
    from monitor.alerts.outbox import Outbox
    from monitor.core.times import parse_when

    settings = resolve_settings(ctx, config, store)
    since_utc = parse_when(since, option="--since") if since else None
    entries = Outbox(settings.store.path).entries(since_utc)
    if pending_only:
        entries = [e for e in entries if e.sent_utc is None]
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.to_dict(), ensure_ascii=False))
        return
    console = Console(highlight=False, soft_wrap=True)
    if not entries:
        console.print("No alerts" + (" since " + escape(since) if since else "") + ".")
        return
    n_pending = sum(1 for e in entries if e.sent_utc is None)
    table = Table(title=f"{len(entries)} alert(s), {n_pending} pending")
    for column in ("event (UTC)", "rule", "vessel", "MMSI", "port", "sink", "state"):
        table.add_column(column)
    for entry in entries:
        alert = entry.payload
        if entry.sent_utc:
            state = f"sent {entry.sent_utc[:19].replace('T', ' ')}"
        else:
            state = f"pending ({entry.attempts} attempt(s)"
            state += f": {entry.last_error})" if entry.last_error else ")"
        table.add_row(
            entry.event_utc.replace("T", " ").removesuffix("Z"),
            escape(f"{alert['rule']} ({alert['when']})"),
            escape(alert.get("vessel_name") or "?"),
            str(alert.get("mmsi")),
            escape(alert.get("port_name") or alert.get("port_id") or ""),
            escape(entry.sink),
            escape(state),
        )
    console.print(table)


COMMANDS: list[click.Command] = [alerts_command]
