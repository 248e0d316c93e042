"""``monitor config check`` through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import main
from monitor.config import shipped_config_path


def test_check_shipped_config_prints_summary() -> None:
    result = CliRunner().invoke(main, ["config", "check", str(shipped_config_path("korea"))])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "OK" in out
    assert "zones:      46 (14 port, 15 berth, 17 anchorage, 0 area)" in out
    assert "nampo" in out and "vostochny" in out
    assert "exit_buffer_m" in out and "1000.0" in out
    assert "data/store" in out
    assert "warning" not in out


def test_check_uses_global_config_option() -> None:
    path = str(shipped_config_path("korea"))
    result = CliRunner().invoke(main, ["--config", path, "config", "check"])
    assert result.exit_code == 0, result.output
    assert "korea.toml: OK" in result.output


def test_check_without_file_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 2
    assert "name a config file" in result.output


def test_check_reports_config_error_with_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[detect]\nstop_sped_kn = 1\n")
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert str(path) in result.output
    assert "detect.stop_sped_kn: unknown key; did you mean 'stop_speed_kn'?" in result.output


def test_check_reports_geofence_error(tmp_path: Path) -> None:
    bowtie = [[[125, 38], [126, 39], [126, 38], [125, 38.5], [125, 38]]]
    (tmp_path / "z.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "x", "kind": "port"},
                        "geometry": {"type": "Polygon", "coordinates": bowtie},
                    }
                ],
            }
        )
    )
    path = tmp_path / "c.toml"
    path.write_text('[geofences]\nfiles = ["z.geojson"]\n')
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert "z.geojson: feature 0 (id 'x'): invalid polygon: Self-intersection" in result.output


def test_check_circles_and_warnings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[geofences.circles]]\nid = "p"\nname = "P"\nlat = 38.7\nlon = 125.4\nradius_m = 2000\n'
        '[[geofences.circles]]\nid = "a"\nname = "A"\nkind = "anchorage"\nport = "p"\n'
        "lat = 39.7\nlon = 125.4\nradius_m = 1000\n"
    )
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 file(s), 2 circle(s)" in result.output
    assert "zones:      2 (1 port, 0 berth, 1 anchorage, 0 area)" in result.output
    assert "warning: a: 108 km from its port 'p'" in result.output


def test_check_warns_when_no_geofences(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('name = "empty"\n')
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0
    assert "no geofences" in result.output


def test_path_prints_shipped_config() -> None:
    result = CliRunner().invoke(main, ["config", "path"])
    assert result.exit_code == 0
    assert Path(result.output.strip()) == shipped_config_path("korea")
    result = CliRunner().invoke(main, ["config", "path", "nope"])
    assert result.exit_code == 1
    assert "no shipped config named 'nope'" in result.output
