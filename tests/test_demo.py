"""The demo end to end (small), the simulate and demo commands."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from simulate_fixtures import write_config

from monitor.cli import main
from monitor.pipeline.demo import run_demo


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


def test_small_demo_runs_end_to_end_and_writes_only_under_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    summary = run_demo(tmp_path / "out", days=1.5, vessels=12, config=config)
    assert _files(work) == set()
    assert summary.report.is_file()
    assert summary.report.is_relative_to(tmp_path / "out")
    html = summary.report.read_text(encoding="utf-8")
    assert "<IMG SRC=X ONERROR=" not in html and "<SCRIPT>ALERT(1)" not in html
    names = pl.read_csv(summary.simulation.truth_paths["vessels"])["vessel_name"].to_list()
    assert any(name in html for name in names if name.replace(" ", "").isalnum())
    assert summary.n_calls > 0
    assert set(summary.calls_per_port) <= {"Nampo", "Rajin", "Vostochny", "Vladivostok"}
    truth = pl.read_csv(summary.simulation.truth_paths["calls"])
    seen = truth.filter(pl.col("visible_h") >= 1.0)
    # A detector that finds most true calls and few extra ones: loose bounds, the benchmark is
    # where accuracy is measured.
    assert 0.7 * seen.height <= summary.n_calls <= 1.5 * truth.height
    assert summary.n_positions > 0.8 * summary.simulation.n_position_reports
    assert {"simulate", "ingest", "detect", "report"} == set(summary.seconds)


def test_demo_twice_gives_the_same_files(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = run_demo(tmp_path / "a", days=0.5, vessels=6, config=config)
    again = run_demo(tmp_path / "a", days=0.5, vessels=6, config=config)
    assert first.calls_per_port == again.calls_per_port
    nmea = [p.read_bytes() for p in again.simulation.nmea_paths]
    other = run_demo(tmp_path / "b", days=0.5, vessels=6, config=config)
    assert nmea == [p.read_bytes() for p in other.simulation.nmea_paths]


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me", encoding="utf-8")
    result = CliRunner().invoke(main, ["demo", "--output", str(tmp_path), "--days", "0.2"])
    assert result.exit_code == 1
    assert "not a demo folder" in " ".join(result.output.split())
    assert (tmp_path / "precious.txt").read_text(encoding="utf-8") == "keep me"


def test_simulate_command_writes_nmea_and_truth(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    out = tmp_path / "sim"
    args = ["simulate", "--config", str(config), "--days", "0.5", "--vessels", "5"]
    result = CliRunner().invoke(main, [*args, "--seed", "4", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "NMEA lines" in " ".join(result.output.split())
    assert sorted(os.listdir(out / "truth")) == [
        "bursts.csv",
        "calls.csv",
        "clock.csv",
        "identity.csv",
        "meetings.csv",
        "outages.csv",
        "silences.csv",
        "transits.csv",
        "vessels.csv",
    ]
    first = (out / "nmea" / "2024-03-04.nmea").read_text(encoding="ascii").splitlines()[0]
    assert first.startswith("\\s:rx1,c:17095")


def test_simulate_command_rejects_a_bad_start_date(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = CliRunner().invoke(
        main,
        ["simulate", "--config", str(config), "--start", "2024-13-01", "--output", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "--start '2024-13-01': not an ISO 8601 date" in " ".join(result.output.split())
