"""The report's HTML beside the map: headline, sortable calls table, port summary, arrivals chart.

Every value is escaped with ``html.escape`` (quotes too, for attributes): AIS text is untrusted.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import polars as pl

from monitor.report import fmt

_PORT_PALETTE = (
    "#1565c0", "#ef6c00", "#2e7d32", "#c62828", "#6a1b9a",
    "#00838f", "#9e9d24", "#4e342e", "#ad1457", "#37474f",
)  # fmt: skip


def esc(value: object) -> str:
    """Return ``value`` as text safe in HTML content and in quoted attributes."""
    return html.escape(str(value), quote=True)


def _cell(display: str, sort_key: object = None, *, num: bool = False) -> str:
    attrs = ' class="num"' if num else ""
    if sort_key is not None:
        attrs += f' data-v="{esc(sort_key)}"'
    elif display == fmt.DASH:
        attrs += ' data-v=""'
    return f"<td{attrs}>{esc(display)}</td>"


def _head(columns: Sequence[tuple[str, bool]]) -> str:
    numeric = ' data-type="num" class="num"'
    cells = "".join(
        f'<th scope="col"{numeric if num else ""}>{esc(label)}</th>' for label, num in columns
    )
    return f"<thead><tr>{cells}</tr></thead>"


def header_html(title: str, since: datetime, until: datetime, generated: datetime) -> str:
    """Return the page header: title, period, and the newest data time it was built from."""
    return (
        '<header class="mr-header">'
        f"<h1>{esc(title)}</h1>"
        f'<div class="mr-period">Period {esc(fmt.when(since))} to {esc(fmt.when(until))}'
        f" \u00b7 written {esc(fmt.when(generated))}"
        ' \u00b7 <a href="../index.html" style="color:#cfe3ff">all reports</a></div>'
        "</header>"
    )


def headline_html(numbers: Mapping[str, int]) -> str:
    """Return the row of headline figures (calls, vessels, ports, in port, ...)."""
    labels = {
        "calls": "port calls",
        "vessels": "vessels calling",
        "ports": "ports with calls",
        "in_port": "in port at end",
        "arrivals_not_observed": "arrivals not observed",
        "tracked_vessels": "vessels tracked",
        "events": "events",
    }
    items = "".join(
        f'<div data-key="{esc(key)}"><b>{esc(numbers.get(key, 0))}</b>{esc(label)}</div>'
        for key, label in labels.items()
    )
    return f'<section class="mr-headline">{items}</section>'


CALL_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Vessel", False),
    ("MMSI", True),
    ("IMO", True),
    ("Flag", False),
    ("Type", False),
    ("Port", False),
    ("Arrival (UTC)", False),
    ("Departure (UTC)", False),
    ("Duration (h)", True),
    ("Confidence", True),
    ("Draught change", False),
    ("Previous port", False),
)


def calls_table_html(calls: pl.DataFrame, names: Mapping[str, str]) -> str:
    """Return the sortable table of the period's calls, or a clear note that there are none."""
    if calls.is_empty():
        return '<p class="mr-empty" id="no-calls">No port calls in this period.</p>'
    rows = []
    for row in calls.iter_rows(named=True):
        fields = dict(fmt.call_fields(row, names))
        duration = row.get("duration_h")
        draught = fmt.draught_change(row.get("arrival_draught_m"), row.get("departure_draught_m"))
        departure = row.get("departure_utc")
        cells = [
            _cell(fmt.vessel_title(row) + (" (shared MMSI)" if row.get("shared_mmsi") else "")),
            _cell(str(row["mmsi"]), row["mmsi"], num=True),
            _cell(fmt.text(row.get("imo")), row.get("imo") or "", num=True),
            _cell(fmt.text(row.get("flag"))),
            _cell(fmt.text(row.get("ship_type"))),
            _cell(fields["Port"]),
            _cell(fmt.when(row["arrival_utc"]), row["arrival_utc"].isoformat()),
            _cell(
                fmt.when(departure) if departure is not None else "in port",
                departure.isoformat() if departure is not None else "9999",
            ),
            _cell(
                f"{duration:.1f}" if duration is not None else fmt.DASH,
                f"{duration:.3f}" if duration is not None else "",
                num=True,
            ),
            _cell(fmt.text(row.get("confidence")), row.get("confidence") or "", num=True),
            _cell(draught),
            _cell(fields["Previous port"]),
        ]
        classes = [
            name
            for name, on in (
                ("mr-row-inport", row["in_port_at_end"]),
                ("mr-row-shared", row.get("shared_mmsi")),
            )
            if on
        ]
        css = f' class="{" ".join(classes)}"' if classes else ""
        rows.append(f'<tr data-call="{esc(row["call_id"])}"{css}>{"".join(cells)}</tr>')
    return (
        '<div class="mr-table-wrap"><table class="mr-table sortable" id="calls-table">'
        f"{_head(CALL_COLUMNS)}<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="mr-note">Click a column to sort; click a row to show the call on the map. '
        "A red edge marks vessels still in port at the end of the period. A shared MMSI was in "
        "two places at once (see the events): the call may be either ship's.</p>"
    )


