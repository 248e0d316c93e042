"""Commands ``simulate`` and ``demo``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from monitor.cli import config_option, resolve_settings
from monitor.config import load_config, shipped_config_path
from monitor.core.times import parse_when
from monitor.simulate import PRESETS, simulate

days_option = click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=7.0,
    show_default=True,
    help="Length of the simulated period.",
)


@click.command("simulate")
@config_option
@days_option
@click.option(
    "--vessels", type=click.IntRange(min=1), default=80, show_default=True, help="Fleet size."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same files.")
@click.option("--start", "start", default=None, help="First day (UTC), default 2024-03-04.")
@click.option(
    "--scenario",
    type=click.Choice(sorted(PRESETS)),
    default="default",
    show_default=True,
    help="clean: no noise or dark vessels; noisy: more feed damage; dark: many silences; "
    "busy: more traffic and faster reports; hard: shared MMSIs, displaced bursts, satellite-only "
    "reception at sea, receiver outages, clock steps.",
)
@click.option(
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder that receives nmea/ and truth/.",
)
@click.pass_context
def simulate_command(
    ctx: click.Context,
    config: Path | None,
    days: float,
    vessels: int,
    seed: int,
    start: str | None,
    scenario: str,
    output: Path,
) -> None:
    """Simulate AIS traffic at the configured ports: raw NMEA plus ground-truth CSVs.

    Without a config (here or global) the shipped Korea config is used.
    """
    settings = resolve_settings(ctx, config)
    if not settings.geofences.files and not settings.geofences.circles:
        settings = load_config(shipped_config_path("korea"))
    result = simulate(
        settings,
        days=days,
        vessels=vessels,
        seed=seed,
        output=output,
        start=parse_when(start, option="--start") if start else None,
        params=scenario,
    )
    console = Console()
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


@click.command("demo")
@click.option(
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="The only folder the demo writes to.",
)
@days_option
@click.option(
    "--vessels", type=click.IntRange(min=2), default=80, show_default=True, help="Fleet size."
)
def demo_command(output: Path, days: float, vessels: int) -> None:
    """Simulate a week at the shipped Korea ports, ingest, detect calls and write a map report."""
    from monitor.pipeline.demo import run_demo

    console = Console()
    with console.status("Simulating, ingesting, detecting, reporting..."):
        summary = run_demo(output, days=days, vessels=vessels)
    sim = summary.simulation
    console.print(
        f"{sim.n_vessels} vessels, {sim.start:%Y-%m-%d} to {sim.end:%Y-%m-%d} UTC: "
        f"{sim.n_lines:,} NMEA lines, {summary.n_positions:,} positions stored."
    )
    table = Table(title=f"{summary.n_calls} port calls detected")
    table.add_column("port")
    table.add_column("calls", justify="right")
    for port, count in summary.calls_per_port.items():
        table.add_row(escape(port), str(count))
    console.print(table)
    console.print(
        f"Dark arrivals (AIS back on inside the port): {summary.dark_arrivals} detected, "
        f"{summary.true_dark_arrivals} simulated."
    )
    took = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
    console.print(f"Took {took}.")
    console.print(f"Report: {escape(str(summary.report))}")


COMMANDS: list[click.Command] = [simulate_command, demo_command]
