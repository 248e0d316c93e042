"""Reports in a real browser: an offline report opened from file:// in headless Chromium.

Skipped when Chromium (/usr/bin/chromium) or Playwright is missing, unless
MONITOR_REQUIRE_BROWSER=1 (as in CI), where a missing browser fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import report_fixtures as fx

from monitor.report import build_report
from monitor.report.build import publish

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("MONITOR_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (MONITOR_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reports")
    content = build_report(fx.inputs())
    entry = {"folder": "day", "until": "2024-05-04", "title": "Fixture day", "numbers": {}}
    return publish(root, "day", content, entry)


class Opened:
    """A page with the report loaded, and what the browser reported while loading it."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        # A hostile name that ran as script would call alert(): record it instead.
        self.page.add_init_script("window.__alerts = []; window.alert = (m) => __alerts.push(m);")
        self.page.goto(url)

    def ready(self) -> Any:
        self.page.wait_for_function(
            "window.monitorReport && monitorReport.state && monitorReport.state.ready",
            timeout=15_000,
        )
        return self.page


@pytest.fixture
def opened(browser: Any, report: Path) -> Iterator[Opened]:
    loaded = Opened(browser, report.as_uri())
    yield loaded
    assert loaded.page.evaluate("window.__alerts") == []
    loaded.page.close()


LAYER_COUNTS = """() => {
  const s = monitorReport.state, g = s.groups, out = {};
  const walk = (layer, visit) => layer.eachLayer
      ? layer.eachLayer(l => walk(l, visit)) : visit(layer);
  out.polygons = 0; walk(g.geofences, l => { if (l instanceof L.Polygon) out.polygons++; });
  out.trackLines = 0; walk(g.tracks, l => {
      if (l instanceof L.Polyline && !(l instanceof L.Polygon)) out.trackLines++; });
  out.callMarkers = 0; walk(g.calls, l => { if (l instanceof L.CircleMarker) out.callMarkers++; });
  out.inport = 0; walk(g.inport, l => { if (l instanceof L.CircleMarker) out.inport++; });
  out.land = 0; if (g.land) walk(g.land, l => { if (l instanceof L.Polygon) out.land++; });
  out.onMap = Object.keys(g).filter(k => s.map.hasLayer(g[k])).sort();
  out.tiles = 0; s.map.eachLayer(l => { if (l instanceof L.TileLayer) out.tiles++; });
  return out;
}"""


def test_offline_map_initialises_with_all_layers_and_no_errors(opened: Opened) -> None:
    page = opened.ready()
    counts = page.evaluate(LAYER_COUNTS)
    assert counts.pop("land") >= 1
    assert counts == {
        "polygons": 3,
        "trackLines": 5,  # four vessels, one dashed line across a 6 h silence
        "callMarkers": 3,
        "inport": 1,
        "onMap": [
            "calls",
            "encounters",
            "events",
            "gaps",
            "geofences",
            "inport",
            "labels",
            "land",
            "loitering",
            "playback",
            "tracks",
        ],
        "tiles": 0,
    }
    assert page.locator(".leaflet-control-layers-overlays label").count() == 11
    assert page.locator(".leaflet-control-zoom-fullscreen").count() == 1
    assert page.locator(".leaflet-control-measure").count() == 1
    assert page.locator(".leaflet-control-scale").count() == 1
    assert page.locator(".mr-legend").count() == 1
    assert opened.errors == []
    remote = [u for u in opened.requests if not u.startswith(("file:", "data:"))]
    assert remote == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-offline.png"), full_page=True)


def _click_marker(page: Any, call_id: str) -> None:
    # A mouse click on the marker's own SVG element: Playwright waits until the element has
    # stopped moving after the zoom and is the one that receives the click (clicking at computed
    # page coordinates could land before the map had redrawn the marker there).
    marker = page.evaluate_handle(
        """(id) => {
          const s = monitorReport.state, m = s.markers[id];
          s.map.setView(m.getLatLng(), 15, {animate: false});
          return m.getElement();
        }""",
        call_id,
    ).as_element()
    assert marker is not None
    marker.click()
    page.wait_for_selector(".leaflet-popup-content .mr-popup-title")


