"""Command ``alerts``: the alerts the service sent and those still pending, per sink."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from monitor.cli.options import DATE_FORMS, UtcTime, config_option, resolve_settings, store_option
from monitor.cli.output import make_console, markup_text


@click.command("alerts")
@config_option
@store_option
@click.option(
    "--since",
    type=UtcTime(),
    default=None,
    help=f"Only alerts of events at or after this time ({DATE_FORMS}).",
)
@click.option("--pending", "pending_only", is_flag=True, help="Only alerts not sent yet.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@click.pass_context
def alerts_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    since: datetime | None,
    pending_only: bool,
    as_json: bool,
) -> None:
    """List the alerts in the outbox: sent (when) and pending (attempts, last error)."""
    from monitor.alerts.outbox import Outbox

    settings = resolve_settings(ctx, config, store)
    entries = Outbox(settings.store.path).entries(since)
    if pending_only:
        entries = [e for e in entries if e.sent_utc is None]
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.to_dict(), ensure_ascii=False))
        return
    console = make_console()
    if not entries:
        console.print("No alerts" + (f" since {since:%Y-%m-%d %H:%M} UTC" if since else "") + ".")
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
            markup_text(f"{alert['rule']} ({alert['when']})"),
            markup_text(alert.get("vessel_name") or "?"),
            str(alert.get("mmsi")),
            markup_text(alert.get("port_name") or alert.get("port_id") or ""),
            markup_text(entry.sink),
            markup_text(state),
        )
    console.print(table)


COMMANDS: list[click.Command] = [alerts_command]
