"""Report map and tables: land from GSHHG, port labels, the calls filter and arrival badges, the
arrivals chart's legend."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

import polars as pl
import pytest
import report_fixtures as fx
import shapely
from shapely.geometry import Point, shape
from test_report import embedded_data

from monitor.report import build_report, coastline
from monitor.report.data import calls_in_window, port_names
from monitor.report.mapview import labels_payload
from monitor.report.tables import (
    FIRST_SEEN_INSIDE,
    PORT_PALETTE,
    START_OF_DATA,
    arrivals_chart_html,
    calls_table_html,
)

# Around Nampo: a point inland, one in Korea Bay, and two 3 km apart on either side of the
# Taedong's bank at the harbour (land, then the river), which only a harbour-scale coast tells.
INLAND = Point(125.5, 38.9)
SEA = Point(125.0, 38.7)
NAMPO_BANK = Point(125.39, 38.72)
TAEDONG_RIVER = Point(125.42, 38.725)


def _land_shape(payload: dict[str, object] | None) -> shapely.Geometry:
    assert payload is not None and payload["type"] == "FeatureCollection"
    features = payload["features"]
    assert isinstance(features, list)
    return shapely.union_all([shape(f["geometry"]) for f in features])


# --- land ------------------------------------------------------------------------------------


def test_land_tells_the_harbour_from_the_river() -> None:
    land = coastline.land((124.5, 38.3, 126.5, 39.3))
    assert land.contains(INLAND) and land.contains(NAMPO_BANK)
    assert not land.contains(SEA) and not land.contains(TAEDONG_RIVER)
    assert land.bounds[0] >= 124.5 and land.bounds[2] <= 126.5


def test_lakes_are_cut_out_of_the_land() -> None:
    land = coastline.land((131.5, 44.5, 133.5, 45.5))
    assert land.contains(Point(131.8, 44.8))
    assert not land.contains(Point(132.4, 45.0))  # Lake Khanka


def test_payload_keeps_harbour_detail_near_ports_and_stays_small() -> None:
    nampo = fx.zones()[0].geometry.bounds
    payload = coastline.land_payload([nampo], [(124.0, 34.0, 131.0, 42.0)])
    land = _land_shape(payload)
    assert land.contains(NAMPO_BANK) and not land.contains(TAEDONG_RIVER)
    assert land.contains(INLAND) and not land.contains(SEA)
    coords = shapely.get_coordinates(land)
    assert len(coords) < 40_000
    assert (coords == coords.round(4)).all()
    # Land is drawn past the area, so that a wide screen fitting it by its height shows land.
    assert land.bounds[0] < 120.0 and land.bounds[2] > 135.0


def test_open_ocean_has_no_land_and_nothing_on_the_map_has_none() -> None:
    assert coastline.land_payload([(-125.0, -45.0, -124.0, -44.0)]) is None
    assert coastline.land_payload([]) is None


def test_offline_report_carries_land_and_online_report_does_not() -> None:
    offline = embedded_data(build_report(fx.inputs()).files["index.html"])
    land = _land_shape(offline["land"])  # type: ignore[arg-type]
    assert land.contains(INLAND) and not land.contains(TAEDONG_RIVER)
    assert "GSHHG" in str(offline["meta"])
    online = embedded_data(build_report(fx.inputs(offline=False)).files["index.html"])
    assert online["land"] is None


# --- port labels -----------------------------------------------------------------------------


def test_port_labels_sit_above_the_port_polygon_with_calls() -> None:
    zones = fx.zones()
    labels = labels_payload(zones, port_names(zones, fx.calls()), {"NAMPO": 2})
    by_name = {label["name"]: label for label in labels}
    assert set(by_name) == {"Nampo", "Songnim"}
    # Above the port polygon itself, not the anchorage that lies further out.
    assert by_name["Nampo"]["lat"] == 38.76 and by_name["Nampo"]["lon"] == 125.35
    assert by_name["Nampo"]["calls"] == 2 and by_name["Songnim"]["calls"] == 0


def test_online_report_has_port_labels_too() -> None:
    data = embedded_data(build_report(fx.inputs(offline=False)).files["index.html"])
    assert {label["name"] for label in data["labels"]} == {"Nampo", "Songnim"}  # type: ignore[attr-defined]


# --- calls table -----------------------------------------------------------------------------


class _Rows(HTMLParser):
    """Collects each calls-table row's data-search text and its arrival cell's text."""

    def __init__(self) -> None:
        super().__init__()
        self.search: dict[str, str] = {}
        self.badges: dict[str, list[str]] = {}
        self._row: str | None = None
        self._badge = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "tr" and values.get("data-call"):
            self._row = values["data-call"]
            self.search[self._row or ""] = values.get("data-search") or ""
            self.badges[self._row or ""] = []
        if tag == "span" and "mr-badge" in (values.get("class") or ""):
            self._badge = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._badge = False

    def handle_data(self, data: str) -> None:
        if self._badge and self._row is not None:
            self.badges[self._row].append(data)


def _table(**kwargs: object) -> _Rows:
    calls = calls_in_window(fx.calls(), fx.SINCE, fx.UNTIL)
    parser = _Rows()
    parser.feed(calls_table_html(calls, port_names(fx.zones(), calls), **kwargs))  # type: ignore[arg-type]
    return parser


def test_calls_rows_carry_lowercase_search_text_of_vessel_port_and_flag() -> None:
    rows = _table()
    assert rows.search["c1"] == f"{fx.IMG_NAME} 211000001 9123456 nampo kp"
    assert rows.search["c3"] == f"{fx.QUOTE_NAME.lower()} 211000003 songnim cn"


def test_arrival_not_seen_is_marked_start_of_data_or_ais_on_inside() -> None:
    # c2 arrives 12 h after the data starts, unseen: its AIS came on inside the port.
    rows = _table(data_start=fx.SINCE, max_gap_h=4.0)
    assert rows.badges == {"c1": [], "c2": [FIRST_SEEN_INSIDE[0]], "c3": []}
    # Had the data begun within max_gap_h before that arrival, it is only the start of the data.
    rows = _table(data_start=fx.SINCE + timedelta(hours=10), max_gap_h=4.0)
    assert rows.badges["c2"] == [START_OF_DATA[0]]


def test_report_table_has_a_filter_box() -> None:
    page = build_report(fx.inputs()).files["index.html"]
    assert 'id="calls-filter"' in page and "3 of 3 calls" in page


# --- arrivals chart --------------------------------------------------------------------------


def test_chart_legend_names_every_port_once_in_its_own_colour() -> None:
    ports = [f"Port {i:02d} <x>" for i in range(14)]
    days = [date(2024, 5, 1) + timedelta(days=d) for d in range(3)]
    per_day = pl.DataFrame(
        {
            "day": [d for d in days for _ in ports],
            "port_name": ports * len(days),
            "arrivals": [1 + (i % 3) for i in range(len(ports) * len(days))],
        },
        schema={"day": pl.Date(), "port_name": pl.String(), "arrivals": pl.UInt32()},
    )
    html = arrivals_chart_html(per_day)
    swatch = r'<li><span class="mr-swatch" style="background:(#\w+)"></span>(.*?)</li>'
    items = re.findall(swatch, html)
    assert len(items) == 14
    assert len({colour for colour, _ in items}) == 14
    assert {colour for colour, _ in items} <= set(PORT_PALETTE)
    assert all("&lt;x&gt;" in label and "<x>" not in label for _, label in items)
    assert "<svg" in html and html.index("</svg>") < html.index('<ul class="mr-chart-legend">')


@pytest.mark.parametrize("n_ports", [0, 1])
def test_chart_of_few_ports(n_ports: int) -> None:
    per_day = pl.DataFrame(
        {"day": [date(2024, 5, 1)], "port_name": ["Nampo"], "arrivals": [n_ports]},
        schema={"day": pl.Date(), "port_name": pl.String(), "arrivals": pl.UInt32()},
    )
    html = arrivals_chart_html(per_day)
    assert html.count("<li>") == n_ports
