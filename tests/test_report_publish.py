"""Publishing a report: never a moment without one, leftovers cleaned, CDN assets pinned by hash."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import report_fixtures as fx

from monitor.report import build_report
from monitor.report.build import ReportContent, publish
from monitor.report.offline import ASSETS, asset


def _content(marker: str) -> ReportContent:
    files = {name: f"{marker} {name}" for name in ("index.html", "calls.csv", "calls.kml")}
    return ReportContent(files=files, numbers={"calls": 1})


def _entry(marker: str) -> dict[str, Any]:
    return {"folder": "day", "until": "2024-05-04", "title": marker, "numbers": {"calls": 1}}


def test_readers_always_find_a_whole_report(tmp_path: Path) -> None:
    publish(tmp_path, "day", _content("v0"), _entry("v0"))
    stop = threading.Event()
    seen: list[str] = []
    missing: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append((tmp_path / "day" / "index.html").read_text())
            except OSError as exc:
                missing.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(1, 60):
            publish(tmp_path, "day", _content(f"v{i}"), _entry(f"v{i}"))
    finally:
        stop.set()
        reader.join()
    assert missing == []
    assert seen


#: The filesystem calls a publish makes; a kill can land before any of them.
_STEPS: list[tuple[Any, str]] = [
    (os, "replace"),
    (os, "rename"),
    (os, "symlink"),
    (os, "mkdir"),
    (shutil, "rmtree"),
    (Path, "write_text"),
]


class _Killed(BaseException):
    """A kill -9 at one step of a publish (nothing after it runs)."""


def _kill_at(step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    count = {"n": 0}
    for owner, name in _STEPS:
        real = getattr(owner, name)

        def wrapped(*args: Any, _real: Callable[..., Any] = real, **kwargs: Any) -> Any:
            count["n"] += 1
            if count["n"] == step:
                raise _Killed
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapped)


@pytest.mark.parametrize("step", range(1, 14))
def test_a_publish_killed_at_any_step_leaves_a_report_and_no_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    publish(tmp_path, "day", _content("old"), _entry("old"))
    before = sorted(p.name for p in tmp_path.iterdir())
    _kill_at(step, monkeypatch)
    with contextlib.suppress(_Killed):
        publish(tmp_path, "day", _content("new"), _entry("new"))
    monkeypatch.undo()
    index = (tmp_path / "day" / "index.html").read_text()
    assert index in ("old index.html", "new index.html")
    assert (tmp_path / "day" / "calls.csv").read_text().split()[0] == index.split()[0]
    # The next run cleans whatever the killed one left behind.
    publish(tmp_path, "day", _content("next"), _entry("next"))
    assert (tmp_path / "day" / "index.html").read_text() == "next index.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    versions = [p for p in tmp_path.rglob("*") if p.name.endswith("index.html")]
    assert len(versions) == 1 + (tmp_path / "index.html").exists()


def test_an_old_report_folder_is_replaced_too(tmp_path: Path) -> None:
    (tmp_path / "day").mkdir()
    (tmp_path / "day" / "index.html").write_text("from an older version")
    publish(tmp_path, "day", _content("new"), _entry("new"))
    assert (tmp_path / "day" / "index.html").read_text() == "new index.html"
    publish(tmp_path, "day", _content("newer"), _entry("newer"))
    assert (tmp_path / "day" / "index.html").read_text() == "newer index.html"


def _sri(path: str) -> str:
    digest = hashlib.sha384(asset(path).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def test_every_cdn_script_and_stylesheet_is_pinned_by_its_hash() -> None:
    page = build_report(fx.inputs(offline=False)).files["index.html"]
    tags = re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"https?://[^>]*>", page)
    assert len(tags) == len(set(ASSETS.values())) == 6
    for tag in tags:
        url = re.search(r"(?:src|href)=\"([^\"]+)\"", tag)
        assert url is not None
        shipped = ASSETS[url.group(1)]
        # The address names the very file shipped: no minified copy made by the CDN on the fly.
        assert url.group(1).rsplit("/", 1)[1] == shipped.rsplit("/", 1)[1]
        assert f'integrity="{_sri(shipped)}"' in tag
        assert 'crossorigin="anonymous"' in tag


def test_the_shipped_leaflet_is_the_one_leaflet_publishes() -> None:
    # The hashes Leaflet gives on its download page for 1.9.4.
    for path, published in (
        ("leaflet/leaflet.js", "20nQCchB9co0qIjJZRGuk2/Z9VM+kNiyxNV1lvTlZBo="),
        ("leaflet/leaflet.css", "p4NxAoJBhIIN+hmNHrzRCf9tD/miZyoHS5obTRR9BMY="),
    ):
        digest = base64.b64encode(hashlib.sha256(asset(path).read_bytes()).digest()).decode()
        assert digest == published