EVENT_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Start (UTC)", False),
    ("End (UTC)", False),
    ("Event", False),
    ("Vessel", False),
    ("MMSI", True),
    ("Near port", False),
    ("What", False),
)


def events_table_html(events: pl.DataFrame, names: Mapping[str, str]) -> str:
    """Return the sortable table of the period's events, or a note that there are none."""
    if events.is_empty():
        return '<p class="mr-empty" id="no-events">No events in this period.</p>'
    rows = []
    for row in events.iter_rows(named=True):
        fields = dict(fmt.event_fields(row, names))
        cells = [
            _cell(fmt.when(row["start_utc"]), row["start_utc"].isoformat()),
            _cell(fmt.when(row["end_utc"]), row["end_utc"].isoformat()),
            _cell(fields["Event"]),
            _cell(fmt.vessel_title(row)),
            _cell(str(row["mmsi"]), row["mmsi"], num=True),
            _cell(fields["Near port"]),
            _cell(fields["What"]),
        ]
        kind = esc(row["kind"])
        rows.append(
            f'<tr data-event="{esc(row["event_id"])}" class="mr-event-{kind}">{"".join(cells)}</tr>'
        )
    return (
        '<div class="mr-table-wrap"><table class="mr-table sortable" id="events-table">'
        f"{_head(EVENT_COLUMNS)}<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="mr-note">Shared MMSI: one MMSI in two places at once, farther apart than one '
        "ship could sail. Position jump: reports thrown far off and back (GPS fault, spoofing), "
        'left out of tracks and calls. <a href="events.csv">Download the events (CSV)</a>.</p>'
    )


SUMMARY_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Port", False),
    ("Calls", True),
    ("Distinct vessels", True),
    ("Median stay (h)", True),
    ("In port at end", True),
    ("Arrivals not observed", True),
)


def summary_table_html(summary: pl.DataFrame) -> str:
    """Return the per-port summary table."""
    if summary.is_empty():
        return '<p class="mr-empty">No ports are configured.</p>'
    rows = []
    for row in summary.iter_rows(named=True):
        median = row["median_stay_h"]
        cells = [
            _cell(row["port_name"]),
            _cell(str(row["calls"]), row["calls"], num=True),
            _cell(str(row["vessels"]), row["vessels"], num=True),
            _cell(
                f"{median:.1f}" if median is not None else fmt.DASH,
                f"{median:.3f}" if median is not None else "",
                num=True,
            ),
            _cell(str(row["in_port_now"]), row["in_port_now"], num=True),
            _cell(str(row["arrivals_not_observed"]), row["arrivals_not_observed"], num=True),
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<div class="mr-table-wrap"><table class="mr-table sortable" id="ports-table">'
        f"{_head(SUMMARY_COLUMNS)}<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="mr-note">Median stay counts completed calls only. An arrival is not observed '
        "when the vessel was already inside the port when its AIS was first received.</p>"
    )


