"""Scores of dark periods and encounters against the simulator's truth (used by accuracy.py).

Dark periods: the truth is every planned switch-off (``truth/silences.csv``). A detected gap of
cause ``dark`` is right when a switch-off of the same MMSI overlaps it. A switch-off counts
towards recall when the data shows it: it begins after the data does (the vessel was seen
before it) and lasts, within the data, at least the detector's threshold for it
(``gaps.near_port_min_gap_h`` where the data shows the vessel in port at one end of it: a dark
departure, or a dark arrival ending before the data does; ``gaps.min_gap_h`` otherwise).

Encounters: the truth is every planned meeting (``truth/meetings.csv``). A detected encounter is
right when a meeting of the same two MMSIs overlaps it. A meeting counts towards recall unless
one of the two was dark all through it (kind ``dark``: no feed shows it), or it lasted, within
the data, less than ``encounters.min_duration_h``, or (kind ``partly_dark``) the feed did not
hear the dark one at the spot both before and after its silence (with satellite passes hours
apart, the pass after it switched on may come after it left).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from monitor.config import EncounterSettings, GapSettings

_US_PER_H = 3_600_000_000


@dataclass
class EventScores:
    """Precision and recall of one kind of event in one scenario."""

    n_true: int
    n_detectable: int
    n_detected: int
    n_right: int
    n_found: int
    #: Found among the detectable ones, by kind of truth row.
    found_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)
    missed: pl.DataFrame = field(default_factory=pl.DataFrame)
    false: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def precision(self) -> float:
        return self.n_right / self.n_detected if self.n_detected else 1.0

    @property
    def recall(self) -> float:
        return self.n_found / self.n_detectable if self.n_detectable else 1.0


def _overlapping(
    truth: pl.DataFrame, found: pl.DataFrame, on: list[str], data_end: datetime
) -> pl.DataFrame:
    """Return (t, d) index pairs of truth and detected rows with equal ``on`` overlapping."""
    end = pl.lit(data_end, dtype=pl.Datetime("us", "UTC"))
    pairs = truth.with_row_index("t").join(found.with_row_index("d"), on=on, suffix="_d")
    return pairs.filter(
        (pl.col("start_utc") < pl.col("end_utc_d").fill_null(end))
        & (pl.col("start_utc_d") < pl.col("end_utc").fill_null(end))
    ).select("t", "d")


def _by_kind(truth: pl.DataFrame, found: set[int]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for kind, rows in truth.with_row_index("t").group_by("kind", maintain_order=True):
        ids = set(rows["t"].to_list())
        out[str(kind[0])] = (len(ids & found), len(ids))
    return dict(sorted(out.items()))


def score_gaps(
    truth: pl.DataFrame,
    gaps: pl.DataFrame,
    settings: GapSettings,
    data_start: datetime,
    data_end: datetime,
) -> EventScores:
    """Return the scores of ``gaps`` (GAPS_SCHEMA) against the truth's silences."""
    dark = gaps.filter(pl.col("cause") == "dark").select(
        "mmsi", start_utc="gap_start_utc", end_utc="gap_end_utc"
    )
    # The shorter threshold applies where the data shows the vessel in port at an end of the
    # silence: a dark departure's start, a dark arrival's end if the data reaches it.
    near_port = (pl.col("kind") == "dark_departure") | (
        (pl.col("kind") == "dark_arrival") & (pl.col("end_utc") <= data_end)
    )
    threshold = (
        pl.when(near_port)
        .then(pl.lit(settings.near_port_min_gap_h))
        .otherwise(pl.lit(settings.min_gap_h))
    )
    seen_h = (
        pl.min_horizontal("end_utc", pl.lit(data_end, dtype=pl.Datetime("us", "UTC")))
        - pl.col("start_utc")
    ).dt.total_microseconds() / _US_PER_H
    truth = truth.with_columns(
        detectable=(pl.col("start_utc") > data_start) & (seen_h >= threshold)
    )
    pairs = _overlapping(truth.select("mmsi", "start_utc", "end_utc"), dark, ["mmsi"], data_end)
    right = set(pairs["d"].to_list())
    matched = set(pairs["t"].to_list())
    detectable = truth.with_row_index("t").filter("detectable")
    wanted = set(detectable["t"].to_list())
    return EventScores(
        n_true=truth.height,
        n_detectable=len(wanted),
        n_detected=dark.height,
        n_right=len(right),
        n_found=len(wanted & matched),
        found_by_kind=_by_kind(
            truth.filter("detectable"),
            {i for i, t in enumerate(detectable["t"].to_list()) if t in matched},
        ),
        missed=detectable.filter(~pl.col("t").is_in(list(matched))),
        false=gaps.filter(pl.col("cause") == "dark")
        .with_row_index("d")
        .filter(~pl.col("d").is_in(list(right))),
    )


