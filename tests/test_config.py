from __future__ import annotations

import re
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


@pytest.mark.parametrize(
    "line",
    [
        "min_stop_min = -1",
        "stop_radius_m = 0",
        "max_silent_stay_h = 0",
        "merge_distance_m = 60000",
        "max_unheard_h = -2",
    ],
)
def test_port_call_rule_bounds_are_validated(line: str) -> None:
    with pytest.raises(ConfigError, match=rf"detect\.{line.split()[0]}"):
        parse_config(f"[detect]\n{line}\n")


def test_port_call_rule_defaults_are_documented_values() -> None:
    detect = load_config(None).detect
    assert (detect.min_stop_min, detect.stop_radius_m) == (10.0, 100.0)
    assert (detect.max_silent_stay_h, detect.merge_distance_m, detect.max_unheard_h) == (
        72.0,
        2000.0,
        24.0,
    )


def test_relative_paths_are_taken_from_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[store]\npath = "st"\n[geofences]\nfiles = ["g.geojson"]\n')
    settings = load_config(path)
    assert settings.store.path == tmp_path.resolve() / "st"
    assert settings.geofences.files == [tmp_path.resolve() / "g.geojson"]


def test_typo_suggests_the_closest_key(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text("[detect]\nexit_bufer_m = 10\n")
    with pytest.raises(ConfigError, match=r"did you mean 'exit_buffer_m'\?") as err:
        load_config(path)
    assert "valid keys in [detect]" in str(err.value)


def test_unknown_section_suggests_the_section() -> None:
    with pytest.raises(ConfigError, match=r"  stor: unknown key; did you mean 'store'\?"):
        parse_config('[stor]\npath = "x"\n')


def test_circle_errors_name_the_list_item() -> None:
    text = (
        '[[geofences.circles]]\nid = "a"\nname = "A"\nlat = 38.7\nlon = 125.4\nradius_m = 1000\n'
        '[[geofences.circles]]\nid = "b"\nname = "B"\nlat = 38.7\nlon = 125.4\nradiuss_m = 1\n'
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    message = str(err.value)
    assert "geofences.circles[1].radius_m: required key is missing" in message
    assert "geofences.circles[1].radiuss_m: unknown key; did you mean 'radius_m'?" in message


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("[detect]\nmax_gap_h = -1\n", r"detect\.max_gap_h: .*greater than 0 \(got -1\)"),
        ('[report]\nperiod = "month"\n', r"report\.period: .*'day' or 'week' \(got 'month'\)"),
        ("detect = 5\n", r"detect: must be a table"),
        (
            '[[geofences.circles]]\nid = "a"\nname = "A"\nkind = "harbour"\nlat = 1\nlon = 2\n'
            "radius_m = 5\n",
            r"geofences\.circles\[0\]\.kind: .*'port', 'berth', 'anchorage' or 'area'",
        ),
        (
            '[[geofences.circles]]\nid = "a"\nname = "A"\nlat = 125.4\nlon = 38.7\nradius_m = 5\n',
            r"geofences\.circles\[0\]\.lat: .*less than or equal to 90",
        ),
        ("[store\n", r"not valid TOML"),
        ('source_path = "x"\n', r"source_path: unknown key"),
    ],
)
def test_bad_values_name_the_key(text: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        parse_config(text)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read config file"):
        load_config(tmp_path / "nope.toml")


def test_implausible_exit_buffer_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"detect\.exit_buffer_m: .*less than or equal to 50000"):
        parse_config("[detect]\nexit_buffer_m = 1000000\n")


def test_detect_max_speed_kn_of_older_configs_is_read_as_the_tracks_speed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = parse_config("[detect]\nmax_speed_kn = 35.0\n")
    assert settings.tracks.max_speed_kn == 35.0
    assert "move it to [tracks]" in caplog.text
    same = parse_config("[detect]\nmax_speed_kn = 35.0\n[tracks]\nmax_speed_kn = 35.0\n")
    assert same.tracks.max_speed_kn == 35.0


def test_two_different_speed_limits_are_an_error_naming_both_keys() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[detect]\nmax_speed_kn = 35.0\n[tracks]\nmax_speed_kn = 40.0\n")
    assert "detect.max_speed_kn and tracks.max_speed_kn differ" in str(info.value)
    assert "remove detect.max_speed_kn" in str(info.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[tracks]\nclock_slack_s = -1\n", "tracks.clock_slack_s"),
        ("[tracks]\nmax_silence_h = 0\n", "tracks.max_silence_h"),
        ("[tracks]\nmax_jump_reports = -3\n", "tracks.max_jump_reports"),
        ("[tracks]\nmax_jump_hours = 3\n", "tracks.max_jump_hours"),
        ("[events]\nshared_min_distance_km = 0\n", "events.shared_min_distance_km"),
        ("[events]\nport_radius_km = -5\n", "events.port_radius_km"),
    ],
)
def test_track_and_event_keys_are_checked(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"\n  {re.escape(key)}: "):
        parse_config(text)


def test_a_misspelt_tracks_key_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean 'max_jump_h'"):
        parse_config("[tracks]\nmax_jump_hours = 3\n")
