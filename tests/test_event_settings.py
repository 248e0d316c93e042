"""The [gaps], [encounters], [loitering] and [watchlist] config sections."""

from __future__ import annotations

import pytest

from monitor.config import parse_config
from monitor.errors import ConfigError


def test_event_sections_take_their_keys_and_keep_their_defaults() -> None:
    settings = parse_config(
        "[gaps]\nmin_gap_h = 12\n[encounters]\nmax_distance_m = 1000\nport_exclusion_m = 10000\n"
        "[loitering]\nmin_duration_h = 8\n"
    )
    assert settings.gaps.min_gap_h == 12
    assert settings.gaps.near_port_min_gap_h == 2
    assert settings.encounters.max_distance_m == 1000
    assert settings.encounters.port_exclusion_m == 10_000
    assert settings.encounters.min_duration_h == 2
    assert settings.loitering.min_duration_h == 8
    assert settings.watchlist.path is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gaps]\nmin_gap = 6\n", "gaps.min_gap: unknown key; did you mean 'min_gap_h'?"),
        ("[encounters]\nmax_distance_m = -5\n", "encounters.max_distance_m: Input should be"),
        ("[encounters]\nmax_distance_m = 50000\n", "encounters.max_distance_m"),
        ("[loitering]\nmax_speed_kn = 0\n", "loitering.max_speed_kn"),
        ("[gaps]\nmin_gap_h = 1\n", "near_port_min_gap_h must be <= min_gap_h"),
        ("[watchlist]\nmatch_names = 3\n", "watchlist.match_names"),
    ],
)
def test_bad_event_settings_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert message in str(info.value)