def arrivals_chart_svg(per_day: pl.DataFrame) -> str:
    """Return an inline SVG stacked bar chart of arrivals per day, one colour per port."""
    days: list[date] = sorted(set(per_day["day"].to_list()))
    ports = sorted({p for p in per_day["port_name"].to_list() if p is not None})
    if not days:
        return ""
    counts: dict[tuple[date, str], int] = {}
    for day, port, n in per_day.select("day", "port_name", "arrivals").iter_rows():
        if port is not None:
            counts[(day, port)] = int(n)
    totals = {d: sum(counts.get((d, p), 0) for p in ports) for d in days}
    peak = max([*totals.values(), 1])
    left, top, plot_h, bar_w, gap = 40, 14, 160, 34, 10
    width = left + len(days) * (bar_w + gap) + 10
    legend_y = top + plot_h + 36
    height = legend_y + 18 * ((len(ports) + 2) // 3) + 8
    colours = {p: _PORT_PALETTE[i % len(_PORT_PALETTE)] for i, p in enumerate(ports)}
    parts = [
        f'<svg class="mr-chart" role="img" width="{max(width, 420)}" height="{height}" '
        f'viewBox="0 0 {max(width, 420)} {height}" xmlns="http://www.w3.org/2000/svg">',
        "<title>Arrivals per day and port</title>",
    ]
    ticks = sorted({0, peak, (peak + 1) // 2})
    for tick in ticks:
        y = top + plot_h - plot_h * tick / peak
        parts.append(
            f'<line x1="{left - 4}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dde2ea"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    for i, day in enumerate(days):
        x = left + i * (bar_w + gap)
        base = float(top + plot_h)
        for port in ports:
            n = counts.get((day, port), 0)
            if not n:
                continue
            h = plot_h * n / peak
            base -= h
            parts.append(
                f'<rect x="{x}" y="{base:.1f}" width="{bar_w}" height="{h:.1f}" '
                f'fill="{colours[port]}"><title>{esc(port)}: {n} on {day}</title></rect>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2}" y="{top + plot_h + 14}" text-anchor="middle">'
            f"{esc(day.strftime('%d %b'))}</text>"
        )
        if totals[day]:
            parts.append(
                f'<text x="{x + bar_w / 2}" y="{base - 3:.1f}" text-anchor="middle">'
                f"{totals[day]}</text>"
            )
    for i, port in enumerate(ports):
        x = left + (i % 3) * 180
        y = legend_y + 18 * (i // 3)
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="12" height="10" fill="{colours[port]}"/>'
            f'<text x="{x + 16}" y="{y}">{esc(port[:28])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def files_html(files: Mapping[str, str]) -> str:
    """Return links to the report's data files (label -> relative file name)."""
    links = "".join(f'<a href="{esc(name)}">{esc(label)}</a>' for label, name in files.items())
    return f'<p class="mr-files">Download the calls: {links}</p>'


def sections_html(parts: Sequence[tuple[str, str]]) -> str:
    """Return the sections under the map: (heading, inner HTML) pairs; inner HTML is trusted."""
    body = "".join(f"<h2>{esc(title)}</h2>{inner}" for title, inner in parts)
    return f'<main class="mr-sections">{body}</main>'


def headline_numbers(calls: pl.DataFrame, tracked_vessels: int) -> dict[str, Any]:
    """Return the report's headline figures."""
    return {
        "calls": calls.height,
        "vessels": calls["mmsi"].n_unique() if calls.height else 0,
        "ports": calls["port_id"].n_unique() if calls.height else 0,
        "in_port": int(calls["in_port_at_end"].sum()) if calls.height else 0,
        "arrivals_not_observed": (
            int((~calls["arrival_observed"].fill_null(False)).sum()) if calls.height else 0
        ),
        "tracked_vessels": tracked_vessels,
    }
