"""The reports index: ``reports/index.html`` lists every report written, newest first.

Its source of truth is ``reports/manifest.json`` (one entry per report folder, with headline
numbers), rewritten atomically after each report.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from monitor.core.atomic import atomic_write_text
from monitor.report.tables import esc

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
log = logging.getLogger(__name__)


def read_manifest(root: Path) -> list[dict[str, Any]]:
    """Return the manifest's entries; an unreadable manifest is rebuilt from the report folders."""
    path = root / MANIFEST_NAME
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data["reports"]
            if isinstance(entries, list):
                return [e for e in entries if isinstance(e, dict) and "folder" in e]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable (%s); rebuilding it from the report folders", path, exc)
    return list(_summaries(root).values())


def _summaries(root: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for summary in root.glob("*/summary.json"):
        if summary.parent.name.startswith("."):
            continue  # a report being written, or the versions behind the report folders
        try:
            entry = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("%s: unreadable; report left out of the index", summary)
            continue
        if isinstance(entry, dict):
            found[summary.parent.name] = {**entry, "folder": summary.parent.name}
    return found


def update_index(root: Path, entry: dict[str, Any]) -> Path:
    """Add or replace ``entry`` (keyed by folder) in the manifest, rewrite the index; return it.

    Each report folder's ``summary.json`` wins over the manifest, so a report written by a run
    that raced with this one is listed too, and a deleted folder drops out.
    """
    entries = {str(e["folder"]): e for e in read_manifest(root)}
    entries.update(_summaries(root))
    entries[entry["folder"]] = entry
    listed = [e for f, e in entries.items() if (root / f / "index.html").is_file()]
    listed.sort(key=lambda e: (str(e.get("until", "")), str(e.get("written", ""))), reverse=True)
    manifest = {"version": MANIFEST_VERSION, "reports": listed}
    atomic_write_text(root / MANIFEST_NAME, json.dumps(manifest, indent=1, ensure_ascii=False))
    index = root / "index.html"
    atomic_write_text(index, index_html(listed))
    return index


def index_html(entries: list[dict[str, Any]]) -> str:
    """Return the reports index page: newest first, with each report's headline numbers."""
    rows = []
    for e in entries:
        n = e.get("numbers", {})
        link = f'<a href="{esc(e["folder"])}/index.html">{esc(e.get("title", e["folder"]))}</a>'
        rows.append(
            f"<tr><td>{link}</td>"
            f"<td>{esc(e.get('since_text', ''))}</td><td>{esc(e.get('until_text', ''))}</td>"
            f'<td class="num">{esc(n.get("calls", 0))}</td>'
            f'<td class="num">{esc(n.get("vessels", 0))}</td>'
            f'<td class="num">{esc(n.get("ports", 0))}</td>'
            f'<td class="num">{esc(n.get("in_port", 0))}</td>'
            f"<td>{'offline' if e.get('offline') else 'online'}</td>"
            "</tr>"
        )
    body = "".join(rows) if rows else '<tr><td colspan="8">No reports written yet.</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Port activity reports</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2433; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 6px 10px; border-bottom: 1px solid #e1e5ec; text-align: left; }}
th {{ background: #eef1f6; }}
td.num {{ text-align: right; }}
</style></head>
<body>
<h1>Port activity reports</h1>
<p>Newest first. Each report is a folder with its map, tables and the calls as CSV, GeoJSON
and KML.</p>
<table id="reports">
<thead><tr><th>Report</th><th>From (UTC)</th><th>To (UTC)</th><th>Calls</th><th>Vessels</th>
<th>Ports</th><th>In port at end</th><th>Assets</th></tr></thead>
<tbody>{body}</tbody>
</table>
</body></html>
"""