def seen_at_the_spot(meetings: pl.DataFrame, positions: pl.DataFrame) -> pl.Series:
    """Return per meeting whether its dark vessel (if any) was heard within 1 km of the spot
    in its first and in its last hour (``positions``: mmsi, timestamp_utc, lat, lon)."""
    hour = pl.duration(hours=1)
    near = (
        meetings.with_row_index("m")
        .join(positions, left_on="dark_mmsi", right_on="mmsi")
        .filter(
            ((pl.col("lat_right") - pl.col("lat")).abs() < 0.009)
            & ((pl.col("lon_right") - pl.col("lon")).abs() < 0.012)
        )
        .group_by("m")
        .agg(
            before=(pl.col("timestamp_utc") <= pl.col("start_utc") + hour).any(),
            after=(pl.col("timestamp_utc") >= pl.col("end_utc") - hour).any(),
        )
        .filter(pl.col("before") & pl.col("after"))
    )
    both = set(near["m"].to_list())
    return pl.Series(
        [d is None or m in both for m, d in enumerate(meetings["dark_mmsi"].to_list())]
    )


def score_encounters(
    truth: pl.DataFrame,
    found: pl.DataFrame,
    settings: EncounterSettings,
    data_end: datetime,
    positions: pl.DataFrame | None = None,
) -> EventScores:
    """Return the scores of ``found`` (ENCOUNTERS_SCHEMA) against the truth's meetings
    (``positions``, when given, tell which partly dark meetings the feed shows)."""

    def pair(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            lo=pl.min_horizontal("mmsi_a", "mmsi_b"), hi=pl.max_horizontal("mmsi_a", "mmsi_b")
        )

    seen_h = (
        pl.min_horizontal("end_utc", pl.lit(data_end, dtype=pl.Datetime("us", "UTC")))
        - pl.col("start_utc")
    ).dt.total_microseconds() / _US_PER_H
    shown = seen_at_the_spot(truth, positions) if positions is not None else True
    truth = pair(truth).with_columns(
        detectable=(pl.col("kind") != "dark") & (seen_h >= settings.min_duration_h) & shown
    )
    detected = pair(found)
    pairs = _overlapping(
        truth.select("lo", "hi", "start_utc", "end_utc"),
        detected.select("lo", "hi", "start_utc", "end_utc"),
        ["lo", "hi"],
        data_end,
    )
    right = set(pairs["d"].to_list())
    matched = set(pairs["t"].to_list())
    detectable = truth.with_row_index("t").filter("detectable")
    wanted = set(detectable["t"].to_list())
    return EventScores(
        n_true=truth.height,
        n_detectable=len(wanted),
        n_detected=found.height,
        n_right=len(right),
        n_found=len(wanted & matched),
        found_by_kind=_by_kind(
            truth.filter("detectable"),
            {i for i, t in enumerate(detectable["t"].to_list()) if t in matched},
        ),
        missed=detectable.filter(~pl.col("t").is_in(list(matched))),
        false=found.with_row_index("d").filter(~pl.col("d").is_in(list(right))),
    )
