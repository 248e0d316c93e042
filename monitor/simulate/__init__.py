"""A realistic AIS simulator: raw NMEA for the configured ports plus the ground truth behind it.

``simulate`` plans voyages (``voyages``), moves the ships (``tracks``), decides what they transmit
(``reports``), damages the feed (``noise``), encodes it (``nmea_writer``) and writes the truth
(``truth``). Everything is drawn from one seeded numpy Generator: one seed, the same files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from monitor.analyse.geofences import load_zones
from monitor.config import Settings
from monitor.core.atomic import atomic_write_bytes
from monitor.core.safe_csv import write_csv
from monitor.core.times import ISO_UTC_US_FORMAT, as_utc
from monitor.errors import ConfigError
from monitor.schema import BURSTS_TRUTH_SCHEMA, CLOCK_TRUTH_SCHEMA, OUTAGES_TRUTH_SCHEMA
from monitor.simulate.nmea_writer import report_lines, tagged_lines
from monitor.simulate.noise import (
    add_duplicates,
    corrupt,
    damage_positions,
    delay_lines,
    displace_bursts,
)
from monitor.simulate.params import PRESETS, NoiseParams, SimulationParams
from monitor.simulate.ports import build_ports, projection_for
from monitor.simulate.reception import hear, shift_clock
from monitor.simulate.seaways import KOREA_SEAS
from monitor.simulate.transmissions import position_reports, static_reports
from monitor.simulate.truth import build_truth, truth_frame
from monitor.simulate.voyages import plan_simulation

__all__ = ["PRESETS", "NoiseParams", "SimulationParams", "SimulationResult", "simulate"]

log = logging.getLogger(__name__)

#: Default first day of a simulation: fixed so that runs are reproducible.
DEFAULT_START = datetime(2024, 3, 4, tzinfo=UTC)


@dataclass(frozen=True)
class SimulationResult:
    """What ``simulate`` wrote and how much of it."""

    nmea_paths: list[Path]
    truth_paths: dict[str, Path]
    start: datetime
    end: datetime
    n_vessels: int
    n_lines: int
    n_position_reports: int
    n_static_reports: int
    n_calls: int
    n_transits: int
    n_silences: int
    n_meetings: int
    noise: dict[str, int] = field(default_factory=dict)


def _resolve_params(params: SimulationParams | str | None) -> SimulationParams:
    if params is None:
        return PRESETS["default"]
    if isinstance(params, str):
        if params not in PRESETS:
            raise ConfigError(
                f"unknown scenario {params!r}; choose one of {', '.join(sorted(PRESETS))}"
            )
        return PRESETS[params]
    return params


def simulate(
    settings: Settings,
    *,
    days: float = 7.0,
    vessels: int = 80,
    seed: int = 0,
    output: Path,
    start: datetime | None = None,
    params: SimulationParams | str | None = None,
) -> SimulationResult:
    """Return what was written after simulating ``vessels`` ships for ``days`` into ``output``.

    ``output/nmea/YYYY-MM-DD.nmea`` receive tag-blocked NMEA (``\\s:<rx>,c:<epoch>*hh\\!AIVDM...``;
    receiver ``rx1`` hears everything unless the scenario limits coverage) and
    ``output/truth/*.csv`` the port calls, transits, silences, meetings and vessels behind it.
    """
    if days <= 0:
        raise ConfigError(f"--days must be positive (got {days})")
    if vessels < 1:
        raise ConfigError(f"--vessels must be at least 1 (got {vessels})")
    scenario = _resolve_params(params)
    start = as_utc(start or DEFAULT_START)
    end = start + timedelta(days=days)
    rng = np.random.default_rng(seed)
    zones = load_zones(settings)
    projection = projection_for(zones)
    ports = build_ports(zones, projection)
    plan = plan_simulation(
        ports, KOREA_SEAS, projection, scenario, vessels=vessels,
        start_s=start.timestamp(), end_s=end.timestamp(), rng=rng,
    )  # fmt: skip
    truth = build_truth(plan)
    positions = position_reports(plan, scenario, rng)
    shared = {int(m) for m in truth.identity.filter(pl.col("kind") == "shared_mmsi")["mmsi"]}
    bursts = displace_bursts(positions, scenario.bursts_per_vessel_day, days, shared, rng)
    heard = hear(positions, plan, scenario.reception, rng)
    for burst in bursts:
        burst["n_heard"] = heard.count(np.asarray(burst.pop("rows"), dtype=np.int64))
    positions = heard.positions()
    n_outliers, n_blank = damage_positions(positions, scenario.noise, rng)
    statics, static_receivers = heard.statics(static_reports(plan, scenario, rng))

    lines = report_lines(positions, statics, rng, heard.receivers() + static_receivers)
    n_clean = len(lines)
    lines = add_duplicates(lines, scenario.noise.duplicate_rate, rng)
    n_late = delay_lines(lines, scenario.noise.late_rate, rng)
    steps = shift_clock(lines, scenario.reception, plan.start_s, plan.end_s, rng, n_first=n_clean)
    order = np.lexsort((np.arange(len(lines)), lines.order_s))
    lines = lines.take(order)
    text = tagged_lines(lines.body, lines.receiver, lines.t_s)
    n_bad, n_cut = corrupt(text, scenario.noise, rng)
    nmea_paths = _write_days(text, lines.order_s, output / "nmea")
    truth_dir = output / "truth"
    tables = {
        "calls": truth.calls,
        "transits": truth.transits,
        "silences": truth.silences,
        "meetings": truth.meetings,
        "vessels": truth.vessels,
        "identity": truth.identity,
        "bursts": truth_frame(bursts, BURSTS_TRUTH_SCHEMA),
        "outages": truth_frame(heard.outages, OUTAGES_TRUTH_SCHEMA),
        "clock": truth_frame(steps, CLOCK_TRUTH_SCHEMA),
    }
    truth_paths = {name: truth_dir / f"{name}.csv" for name in tables}
    for name, path in truth_paths.items():
        write_csv(tables[name], path, datetime_format=ISO_UTC_US_FORMAT)
    log.info("simulated %d vessels, %d lines into %s", vessels, len(text), output)
    return SimulationResult(
        nmea_paths=nmea_paths,
        truth_paths=truth_paths,
        start=start,
        end=end,
        n_vessels=len(plan.vessels),
        n_lines=len(text),
        n_position_reports=len(positions),
        n_static_reports=len(statics),
        n_calls=truth.calls.height,
        n_transits=truth.transits.height,
        n_silences=truth.silences.height,
        n_meetings=truth.meetings.height,
        noise={
            "outliers": n_outliers,
            "not_available": n_blank,
            "duplicates": len(text) - n_clean,
            "late": n_late,
            "bad_checksum": n_bad,
            "truncated": n_cut,
            "bursts": len(bursts),
            "not_heard": len(heard.sent) - len(positions),
            "receiver_outages": len(heard.outages),
            "clock_steps": len(steps),
        },
    )


def _write_days(lines: list[bytes], order_s: np.ndarray, folder: Path) -> list[Path]:
    """Write one file per UTC day of file order; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    day = (order_s // 86400).astype(np.int64)
    paths: list[Path] = []
    for value in np.unique(day).tolist():
        index = np.flatnonzero(day == value)
        name = datetime.fromtimestamp(value * 86400, tz=UTC).strftime("%Y-%m-%d")
        path = folder / f"{name}.nmea"
        atomic_write_bytes(path, b"".join(lines[i] + b"\n" for i in index.tolist()))
        paths.append(path)
    # Day files of an earlier, longer run in the same folder would mix two simulations.
    for stale in sorted(set(folder.glob("????-??-??.nmea")) - set(paths)):
        log.info("removing %s from an earlier simulation", stale)
        stale.unlink()
    return paths
