"""The report's HTML beside the map: headline, calls table (sort, filter), port summary, chart.

Every value is escaped with ``html.escape`` (quotes too, for attributes): AIS text is untrusted.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from monitor.report import fmt

#: One colour per port in the arrivals chart: 20 told apart by hue first, then by lightness
#: (a watch list of 14 ports needs more than the usual 10).
PORT_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#393b79", "#dbdb8d", "#9edae5",
)  # fmt: skip


def esc(value: object) -> str:
    """Return ``value`` as text safe in HTML content and in quoted attributes."""
    return html.escape(str(value), quote=True)


def _cell(display: str, sort_key: object = None, *, num: bool = False, badge: str = "") -> str:
    """Return a table cell: ``display`` escaped, then ``badge`` (trusted HTML)."""
    attrs = ' class="num"' if num else ""
    if sort_key is not None:
        attrs += f' data-v="{esc(sort_key)}"'
    elif display == fmt.DASH:
        attrs += ' data-v=""'
    return f"<td{attrs}>{esc(display)}{badge}</td>"


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


#: Badges on an arrival that was not seen (``arrival_observed`` false): (text, explanation).
START_OF_DATA = (
    "start of data",
    "The vessel was already in port when the data begins: it arrived earlier.",
)
FIRST_SEEN_INSIDE = (
    "AIS on inside",
    "First position after a silence was already inside the port: the arrival was not seen.",
)


def arrival_badge(row: Mapping[str, Any], data_start: datetime | None, max_gap_h: float) -> str:
    """Return the badge HTML for a call whose arrival was not observed, else an empty string.

    An arrival within ``max_gap_h`` of the start of the data is only where the data begins (the
    vessel was in port before); a later one follows a silence (AIS switched on inside the port).
    """
    if row.get("arrival_observed") is not False:
        return ""
    arrival = row["arrival_utc"]
    early = data_start is not None and arrival <= data_start + timedelta(hours=max_gap_h)
    text, title = START_OF_DATA if early else FIRST_SEEN_INSIDE
    kind = "start" if early else "dark"
    return f'<span class="mr-badge mr-badge-{kind}" title="{esc(title)}">{esc(text)}</span>'


def _open_departure(row: Mapping[str, Any]) -> str:
    """Return what a call without a departure shows: in port, or last seen and unheard since."""
    if row.get("status") == "unknown":
        return f"unknown, last seen {fmt.when(row.get('last_seen_utc'))}"
    return "in port"


def _search_text(row: Mapping[str, Any], port: str) -> str:
    parts = [fmt.vessel_title(row), row["mmsi"], row.get("imo"), port, row.get("flag")]
    return " ".join(str(p) for p in parts if p is not None).lower()


def calls_table_html(
    calls: pl.DataFrame,
    names: Mapping[str, str],
    data_start: datetime | None = None,
    max_gap_h: float = 4.0,
) -> str:
    """Return the period's calls as a table to sort and filter, or a note that there are none.

    Arrivals that were not observed carry a badge: the start of the data, or AIS switched on
    inside the port (see ``arrival_badge``).
    """
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
            _cell(
                fmt.when(row["arrival_utc"]),
                row["arrival_utc"].isoformat(),
                badge=arrival_badge(row, data_start, max_gap_h),
            ),
            _cell(
                fmt.when(departure) if departure is not None else _open_departure(row),
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
                ("mr-row-watch", row.get("watchlist")),
            )
            if on
        ]
        css = f' class="{" ".join(classes)}"' if classes else ""
        search = esc(_search_text(row, fields["Port"]))
        rows.append(
            f'<tr data-call="{esc(row["call_id"])}" data-search="{search}"{css}'
            f"{watch_title(row)}>{''.join(cells)}</tr>"
        )
    n = len(rows)
    return (
        '<div class="mr-filter"><label for="calls-filter">Filter</label>'
        '<input type="search" id="calls-filter" autocomplete="off" '
        'placeholder="vessel, MMSI, IMO, port or flag" aria-controls="calls-table">'
        f'<span id="calls-shown" aria-live="polite">{n} of {n} calls</span></div>'
        '<div class="mr-table-wrap"><table class="mr-table sortable" id="calls-table">'
        f"{_head(CALL_COLUMNS)}<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="mr-note">Type words to keep the calls that match them all (vessel name, '
        "MMSI, IMO, port or flag); click a column to sort; click a row to show the call on the "
        "map. A red edge marks vessels still in port at the end of the period. "
        f"<b>{esc(START_OF_DATA[0])}</b>: already in port when the data begins, so the arrival "
        f"is earlier than shown; <b>{esc(FIRST_SEEN_INSIDE[0])}</b>: the vessel's AIS came back "
        "on inside the port after a silence, so its arrival was not seen. A shared MMSI was in "
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
            # A dark period still under way at the end of the data has no end yet.
            _cell(
                fmt.when(row["end_utc"]) if row["end_utc"] is not None else "still silent",
                row["end_utc"].isoformat() if row["end_utc"] is not None else "9999",
            ),
            _cell(fields["Event"]),
            _cell(fmt.vessel_title(row)),
            _cell(str(row["mmsi"]), row["mmsi"], num=True),
            _cell(fields["Near port"]),
            _cell(fields["What"]),
        ]
        kind = esc(row["kind"])
        watched = " mr-row-watch" if row.get("watchlist") else ""
        rows.append(
            f'<tr data-event="{esc(row["event_id"])}" class="mr-event-{kind}{watched}"'
            f"{watch_title(row)}>{''.join(cells)}</tr>"
        )
    return (
        '<div class="mr-table-wrap"><table class="mr-table sortable" id="events-table">'
        f"{_head(EVENT_COLUMNS)}<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="mr-note">Shared MMSI: one MMSI in two places at once, farther apart than one '
        "ship could sail. Position jump: reports thrown far off and back (GPS fault, spoofing), "
        "left out of tracks and calls. Dark period: a vessel heard regularly fell silent while "
        "the receivers around it kept hearing others (silences of poor coverage, receiver "
        "outages and vessels out of range are in <code>monitor export gaps --all</code>). "
        "Encounter: two vessels within 500 m of each other at under 2 kn for 2 h or more. "
        "Loitering: one vessel under 2 kn for 4 h or more outside ports. Watchlist vessels "
        'come first, on a gold background. <a href="events.csv">Download the events '
        "(CSV)</a>.</p>"
    )


def watch_title(row: Mapping[str, object]) -> str:
    """Return the ``title`` attribute of a row of a watchlist vessel ("" for other rows)."""
    listed = row.get("watchlist")
    if not listed:
        return ""
    weak = " (by name only)" if row.get("watch_match") == "name" else ""
    return f' title="{esc("Watchlist: " + str(listed) + weak)}"'


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


def arrivals_chart_html(per_day: pl.DataFrame) -> str:
    """Return a stacked bar chart of arrivals per day (inline SVG, one colour per port) and its
    legend (HTML, so it wraps to the page's width however many ports there are)."""
    days: list[date] = sorted(set(per_day["day"].to_list()))
    if not days:
        return ""
    counts: dict[tuple[date, str], int] = {}
    for day, port, n in per_day.select("day", "port_name", "arrivals").iter_rows():
        if port is not None and n:
            counts[(day, port)] = counts.get((day, port), 0) + int(n)
    by_port: dict[str, int] = {}
    for (_, port), n in counts.items():
        by_port[port] = by_port.get(port, 0) + n
    # Busiest port first, at the bottom of each bar and first in the legend.
    ports = sorted(by_port, key=lambda p: (-by_port[p], p))
    colours = {p: PORT_PALETTE[i % len(PORT_PALETTE)] for i, p in enumerate(ports)}
    totals = {d: sum(counts.get((d, p), 0) for p in ports) for d in days}
    peak = max([*totals.values(), 1])
    left, top, plot_h, bar_w, gap = 40, 14, 160, 34, 10
    width = max(left + len(days) * (bar_w + gap) + 10, 320)
    height = top + plot_h + 24
    parts = [
        f'<svg class="mr-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        "<title>Arrivals per day and port</title>",
    ]
    for tick in sorted({0, peak, (peak + 1) // 2}):
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
                f'fill="{colours[port]}" data-port="{esc(port)}">'
                f"<title>{esc(port)}: {n} on {day}</title></rect>"
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
    parts.append("</svg>")
    legend = "".join(
        f'<li><span class="mr-swatch" style="background:{colours[p]}"></span>'
        f"{esc(p)} ({by_port[p]})</li>"
        for p in ports
    )
    return (
        f'<figure class="mr-chart-box" id="arrivals-chart">{"".join(parts)}'
        f'<figcaption><ul class="mr-chart-legend">{legend}</ul></figcaption></figure>'
    )


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
