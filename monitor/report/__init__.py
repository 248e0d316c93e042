"""HTML map reports: a folder per period with the map, tables, and the calls as CSV/GeoJSON/KML."""

from monitor.report.build import ReportInputs, build_report, folder_name, write_report
from monitor.report.window import report_window

__all__ = [
    "ReportInputs",
    "build_report",
    "folder_name",
    "report_window",
    "write_report",
]
