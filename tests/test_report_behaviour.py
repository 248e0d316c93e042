"""Reports with dark periods, encounters, loitering and a watchlist."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import polars as pl
import report_fixtures as fx
from test_report import embedded_data

from monitor.analyse.watchlist import parse_watchlist
from monitor.report.build import build_report
from monitor.schema import EVENTS_SCHEMA


def _event(event_id: str, kind: str, mmsi: int, hours: float, **values: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "kind": kind,
        "mmsi": mmsi,
        "start_utc": fx.SINCE + timedelta(hours=hours),
        "lat": 38.9,
        "lon": 125.0,
        **values,
    }


def events() -> pl.DataFrame:
    def details(**values: object) -> str:
        return json.dumps(values)

    rows = [
        _event(
            "g-dark", "gap", 211000001, 1, end_utc=fx.SINCE + timedelta(hours=9),
            other_lat=39.5, other_lon=125.6, distance_km=84.0, duration_h=8.0,
            details=details(cause="dark", where="at_sea", open=False),
        ),
        _event(
            "g-open", "gap", 211000003, 15, duration_h=9.0,
            details=details(cause="dark", where="departed_dark", open=True),
        ),
        _event(
            "g-coverage", "gap", 211000002, 3, end_utc=fx.SINCE + timedelta(hours=10),
            other_lat=39.0, other_lon=125.1, duration_h=7.0,
            details=details(cause="coverage", where="at_sea", open=False),
        ),
        _event(
            "m-1", "encounter", 211000002, 4, end_utc=fx.SINCE + timedelta(hours=8),
            other_mmsi=211000003, duration_h=4.0, n_positions=25,
            details=details(median_distance_m=120.0, median_speed_kn=0.3, partly_dark=True),
        ),
        _event(
            "l-1", "loitering", 211000003, 4, end_utc=fx.SINCE + timedelta(hours=9),
            duration_h=5.0, n_positions=40, details=details(median_speed_kn=0.5),
        ),
    ]  # fmt: skip
    frame = pl.DataFrame(rows, schema={k: EVENTS_SCHEMA[k] for k in EVENTS_SCHEMA}, orient="row")
    return frame.select(list(EVENTS_SCHEMA))


def test_each_behaviour_kind_is_a_layer_and_only_dark_silences_are_shown() -> None:
    content = build_report(fx.inputs(events=events()))
    page = content.files["index.html"]
    data = embedded_data(page)
    layer = {e["id"]: e for e in data["events"]}  # type: ignore[attr-defined]
    assert set(layer) == {"g-dark", "g-open", "m-1", "l-1"}
    # A dark period is drawn from where the vessel fell silent to where it came back.
    assert layer["g-dark"]["o"] == [39.5, 125.6]
    assert layer["g-open"]["o"] is None
    what = {key: dict(value["fields"])["What"] for key, value in layer.items()}
    assert what["g-dark"] == "dark: silent 8.0 h, at sea, back 84 km away"
    assert what["g-open"] == "dark: silent 9.0 h to the end of the data, departed dark"
    assert what["m-1"] == "with MMSI 211000003 for 4.0 h, 120 m apart (one of them dark meanwhile)"
    assert what["l-1"] == "slow at 0.5 kn for 5.0 h outside ports"
    for label in ("Dark periods", "Encounters", "Loitering"):
        assert label in page
    # The still silent vessel's row has no end yet.
    row = re.search(r'<tr data-event="g-open".*?</tr>', page, re.S)
    assert row is not None and "still silent" in row.group(0)


def test_watchlist_vessels_come_first_and_are_marked() -> None:
    watchlist = parse_watchlist(
        "mmsi,imo,name,list,note\n211000003,,,OFAC,\n,9123456,,UN 1718,\n", "w.csv"
    )
    content = build_report(fx.inputs(events=events(), watchlist=watchlist))
    page = content.files["index.html"]
    data = embedded_data(page)
    calls = data["calls"]
    assert isinstance(calls, list)
    # c1 (IMO 9123456) and c3 (MMSI 211000003) first, then the others in arrival order.
    assert [c["id"] for c in calls] == ["c1", "c3", "c2"]
    assert [c["w"] for c in calls] == ["UN 1718", "OFAC", None]
    events_layer = {e["id"]: e["w"] for e in data["events"]}  # type: ignore[attr-defined]
    # The encounter is OFAC's through its second vessel.
    assert events_layer == {"g-open": "OFAC", "m-1": "OFAC", "l-1": "OFAC", "g-dark": None}
    table = page[page.index('id="events-table"') :]
    order = re.findall(r'<tr data-event="([^"]+)"', table)
    assert order[:3] == ["m-1", "l-1", "g-open"] and order[3] == "g-dark"
    assert len(re.findall(r'class="[^"]*mr-row-watch', page)) == 5
    assert 'title="Watchlist: OFAC"' in page
