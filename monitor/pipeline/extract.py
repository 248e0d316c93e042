"""What ``monitor calls`` lists and ``monitor export`` writes: calls, transits and positions of
the store, kept by period, port and vessel, with unknown ports and MMSIs refused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from monitor.pipeline.lookup import check_mmsi, check_port, known_mmsis
from monitor.store.calls import filter_calls
from monitor.store.parquet import Store


@dataclass(frozen=True)
class Filters:
    """A period and a port and vessel to keep (None keeps everything)."""

    since: datetime | None = None
    until: datetime | None = None
    port_id: str | None = None
    mmsi: int | None = None

    def keep(self, visits: pl.DataFrame, *, open_only: bool = False) -> pl.DataFrame:
        """Return the calls (or transits) at the port, of the vessel, overlapping the period:
        in port at or after ``since`` and arrived before ``until``."""
        return filter_calls(
            visits,
            port_id=self.port_id,
            mmsi=self.mmsi,
            since=self.since,
            until=self.until,
            open_only=open_only,
        )

    def check(self, store_path: Path | str, known_ports: Iterable[str]) -> None:
        """Raise UnknownIdError for a port or an MMSI the config and the store do not know."""
        check_port(self.port_id, known_ports)
        if self.mmsi is not None:
            check_mmsi(self.mmsi, known_mmsis(store_path).to_list())


def positions_for_export(
    store_path: Path | str, calls: pl.DataFrame, filters: Filters
) -> pl.DataFrame:
    """Return the stored positions in the period, of the vessel, with its latest name.

    With a port, only the positions during the vessel's calls there (arrival to departure, or
    to its last position while in port).
    """
    store = Store(Path(store_path))
    scan = store.scan_positions()
    if filters.mmsi is not None:
        scan = scan.filter(pl.col("mmsi") == filters.mmsi)
    if filters.since is not None:
        scan = scan.filter(pl.col("timestamp_utc") >= filters.since)
    if filters.until is not None:
        scan = scan.filter(pl.col("timestamp_utc") < filters.until)
    positions = scan.drop("msg_key").collect()
    if filters.port_id is not None:
        visits = filter_calls(calls, port_id=filters.port_id, mmsi=filters.mmsi)
        spans = visits.select("mmsi", "arrival_utc", end=pl.col("departure_utc"))
        positions = (
            positions.join(spans, on="mmsi")
            .filter(
                (pl.col("timestamp_utc") >= pl.col("arrival_utc"))
                & (pl.col("end").is_null() | (pl.col("timestamp_utc") <= pl.col("end")))
            )
            .drop("arrival_utc", "end")
        )
    names = (
        store.scan_statics()
        .select("mmsi", "timestamp_utc", vessel_name=pl.col("vessel_name").str.strip_chars())
        .filter(pl.col("vessel_name") != "")
        .sort("timestamp_utc")
        .group_by("mmsi")
        .agg(pl.col("vessel_name").last())
        .collect()
    )
    return positions.join(names, on="mmsi", how="left").sort("timestamp_utc", "mmsi")
