"""The command line's structure: one date parser for every date option, help without the library."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from fresh_process import python_output

import monitor
from monitor.cli import main
from monitor.cli.options import UtcTime

#: Every option that takes a date, by command path.
DATE_OPTIONS = {
    ("alerts", "--since"),
    ("calls", "--since"),
    ("calls", "--until"),
    ("export calls", "--since"),
    ("export calls", "--until"),
    ("events", "--since"),
    ("events", "--until"),
    ("export events", "--since"),
    ("export events", "--until"),
    ("export encounters", "--since"),
    ("export encounters", "--until"),
    ("export gaps", "--since"),
    ("export gaps", "--until"),
    ("export positions", "--since"),
    ("export positions", "--until"),
    ("export transits", "--since"),
    ("export transits", "--until"),
    ("ingest", "--fallback-time"),
    ("report", "--since"),
    ("report", "--until"),
    ("simulate", "--start"),
}


def commands(
    group: click.Group = main, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Yield (path, command) for every command and group under ``group``, depth first."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def test_every_date_option_uses_the_one_date_parser() -> None:
    found = set()
    for path, command in commands():
        for param in command.params:
            if isinstance(param.type, UtcTime):
                found.add((" ".join(path), max(param.opts, key=len)))
            elif {"--since", "--until", "--start"} & set(param.opts):
                pytest.fail(f"monitor {' '.join(path)} {param.opts}: not parsed by UtcTime")
    assert found == DATE_OPTIONS


@pytest.mark.parametrize(
    "since",
    ["2024-05-01", "20240501", "2024-05-01T06:00", "2024-05-01T06:00Z", "2024-05-01T08:00+02:00"],
)
def test_calls_since_takes_every_form(tmp_path: Path, since: str) -> None:
    result = CliRunner().invoke(main, ["calls", "--store", str(tmp_path), "--since", since])
    assert result.exit_code == 0, result.output
    assert "No calls yet" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["calls", "--since", "May 1"],
        ["report", "--since", "May 1"],
        ["report", "--until", "May 1"],
        ["ingest", "-", "--fallback-time", "May 1"],
    ],
)
def test_a_bad_date_names_the_option_and_the_forms(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--store", str(tmp_path)])
    assert result.exit_code == 1
    option = args[-2]
    assert f"{option} 'May 1': not an ISO 8601 date" in result.output
    assert "YYYY-MM-DDTHH:MM" in result.output


def test_report_period_and_both_bounds_are_refused(tmp_path: Path) -> None:
    args = ["report", "--store", str(tmp_path), "--period", "day"]
    result = CliRunner().invoke(main, [*args, "--since", "2024-05-01", "--until", "2024-05-02"])
    assert result.exit_code == 1
    assert "not all three" in result.output


#: Imports that take from 0.1 to over 1 s each: no help text may wait for them.
HEAVY = ("numba", "numpy", "polars", "pyarrow", "shapely", "folium")

HELP_SCRIPT = f"""
import contextlib, io, json, sys
import click
from monitor.cli import main

def paths(group, path):
    for name, command in group.commands.items():
        yield [*path, name]
        if isinstance(command, click.Group):
            yield from paths(command, [*path, name])

shown = []
for path in [[], *paths(main, [])]:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        main([*path, "--help"], prog_name="monitor", standalone_mode=False)
    assert "Usage: monitor" in out.getvalue(), path
    shown.append(" ".join(path))
print(json.dumps({{"shown": shown, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def test_help_of_every_command_loads_no_heavy_library() -> None:
    report = json.loads(python_output(HELP_SCRIPT))
    assert set(report["shown"]) == {""} | {" ".join(path) for path, _ in commands()}
    assert report["heavy"] == []


def test_command_modules_import_options_from_their_module_not_the_package() -> None:
    # monitor.cli imports every command module: a command module importing names from
    # monitor.cli would be an import cycle that works or not depending on the order.
    package = Path(monitor.__file__).parent / "cli"
    submodules = {path.stem for path in package.glob("*.py")}
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "monitor.cli":
                names = {alias.name for alias in node.names}
                assert names <= submodules, f"{path.name}: from monitor.cli import {names}"


def test_help_names_every_scenario_and_export_format() -> None:
    # Both lists belong to the library, which checks the name; the help only shows it.
    from monitor.report.exports import EXPORT_FORMATS
    from monitor.simulate import PRESETS

    runner = CliRunner(env={"COLUMNS": "200"})
    simulate_help = runner.invoke(main, ["simulate", "--help"]).output
    assert all(f"{name}:" in simulate_help for name in PRESETS)
    export_help = runner.invoke(main, ["export", "calls", "--help"]).output
    assert all(fmt in export_help for fmt in EXPORT_FORMATS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--scenario", "stormy", "--output", "out"], "unknown scenario 'stormy'"),
        (["export", "calls", "--format", "xlsx"], "format 'xlsx': use one of csv"),
    ],
)
def test_an_unknown_name_is_refused_with_the_names_to_choose_from(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["--store", str(tmp_path), *args])
    assert result.exit_code == 1
    assert message in result.output


def test_a_detection_that_found_nothing_says_so_not_to_run_it(tmp_path: Path) -> None:
    lines = ["MMSI,BaseDateTime,LAT,LON,SOG"] + [
        f"366000001,2024-03-01T{i // 60:02d}:{i % 60:02d}:00,33.70000,{-118.4 + i * 1e-4:.5f},9.0"
        for i in range(0, 600, 3)
    ]
    (tmp_path / "one.csv").write_text("\n".join(lines) + "\n")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[store]\npath = "{tmp_path / "store"}"\n[geofences]\n'
        'circles = [{ id = "far", name = "Far", lat = 10.0, lon = 10.0, radius_m = 5000 }]\n'
    )
    runner = CliRunner()
    before = runner.invoke(main, ["--config", str(config), "events"])
    assert "No events yet: run `monitor detect`" in before.output
    for args in (["ingest", str(tmp_path / "one.csv")], ["detect"]):
        result = runner.invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
    for noun in ("events", "calls"):
        result = runner.invoke(main, ["--config", str(config), noun])
        assert result.exit_code == 0, result.output
        assert f"No {noun} found: `monitor detect` found none in the stored positions" in (
            result.output
        ), result.output
