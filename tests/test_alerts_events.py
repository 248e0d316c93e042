"""Alert rules on events: a dark period near a port, an encounter, a shared MMSI; each alert
once, also when the event grows or ends after it was raised."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from test_calls import GEOJSON
from tracks_portcalls import ANCHOR, IN_P, IN_Q, SEA_WEST, T0, Track, positions, statics
from tracks_portcalls import write_store as write_parts

from monitor.alerts.dispatch import AlertDispatcher
from monitor.config import Settings, parse_config
from monitor.errors import ConfigError
from monitor.pipeline.detect import detect_calls

WATCHED = 273_000_001  # lies at P's anchorage, falls silent for 3 h and comes back
PAIR = (412_000_011, 412_000_012)  # lie together east of the anchorage all the time
SHARED = 273_555_444  # two ships on one MMSI, in P and in Q
NEAR = (0.25, 0.02)

RULES = """
[[alerts.rules]]
name = "watched dark"
when = "dark_near_port"
watchlist = "watch_a.csv"
[[alerts.rules]]
name = "dark at Q"
when = "dark_near_port"
ports = ["Q"]
[[alerts.rules]]
name = "meetings of B"
when = "encounter"
watchlist = "watch_b.csv"
[[alerts.rules]]
name = "meetings of A"
when = "encounter"
watchlist = "watch_a.csv"
[[alerts.rules]]
name = "twins"
when = "shared_mmsi"
"""


def _settings(tmp_path: Path, rules: str = RULES) -> Settings:
    (tmp_path / "zones.geojson").write_text(json.dumps(GEOJSON), encoding="utf-8")
    (tmp_path / "watch_a.csv").write_text("mmsi,imo,name,list\n,,watched  one,own\n")
    (tmp_path / "watch_b.csv").write_text("mmsi,imo,name,list\n,9000012,,UN\n")
    text = (
        '[store]\npath = "store"\n[geofences]\nfiles = ["zones.geojson"]\n'
        "[alerts]\nmax_age_h = 48\n" + rules + '[[alerts.sinks]]\ntype = "jsonl"\n'
        'path = "alerts.jsonl"\n'
    )
    return parse_config(text, tmp_path / "c.toml")


def _tracks(hours: float) -> pl.DataFrame:
    """The feed up to ``hours`` after T0."""
    tracks = [
        Track(WATCHED).stay(ANCHOR, 4).silence(3).stay(ANCHOR, 4),
        Track(PAIR[0]).stay(NEAR, 11, sog=0.2),
        Track(PAIR[1], T0 + timedelta(minutes=3)).stay((NEAR[0] + 0.003, NEAR[1]), 11, sog=0.1),
        Track(SHARED).fix(*SEA_WEST, 10).sail(IN_P, 2).stay(IN_P, 6),
        Track(SHARED, T0 + timedelta(minutes=5)).stay(IN_Q, 8),
    ]
    frame = positions(*tracks)
    return frame.filter(pl.col("timestamp_utc") <= T0 + timedelta(hours=hours))


def _statics() -> pl.DataFrame:
    return statics(
        [
            {"mmsi": WATCHED, "timestamp_utc": T0, "vessel_name": "WATCHED ONE", "imo": 9000001},
            {"mmsi": PAIR[1], "timestamp_utc": T0, "vessel_name": "BRAVO", "imo": 9000012},
        ]
    )


def _sent(settings: Settings) -> list[dict[str, Any]]:
    path = settings.alerts.sinks[0].path
    assert path is not None
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_event_rules_alert_once_per_event_while_it_goes_on_and_after(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    # First the feed up to 6 h: the watched vessel is still silent, the pair still together.
    write_parts(settings.store.path, _tracks(6), "part0", _statics())
    detect_calls(settings)
    AlertDispatcher(settings)()
    first = _sent(settings)
    assert sorted(a["rule"] for a in first) == ["meetings of B", "twins", "watched dark"]
    dark = next(a for a in first if a["rule"] == "watched dark")
    assert dark["mmsi"] == WATCHED and dark["vessel_name"] == "WATCHED ONE"
    assert dark["event_kind"] == "gap" and dark["end_utc"] is None
    assert dark["port_id"] == "P" and dark["event_utc"] == "2024-03-01T03:50:00Z"
    assert "WATCHED ONE (MMSI 273000001, IMO 9000001" in dark["text"]
    assert "went dark near Port P at 2024-03-01 03:50 UTC" in dark["text"]
    assert "still silent" in dark["text"]
    meeting = next(a for a in first if a["rule"] == "meetings of B")
    assert {meeting["mmsi"], meeting["other_mmsi"]} == set(PAIR)
    assert "BRAVO (MMSI 412000012" in meeting["text"]
    twins = next(a for a in first if a["rule"] == "twins")
    assert twins["mmsi"] == SHARED and "two transmitters" in twins["text"]
    # The rest of the feed: the silence ends, the meeting grows; no alert is raised again.
    rest = _tracks(12).filter(pl.col("timestamp_utc") > T0 + timedelta(hours=6))
    write_parts(settings.store.path, rest, "part1")
    detect_calls(settings)
    AlertDispatcher(settings)()
    assert _sent(settings) == first


def test_event_rules_take_a_watchlist_and_other_rules_refuse_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="watchlist is only for watchlist, dark_near_port"):
        _settings(tmp_path, '[[alerts.rules]]\nname = "a"\nwhen = "arrival"\nwatchlist = "w.csv"\n')
    settings = _settings(tmp_path, '[[alerts.rules]]\nname = "m"\nwhen = "encounter"\n')
    assert settings.alerts.rules[0].watchlist is None