@pytest.mark.parametrize(
    ("call_id", "name"), [("c1", fx.IMG_NAME), ("c2", fx.SCRIPT_NAME), ("c3", fx.QUOTE_NAME)]
)
def test_marker_popup_shows_hostile_name_as_text(opened: Opened, call_id: str, name: str) -> None:
    page = opened.ready()
    _click_marker(page, call_id)
    popup = page.locator(".leaflet-popup-content")
    assert popup.locator(".mr-popup-title").text_content() == name
    assert popup.locator("img, script, b").count() == 0
    assert page.locator("img[src=x]").count() == 0
    assert "MMSI" in (popup.text_content() or "")
    if call_id == "c1":
        page.screenshot(path=str(ARTIFACTS / "report-popup.png"))
    assert opened.errors == []


def test_geofence_tooltip_shows_name_as_text(opened: Opened) -> None:
    page = opened.ready()
    page.evaluate(
        """() => monitorReport.state.groups.geofences.eachLayer(g => g.eachLayer(l => {
             if (l.feature.properties.id === 'NAMPO-A') l.openTooltip(l.getBounds().getCenter());
           }))"""
    )
    tooltip = page.locator(".leaflet-tooltip .mr-popup-title")
    assert tooltip.text_content() == "Nampo <b>anchorage</b>"
    assert page.locator(".leaflet-tooltip b").count() == 0
    tooltip_box = page.locator(".leaflet-tooltip:not(.mr-port-label)")
    assert "Calls in period2" in (tooltip_box.text_content() or "")


def _column(page: Any, index: int) -> list[str]:
    cells = page.locator(f"#calls-table tbody tr td:nth-child({index})")
    return [c.strip() for c in cells.all_text_contents()]


def test_calls_table_sorts_by_any_column(opened: Opened) -> None:
    page = opened.ready()
    header = page.locator("#calls-table thead th", has_text="MMSI")
    header.click()
    assert _column(page, 2) == ["211000001", "211000002", "211000003"]
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert _column(page, 2) == ["211000003", "211000002", "211000001"]
    page.locator("#calls-table thead th", has_text="Duration").click()
    assert _column(page, 9) == ["7.0", "12.0", "17.0"]  # numeric, not text, order
    page.locator("#calls-table thead th", has_text="Vessel").click()
    assert _column(page, 1)[0] == fx.SCRIPT_NAME  # "<" sorts before letters
    assert opened.errors == []


def test_table_row_opens_the_call_on_the_map(opened: Opened) -> None:
    page = opened.ready()
    page.locator('#calls-table tr[data-call="c3"] td').first.click()
    page.wait_for_selector(".leaflet-popup-content .mr-popup-title")
    assert page.locator(".leaflet-popup-content .mr-popup-title").text_content() == fx.QUOTE_NAME


def test_playback_slider_moves_vessels(opened: Opened) -> None:
    page = opened.ready()
    shown = """(t) => {
      const input = document.querySelector('.mr-playback input[type=range]');
      input.value = String(t); input.dispatchEvent(new Event('input'));
      return [monitorReport.state.groups.playback.getLayers().length,
              document.querySelector('.mr-playback-time').textContent];
    }"""
    assert page.evaluate(shown, 0) == [4, "2024-05-03 00:00 UTC"]
    # At 09:00 vessel 2 has been silent for 2 h: shown where it was last heard. At 12:00 the
    # silence is over the 4 h gap threshold, so it is no longer placed.
    assert page.evaluate(shown, 9 * 3600) == [4, "2024-05-03 09:00 UTC"]
    assert page.evaluate(shown, 12 * 3600) == [3, "2024-05-03 12:00 UTC"]
    page.locator(".mr-playback button").click()
    page.wait_for_function("monitorReport.state.playbackTime > 13 * 3600")
    page.locator(".mr-playback button").click()
    assert opened.errors == []


def test_layer_control_switches_layers_and_measure_tool_works(opened: Opened) -> None:
    page = opened.ready()
    page.locator(".leaflet-control-layers-overlays label", has_text="Vessel tracks").click()
    assert (
        page.evaluate("monitorReport.state.map.hasLayer(monitorReport.state.groups.tracks)")
        is False
    )
    page.locator(".leaflet-control-measure").hover()
    page.locator(".leaflet-control-measure .js-start").click()
    box = page.locator(".folium-map").bounding_box()
    page.mouse.click(box["x"] + 300, box["y"] + 300)
    page.mouse.click(box["x"] + 500, box["y"] + 320)
    results = page.locator(".leaflet-control-measure .results").text_content() or ""
    assert "Kilometers" in results and "nautical miles" in results
    assert opened.errors == []


