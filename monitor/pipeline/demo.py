"""The demo: a simulated week at the shipped Korea ports, ingested, detected and reported.

Everything is written under one output folder: ``sim/`` (NMEA and ground truth), ``store/`` and
``reports/``. The same output folder gives the same result on every run (fixed seed and start).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import polars as pl

from monitor.config import Settings, load_config, shipped_config_path
from monitor.errors import ConfigError
from monitor.schema import CALLS_TRUTH_SCHEMA
from monitor.simulate import PRESETS, SimulationResult, simulate
from monitor.simulate.truth import read_truth_csv

log = logging.getLogger(__name__)

#: Static reports every 30 min rather than 6: the demo stays well under a minute on two cores.
DEMO_PARAMS = replace(PRESETS["default"], static_s=1800.0)
DEMO_SEED = 2024


@dataclass(frozen=True)
class DemoSummary:
    """What the demo did and found."""

    output: Path
    report: Path
    simulation: SimulationResult
    n_positions: int
    #: Detected calls per port name.
    calls_per_port: dict[str, int]
    #: Detected calls whose arrival was not seen (AIS off until inside), excluding calls already
    #: under way when the data starts.
    dark_arrivals: int
    #: Simulated calls whose arrival was dark, counted the same way.
    true_dark_arrivals: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def n_calls(self) -> int:
        return sum(self.calls_per_port.values())


def demo_settings(output: Path, config: Path | None = None) -> Settings:
    """Return the demo's settings: the shipped Korea config with store and reports in ``output``."""
    settings = load_config(config if config is not None else shipped_config_path("korea"))
    return settings.model_copy(
        update={
            "store": settings.store.model_copy(update={"path": output / "store"}),
            "report": settings.report.model_copy(
                update={"output": output / "reports", "offline": True}
            ),
        }
    )


def run_demo(
    output: Path = Path("demo"),
    *,
    days: float = 7.0,
    vessels: int = 80,
    seed: int = DEMO_SEED,
    config: Path | None = None,
) -> DemoSummary:
    """Return the summary of a demo run (simulate, ingest, detect, report) written to ``output``."""
    from monitor.pipeline.detect import detect_calls
    from monitor.pipeline.ingest import ingest_paths
    from monitor.report import write_report
    from monitor.store.calls import load_calls

    output = Path(output)
    if output.exists() and any(output.iterdir()) and not (output / "sim").is_dir():
        raise ConfigError(
            f"{output}: folder exists and is not a demo folder; choose an empty or new --output"
        )
    # A rerun starts from scratch so that its results are the same as the first run's.
    for part in ("sim", "store", "reports"):
        shutil.rmtree(output / part, ignore_errors=True)
    settings = demo_settings(output, config)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    sim = simulate(
        settings, days=days, vessels=vessels, seed=seed, output=output / "sim", params=DEMO_PARAMS
    )
    seconds["simulate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ingest = ingest_paths(sim.nmea_paths, settings)
    seconds["ingest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    detect_calls(settings)
    seconds["detect"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = write_report(
        settings, since=sim.start, until=sim.end, output=output / "reports", offline=True
    )
    seconds["report"] = time.perf_counter() - t0

    calls = load_calls(settings.store.path)
    per_port = calls.group_by("port_name").len().sort("len", "port_name", descending=[True, False])
    grace = sim.start + timedelta(hours=settings.detect.max_gap_h)
    dark = calls.filter(~pl.col("arrival_observed") & (pl.col("arrival_utc") > grace)).height
    truth = read_truth_csv(sim.truth_paths["calls"], CALLS_TRUTH_SCHEMA)
    true_dark = truth.filter(
        ~pl.col("arrival_observable") & (pl.col("arrival_utc") > grace) & (pl.col("visible_h") > 0)
    )
    log.info("demo written to %s", output)
    return DemoSummary(
        output=output,
        report=report,
        simulation=sim,
        n_positions=ingest.n_positions,
        calls_per_port=dict(zip(per_port["port_name"], per_port["len"], strict=True)),
        dark_arrivals=dark,
        true_dark_arrivals=true_dark.height,
        seconds=seconds,
    )
