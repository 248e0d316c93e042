"""Looking vessels up in a store: the vessel list, one vessel's story, and checks of the port
ids and MMSIs a command is given (an unknown one is an error that names the closest known)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from monitor.analyse.fleet import identity_changes, search_vessels, vessel_table
from monitor.errors import UnknownIdError
from monitor.store.events import filter_events
from monitor.store.parquet import Store


def closest(value: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` of ``known`` closest to ``value`` (case-insensitive), best first."""
    by_lower: dict[str, str] = {}
    for item in known:
        by_lower.setdefault(item.lower(), item)
    matches = difflib.get_close_matches(value.lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[m] for m in matches]


def _did_you_mean(suggestions: list[str]) -> str:
    return f"; did you mean {', '.join(suggestions)}?" if suggestions else ""


def check_port(port_id: str | None, known: Iterable[str]) -> None:
    """Raise UnknownIdError when ``port_id`` is given and is none of the ``known`` port ids."""
    ids = sorted(set(known))
    if port_id is None or port_id in ids:
        return
    suggestions = closest(port_id, ids)
    listed = f" (ports: {', '.join(ids)})" if ids and not suggestions and len(ids) <= 20 else ""
    raise UnknownIdError(
        f"no port {port_id!r} in the config or the calls{_did_you_mean(suggestions)}{listed}",
        suggestions,
    )


def check_mmsi(mmsi: int | None, known: Iterable[int]) -> None:
    """Raise UnknownIdError when ``mmsi`` is given and the store has no vessel with it."""
    if mmsi is None:
        return
    numbers = set(known)
    if mmsi in numbers:
        return
    suggestions = closest(str(mmsi), (str(m) for m in numbers))
    raise UnknownIdError(
        f"no vessel with MMSI {mmsi} in the store{_did_you_mean(suggestions)}", suggestions
    )


def known_mmsis(store_path: Path | str) -> pl.Series:
    """Return every MMSI with positions or static reports in the store."""
    store = Store(Path(store_path))
    return pl.concat(
        [
            store.scan_positions().select("mmsi").unique().collect()["mmsi"],
            store.scan_statics().select("mmsi").unique().collect()["mmsi"],
        ]
    ).unique()


def load_vessels(store_path: Path | str, calls: pl.DataFrame) -> pl.DataFrame:
    """Return every vessel in the store (``monitor.analyse.fleet.VESSELS_SCHEMA``)."""
    store = Store(Path(store_path))
    return vessel_table(store.scan_positions(), store.scan_statics(), calls)


def list_vessels(
    store_path: Path | str,
    calls: pl.DataFrame,
    *,
    name: str | None = None,
    mmsi: int | None = None,
    imo: int | None = None,
    port_id: str | None = None,
    known_ports: Iterable[str] = (),
) -> pl.DataFrame:
    """Return the vessels matching every criterion given (see ``search_vessels``).

    An MMSI the store does not hold, or a port id neither in ``known_ports`` nor in the calls,
    raises UnknownIdError with the closest known ids.
    """
    vessels = load_vessels(store_path, calls)
    check_mmsi(mmsi, vessels["mmsi"].to_list())
    check_port(port_id, [*known_ports, *calls["port_id"].unique().to_list()])
    return search_vessels(vessels, name=name, mmsi=mmsi, imo=imo, port_id=port_id)


@dataclass
class VesselStory:
    """One vessel: its row of the vessel list, identity changes, calls, and events if any."""

    vessel: dict[str, Any]
    identity: pl.DataFrame
    calls: pl.DataFrame
    events: pl.DataFrame | None = None


def find_vessel(vessels: pl.DataFrame, key: str) -> int:
    """Return the MMSI that ``key`` (an MMSI, or a name) names.

    A name is matched in any case, whole first, then as part of any name the vessel used.
    No match, or several, raises UnknownIdError (with the closest names, or the candidates).
    """
    key = key.strip()
    if key.isdigit():
        mmsi = int(key)
        check_mmsi(mmsi, vessels["mmsi"].to_list())
        return mmsi
    lowered = key.lower()
    exact = vessels.filter(
        pl.col("names").list.eval(pl.element().str.to_lowercase() == lowered).list.any()
    )
    found = exact if exact.height else search_vessels(vessels, name=key)
    if found.height == 1:
        return int(found["mmsi"][0])
    if found.height > 1:
        candidates = [
            f"{row['vessel_name'] or '?'} ({row['mmsi']})"
            for row in found.head(10).iter_rows(named=True)
        ]
        more = f" and {found.height - 10} more" if found.height > 10 else ""
        raise UnknownIdError(
            f"{found.height} vessels match {key!r}: {', '.join(candidates)}{more}; give the MMSI",
            candidates,
        )
    names = [n for names in vessels["names"].to_list() for n in names]
    suggestions = closest(key, names)
    raise UnknownIdError(
        f"no vessel named {key!r} in the store{_did_you_mean(suggestions)}", suggestions
    )


def vessel_story(
    store_path: Path | str,
    key: str,
    calls: pl.DataFrame,
    events: pl.DataFrame | None = None,
) -> VesselStory:
    """Return the story of the vessel ``key`` names (MMSI or name): identity, calls, events
    (:data:`monitor.schema.EVENTS_SCHEMA`; those of the vessel as the other vessel too)."""
    vessels = load_vessels(store_path, calls)
    mmsi = find_vessel(vessels, key)
    store = Store(Path(store_path))
    statics = store.scan_statics().filter(pl.col("mmsi") == mmsi).collect()
    return VesselStory(
        vessel=vessels.filter(pl.col("mmsi") == mmsi).row(0, named=True),
        identity=identity_changes(statics),
        calls=calls.filter(pl.col("mmsi") == mmsi).sort("arrival_utc"),
        events=None if events is None else filter_events(events, mmsi=mmsi),
    )
