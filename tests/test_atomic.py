from __future__ import annotations

from pathlib import Path

import pytest

from monitor.core.atomic import atomic_path, atomic_write_text


def test_failure_inside_the_block_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "calls.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half a fi")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.csv"]


def test_success_replaces_the_file_readable_by_others(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "index.html"
    atomic_write_text(target, "<p>new</p>")
    assert target.read_text() == "<p>new</p>"
    assert target.stat().st_mode & 0o044 == 0o044
    assert [p.name for p in target.parent.iterdir()] == ["index.html"]