def test_reports_index_opens_and_links_the_report(browser: Any, report: Path) -> None:
    page = browser.new_page()
    page.goto((report.parent.parent / "index.html").as_uri())
    link = page.locator("#reports a", has_text="Fixture day")
    assert link.get_attribute("href") == "day/index.html"
    page.close()


def test_empty_period_opens_cleanly(browser: Any, tmp_path: Path) -> None:
    inputs = fx.inputs(calls=fx.calls().clear(), positions=fx.positions().clear())
    index = publish(tmp_path, "empty", build_report(inputs), {"folder": "empty", "numbers": {}})
    loaded = Opened(browser, index.as_uri())
    page = loaded.ready()
    counts = page.evaluate(LAYER_COUNTS)
    assert (counts["polygons"], counts["trackLines"], counts["callMarkers"]) == (3, 0, 0)
    assert counts["land"] >= 1
    assert page.locator("#no-calls").is_visible()
    assert page.locator(".mr-playback").count() == 0
    assert loaded.errors == []
    page.screenshot(path=str(ARTIFACTS / "report-empty.png"))
    page.close()


def test_online_report_without_network_says_so_and_tables_still_sort(
    browser: Any, tmp_path: Path
) -> None:
    content = build_report(fx.inputs(offline=False))
    index = publish(tmp_path, "online", content, {"folder": "online", "numbers": {}})
    page = browser.new_page()
    # This test machine has no route to the CDN: every remote request fails, as offline.
    page.route("http*://**/*", lambda route: route.abort())
    page.goto(index.as_uri())
    assert page.locator(".mr-no-map").is_visible()
    header = page.locator("#calls-table thead th", has_text="MMSI")
    header.click()
    header.click()
    assert _column(page, 2) == ["211000003", "211000002", "211000001"]
    page.close()


# --- land, labels, controls, filter ------------------------------------------------------------

LAND_UNDER_ZONES = """() => {
  const pane = (name) => document.querySelector('.leaflet-' + name + '-pane');
  const land = pane('mr-land'), overlay = pane('overlay');
  const z = (el) => Number(getComputedStyle(el).zIndex);
  const s = monitorReport.state, paths = (g) => {
    const out = []; g.eachLayer(l => l.eachLayer ? l.eachLayer(x => out.push(x)) : out.push(l));
    return out.map(l => l.getElement()).filter(Boolean);
  };
  const landPaths = paths(s.groups.land), zonePaths = paths(s.groups.geofences);
  const drawn = landPaths.filter(p => { const r = p.getBoundingClientRect();
    return r.width > 0 && r.height > 0; }).length;
  return {
    landInPane: landPaths.length > 0 && landPaths.every(p => land.contains(p)),
    zonesInOverlay: zonePaths.length === 3 && zonePaths.every(p => overlay.contains(p)),
    landBelow: z(land) < z(overlay), landClicks: getComputedStyle(land).pointerEvents,
    drawn: drawn, fill: landPaths[0].getAttribute('fill'),
  };
}"""


def test_offline_land_is_drawn_under_the_geofences(opened: Opened) -> None:
    page = opened.ready()
    found = page.evaluate(LAND_UNDER_ZONES)
    assert found == {
        "landInPane": True,
        "zonesInOverlay": True,
        "landBelow": True,
        "landClicks": "none",
        "drawn": found["drawn"],
        "fill": "#f2efe6",
    }
    assert found["drawn"] >= 1
    assert "GSHHG" in (page.locator(".leaflet-control-attribution").text_content() or "")


def test_port_names_are_labelled_on_the_map(opened: Opened) -> None:
    page = opened.ready()
    labels = page.locator(".mr-port-label")
    assert sorted(labels.all_text_contents()) == ["Nampo", "Songnim"]
    assert all(labels.nth(i).is_visible() for i in range(2))


