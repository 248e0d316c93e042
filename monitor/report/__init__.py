"""HTML map reports: a folder per period with the map, tables, and the calls as CSV/GeoJSON/KML.

The names below are imported on first use: the calls exporter (``monitor.report.exports``) is
used without the map stack (folium, pandas) being loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.report.build import ReportInputs, build_report, folder_name, write_report
    from monitor.report.window import report_window

_HOMES = {
    "ReportInputs": "monitor.report.build",
    "build_report": "monitor.report.build",
    "folder_name": "monitor.report.build",
    "write_report": "monitor.report.build",
    "report_window": "monitor.report.window",
}

__all__ = [
    "ReportInputs",
    "build_report",
    "folder_name",
    "report_window",
    "write_report",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
