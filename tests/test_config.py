from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config, parse_config
from monitor.errors import ConfigError


def test_defaults_follow_gfw_thresholds() -> None:
    settings = load_config(None)
    assert settings.detect.stop_speed_kn == 0.2
    assert settings.detect.move_speed_kn == 0.5
    assert settings.detect.max_gap_h == 4.0


def test_unknown_key_is_named_with_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[detect]\nexit_bufer_m = 10\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "detect.exit_bufer_m" in str(err.value)
    assert str(path) in str(err.value)


def test_wrong_type_names_key_and_value() -> None:
    with pytest.raises(ConfigError, match=r"detect\.max_gap_h.*'soon'"):
        parse_config('[detect]\nmax_gap_h = "soon"\n')


def test_impossible_value_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"detect: .*move_speed_kn"):
        parse_config("[detect]\nstop_speed_kn = 1.0\nmove_speed_kn = 0.5\n")


def test_relative_paths_are_taken_from_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[store]\npath = "st"\n[geofences]\nfiles = ["g.geojson"]\n')
    settings = load_config(path)
    assert settings.store.path == tmp_path.resolve() / "st"
    assert settings.geofences.files == [tmp_path.resolve() / "g.geojson"]