def test_filter_box_keeps_the_matching_calls(opened: Opened) -> None:
    page = opened.ready()
    box = page.locator("#calls-filter")

    def shown() -> list[str]:
        rows = page.locator("#calls-table tbody tr:not([hidden])")
        return sorted(r.get_attribute("data-call") or "" for r in rows.all())

    box.fill("songnim")
    assert shown() == ["c3"]
    box.fill("NAMPO kp")  # every word, any case: port and flag
    assert shown() == ["c1"]
    box.fill("21100000")  # part of an MMSI
    assert shown() == ["c1", "c2", "c3"]
    box.fill("o'brien")
    assert shown() == ["c3"]
    assert page.locator("#calls-shown").text_content() == "1 of 3 calls"
    box.fill("")
    assert shown() == ["c1", "c2", "c3"]
    assert opened.errors == []


def _boxes(page: Any) -> dict[str, Any]:
    boxes: dict[str, Any] = page.evaluate(
        """() => {
          const r = (sel) => { const e = document.querySelector(sel);
            if (!e) return null; const b = e.getBoundingClientRect();
            return {x: b.x, y: b.y, right: b.right, bottom: b.bottom, w: b.width, h: b.height}; };
          return {map: r('.folium-map'), layers: r('.leaflet-control-layers'),
                  legend: r('.mr-legend'), playback: r('.mr-playback'),
                  zoom: r('.leaflet-control-zoom'), measure: r('.leaflet-control-measure')};
        }"""
    )
    return boxes


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    across = a["x"] < b["right"] and b["x"] < a["right"]
    return across and a["y"] < b["bottom"] and b["y"] < a["bottom"]


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"] - 0.5
        and inner["right"] <= outer["right"] + 0.5
        and inner["y"] >= outer["y"] - 0.5
        and inner["bottom"] <= outer["bottom"] + 0.5
    )


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from monitor.pipeline.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo") / "demo", days=2, vessels=30).report


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1920, 1080)])
def test_demo_report_controls_fit_the_screen(
    browser: Any, demo_report: Path, width: int, height: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(demo_report.as_uri())
    page.wait_for_function("monitorReport.state && monitorReport.state.ready", timeout=30_000)
    if "mr-legend-closed" in (page.locator(".mr-legend").get_attribute("class") or ""):
        page.locator(".mr-legend-toggle").click()
    assert page.locator(".mr-legend-toggle").get_attribute("aria-expanded") == "true"
    boxes = _boxes(page)
    assert not _overlap(boxes["legend"], boxes["layers"])
    for name in ("layers", "legend", "playback", "zoom"):
        assert _inside(boxes[name], boxes["map"]), name
    assert not _overlap(boxes["legend"], boxes["playback"])
    assert page.evaluate("monitorReport.state.counts.land") >= 1
    # The arrivals chart's legend lists every port with calls, none cut off at the page's edge.
    items = page.locator("#arrivals-chart .mr-chart-legend li")
    assert items.count() >= 2
    for i in range(items.count()):
        item = items.nth(i).bounding_box()
        assert item is not None and item["x"] + item["width"] <= width
    # The legend folds away and opens again.
    page.locator(".mr-legend-toggle").click()
    assert not page.locator(".mr-legend-body").is_visible()
    page.locator(".mr-legend-toggle").click()
    assert page.locator(".mr-legend-body").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"demo-report-{width}x{height}.png"))
    assert errors == []
    page.close()


def test_demo_report_on_a_phone_leaves_the_map_visible(browser: Any, demo_report: Path) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(demo_report.as_uri())
    page.wait_for_function("monitorReport.state && monitorReport.state.ready", timeout=30_000)
    # Layer control folded into its button, legend folded behind its title.
    assert page.locator(".leaflet-control-layers-expanded").count() == 0
    assert not page.locator(".mr-legend-body").is_visible()
    boxes = _boxes(page)
    controls = ["layers", "legend", "playback", "zoom", "measure"]
    for name in controls:
        assert _inside(boxes[name], boxes["map"]), name
    for i, a in enumerate(controls):
        for b in controls[i + 1 :]:
            assert not _overlap(boxes[a], boxes[b]), (a, b)
    covered = sum(boxes[name]["w"] * boxes[name]["h"] for name in controls)
    assert covered < 0.2 * boxes["map"]["w"] * boxes["map"]["h"]
    page.locator(".mr-legend-toggle").tap()
    assert page.locator(".mr-legend-body").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-report-phone.png"))
    page.close()
