"""The watchlist file and matching rows to it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from monitor.analyse.watchlist import WATCH_SCHEMA, load_watchlist, parse_watchlist
from monitor.config import parse_config
from monitor.errors import ConfigError

LIST = """mmsi,imo,name,list,note
445000111,,,OFAC SDN,"sanctioned, 2023"
,9123456,,UN 1718,
,,"Sever  [x]",names,weak match
"""


def test_rows_match_by_mmsi_then_imo_then_name() -> None:
    watchlist = parse_watchlist(LIST, "w.csv")
    frame = pl.DataFrame(
        {
            "mmsi": [445_000_111, 1, 2, 3, 4],
            "imo": [9_123_456, 9_123_456, None, None, 1],
            "vessel_name": ["SEVER [X]", "B", "sever [x]@@@", "OTHER", None],
        }
    )
    marked = watchlist.mark(frame, imo="imo", name="vessel_name")
    assert marked.columns == [*frame.columns, *WATCH_SCHEMA]
    assert marked["watch_match"].to_list() == ["mmsi", "imo", "name", None, None]
    assert marked["watchlist"].to_list() == ["OFAC SDN", "UN 1718", "names", None, None]
    assert marked["watch_note"].to_list() == ["sanctioned, 2023", None, "weak match", None, None]
    by_number = parse_watchlist(LIST, "w.csv", match_names=False).mark(frame, name="vessel_name")
    assert by_number["watch_match"].to_list() == ["mmsi", None, None, None, None]


def test_bad_watchlists_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"w\.csv, line 2: mmsi '4450x' is not a number"):
        parse_watchlist("mmsi,name\n4450x,A\n", "w.csv")
    with pytest.raises(ConfigError, match="header line"):
        parse_watchlist("445000111,9123456\n", "w.csv")
    with pytest.raises(ConfigError, match=r"unknown column.*flag"):
        parse_watchlist("mmsi,flag\n1,KP\n", "w.csv")
    with pytest.raises(ConfigError, match="line 3: give an mmsi, an imo or a name"):
        parse_watchlist("mmsi,imo,name,note\n1,,,\n,,,only a note\n", "w.csv")
    with pytest.raises(ConfigError, match="cannot read the watchlist"):
        load_watchlist(tmp_path / "missing.csv")


def test_the_config_names_the_watchlist_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "w.csv").write_text(LIST, encoding="utf-8")
    settings = parse_config('[watchlist]\npath = "lists/w.csv"\n', tmp_path / "monitor.toml")
    assert settings.watchlist.path == tmp_path / "lists" / "w.csv"
    watchlist = load_watchlist(settings.watchlist.path)
    assert watchlist.entries.height == 3
    assert load_watchlist(None).entries.is_empty()


def _store_with_calls(root: Path) -> Path:
    from test_calls import identity, make_settings, voyage
    from tracks_portcalls import positions, write_store

    from monitor.pipeline.detect import detect_calls

    settings = make_settings(root)
    write_store(settings.store.path, positions(*voyage()), "part0", identity())
    detect_calls(settings)
    config = root / "monitor.toml"
    zones = settings.geofences.files[0]
    config.write_text(
        f'[store]\npath = "{settings.store.path}"\n[geofences]\nfiles = ["{zones}"]\n'
        '[watchlist]\npath = "watchlist.csv"\n',
        encoding="utf-8",
    )
    return config


def test_calls_watchlist_lists_only_watched_vessels(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from test_calls import RAJIN_MMSI, VOSTOCHNY_MMSI

    from monitor.cli import main

    config = _store_with_calls(tmp_path)
    (tmp_path / "watchlist.csv").write_text(
        f"mmsi,name,list\n{RAJIN_MMSI},,OFAC\n,sever [x],by name\n", encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["--config", str(config), "calls", "--watchlist"])
    assert result.exit_code == 0, result.output
    assert "OFAC" in result.output and "by name" in result.output
    listed = CliRunner().invoke(
        main, ["--config", str(config), "calls", "--watchlist", "--format", "csv"]
    )
    rows = pl.read_csv(listed.output.encode())
    assert set(rows["mmsi"]) == {RAJIN_MMSI, VOSTOCHNY_MMSI}
    assert dict(zip(rows["mmsi"], rows["watch_match"], strict=True)) == {
        RAJIN_MMSI: "mmsi",
        VOSTOCHNY_MMSI: "name",
    }
    (tmp_path / "watchlist.csv").write_text(f"mmsi\n{RAJIN_MMSI}\n", encoding="utf-8")
    only = CliRunner().invoke(
        main, ["--config", str(config), "calls", "--watchlist", "--format", "csv"]
    )
    assert set(pl.read_csv(only.output.encode())["mmsi"]) == {RAJIN_MMSI}


def test_calls_watchlist_without_a_watchlist_says_how_to_add_one(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    config = _store_with_calls(tmp_path)
    text = config.read_text(encoding="utf-8").replace('[watchlist]\npath = "watchlist.csv"\n', "")
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "calls", "--watchlist"])
    assert result.exit_code == 1
    assert "no watchlist configured" in result.output
    assert "[watchlist] path" in result.output
