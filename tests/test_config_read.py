"""Every way a config or geofence file can fail to read gives a message naming it and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.analyse.geofences import load_geojson
from monitor.cli import main
from monitor.config import load_config
from monitor.errors import ConfigError


def test_a_config_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Tromsø"\n'.encode("latin-1"))
    with pytest.raises(
        ConfigError, match=r"latin1\.toml: not UTF-8 text.*line 1.*save it as UTF-8"
    ):
        load_config(path)


def test_a_binary_file_as_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.parquet"
    path.write_bytes(b"PAR1\x15\x04\x15\x80\xff\xfe\x00\x01")
    with pytest.raises(ConfigError, match=r"store\.parquet: not UTF-8 text"):
        load_config(path)


def test_a_config_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbfname = "Tromso"\n')
    assert load_config(path).name == "Tromso"


def test_a_folder_as_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file"):
        load_config(tmp_path)


def test_a_geofence_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "zones.geojson"
    collection = {"type": "FeatureCollection", "features": [], "name": "Tromsø"}
    path.write_bytes(json.dumps(collection, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(ConfigError, match=r"zones\.geojson: not UTF-8 text.*save it as UTF-8"):
        load_geojson(path)


def test_the_cli_shows_the_message_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Tromsø"\n'.encode("latin-1"))
    for args in (["config", "check", str(path)], ["--config", str(path), "calls"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        assert "not UTF-8 text" in result.output and "Traceback" not in result.output
        assert not isinstance(result.exception, UnicodeDecodeError)
