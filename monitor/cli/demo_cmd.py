"""``monitor demo``: simulate, ingest, detect and report a week at the shipped Korea ports."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from monitor.cli.compile_cmd import announce_compile
from monitor.cli.options import days_option
from monitor.cli.output import make_console


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

    announce_compile()
    console = make_console()
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


COMMANDS: list[click.Command] = [demo_command]
