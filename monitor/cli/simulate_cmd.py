"""``monitor simulate``: simulated AIS traffic at the configured ports, with its ground truth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from monitor.cli.options import DATE_FORMS, UtcTime, config_option, days_option, resolve_settings
from monitor.cli.output import make_console

if TYPE_CHECKING:
    from rich.console import Console


@click.command("simulate")
@config_option
@days_option
@click.option(
    "--vessels", type=click.IntRange(min=1), default=80, show_default=True, help="Fleet size."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same files.")
@click.option(
    "--start",
    "start",
    type=UtcTime(),
    default=None,
    help=f"First day, default 2024-03-04 ({DATE_FORMS}).",
)
@click.option(
    "--scenario",
    default="default",
    show_default=True,
    metavar="NAME",
    help="default: realistic noise; clean: no noise or dark vessels; noisy: more feed damage; "
    "dark: many silences; busy: more traffic and faster reports; hard: shared MMSIs, displaced "
    "bursts, satellite-only reception at sea, receiver outages, clock steps; harbour: ferries, "
    "crew boats, berths reached unheard, noisy SOG, long silences in port.",
)
@click.option(
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder that receives nmea/ and truth/ (required unless --serve).",
)
@click.option(
    "--serve",
    "serve",
    default=None,
    metavar="HOST:PORT",
    help="Then serve the NMEA over TCP on this address (127.0.0.1 unless a host is given), as "
    "a live receiver would, to the first client that connects and any later one.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="With --serve: simulated seconds per real second (0: as fast as clients read).",
)
@click.pass_context
def simulate_command(
    ctx: click.Context,
    config: Path | None,
    days: float,
    vessels: int,
    seed: int,
    start: datetime | None,
    scenario: str,
    output: Path | None,
    serve: str | None,
    speed: float,
) -> None:
    """Simulate AIS traffic at the configured ports: raw NMEA plus ground-truth CSVs; with
    --serve, then replay the NMEA over TCP as a live feed.

    Without a config (here or global) the shipped Korea config is used.
    """
    import tempfile

    from monitor.config import shipped_config_path
    from monitor.simulate import simulate

    if output is None and serve is None:
        raise click.UsageError("give --output DIR (or --serve HOST:PORT to replay over TCP)")
    if output is None:
        output = Path(tempfile.mkdtemp(prefix="monitor-simulate-"))
    settings = resolve_settings(ctx, config, default_config=shipped_config_path("korea"))
    result = simulate(
        settings,
        days=days,
        vessels=vessels,
        seed=seed,
        output=output,
        start=start,
        params=scenario,
    )
    console = make_console()
    console.print(
        f"Simulated {result.n_vessels} vessels from {result.start:%Y-%m-%d %H:%M} to "
        f"{result.end:%Y-%m-%d %H:%M} UTC: {result.n_lines:,} NMEA lines "
        f"({result.n_position_reports:,} position and {result.n_static_reports:,} static reports)."
    )
    console.print(
        f"Truth: {result.n_calls} port calls, {result.n_transits} transits, "
        f"{result.n_silences} silences, {result.n_meetings} meetings at sea."
    )
    noise = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result.noise.items() if v)
    if noise:
        console.print(f"Noise: {noise}.")
    console.print(f"NMEA:  {escape(str(result.nmea_paths[0].parent))}")
    console.print(f"Truth: {escape(str(result.truth_paths['calls'].parent))}")
    if serve is not None:
        _serve(result.nmea_paths, serve, speed, console)


def _serve(paths: list[Path], address: str, speed: float, console: Console) -> None:
    from monitor.simulate.serve import LineServer, read_lines

    server = LineServer(address)
    pace = f"{speed:g} times real time" if speed else "as fast as clients read"
    console.print(f"Serving on {server.address}, {pace}; waiting for a client (Ctrl-C stops).")
    try:
        summary = server.replay(read_lines(paths), speed)
    except KeyboardInterrupt:
        summary = server.summary
    finally:
        server.close()
    console.print(
        f"Served {summary.n_lines:,} lines to {summary.n_clients} client(s) in "
        f"{summary.seconds:,.0f} s ({summary.n_dropped:,} dropped for slow clients)."
    )


COMMANDS: list[click.Command] = [simulate_command]
