"""Identity events from static reports and MMSIs: changed names, IMOs, call signs and ship types,
one IMO under two MMSIs at once, and MMSIs no ship should have.

Pure functions on polars frames. Each returns some columns of
:data:`monitor.schema.EVENTS_SCHEMA` (kind, mmsi, other_mmsi, start_utc, end_utc, field,
old_value, new_value, details); :mod:`monitor.analyse.events` places and names them.
"""

from __future__ import annotations

import json

import polars as pl

from monitor.analyse.vessels import MID_COUNTRIES, mid_of, ship_type_expr
from monitor.schema import EventKind

#: Identity fields whose change is an event, in the order they are reported.
IDENTITY_FIELDS = ("vessel_name", "imo", "callsign", "ship_type")

#: MMSIs that cheap or unconfigured transceivers broadcast: repeated digits, counting up or down,
#: and 1193046 (0x123456). Many unrelated boats share each of them.
DEFAULT_MMSIS: frozenset[int] = frozenset(
    {int(str(d) * 9) for d in range(1, 10)}
    | {0, 1, 1_193_046, 1_234_567, 12_345_678, 123_456_789, 987_654_321}
)
#: Search and rescue transmitters, man overboard and EPIRB devices: valid MMSIs without a MID.
_DEVICE_PREFIXES = (970, 972, 974)

_CHANGE_COLUMNS = ("kind", "mmsi", "start_utc", "end_utc", "field", "old_value", "new_value")


def _values(statics: pl.DataFrame, field: str) -> pl.DataFrame:
    """Return mmsi, timestamp_utc and the field's value as text, where reported."""
    column = pl.col(field)
    if field in ("vessel_name", "callsign"):
        value = column.str.replace_all(r"\s+", " ").str.strip_chars().replace("", None)
    elif field == "imo":
        value = pl.when(column > 0).then(column.cast(pl.String))
    else:
        value = pl.when(column > 0).then(ship_type_expr(column))
    return statics.select("mmsi", "timestamp_utc", value=value).drop_nulls()


#: Per MMSI, identity field, day and value reported that day: when first that day, the value
#: reported just before it that day (null for the day's first report), and whether it is the
#: day's last value. Days summarise a history exactly for :func:`changes_of`, so a day whose
#: reports change is summarised again alone.
IDENTITY_DAYS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "field": pl.String(),
    "day": pl.Date(),
    "value": pl.String(),
    "first_utc": pl.Datetime("us", "UTC"),
    "prev_value": pl.String(),
    "last_in_day": pl.Boolean(),
}
#: Per IMO, MMSI, day and name (stripped, null when none) reported with that IMO: first and last
#: report, for :func:`imo_reuse_of`.
IMO_DAYS_SCHEMA: dict[str, pl.DataType] = {
    "imo": pl.UInt32(),
    "mmsi": pl.UInt32(),
    "day": pl.Date(),
    "name": pl.String(),
    "first_utc": pl.Datetime("us", "UTC"),
    "last_utc": pl.Datetime("us", "UTC"),
}


def identity_days(statics: pl.DataFrame) -> pl.DataFrame:
    """Return the :data:`IDENTITY_DAYS_SCHEMA` summary of ``statics``."""
    frames = []
    for field in IDENTITY_FIELDS:
        values = (
            _values(statics, field)
            .with_columns(day=pl.col("timestamp_utc").dt.date())
            .sort("mmsi", "timestamp_utc", "value")
        )
        per_day = ["mmsi", "day"]
        frames.append(
            values.with_columns(
                prev_value=pl.col("value").shift(1).over(per_day),
                last_in_day=pl.col("value") == pl.col("value").last().over(per_day),
            )
            .filter(pl.struct("mmsi", "day", "value").is_first_distinct())
            .select(
                "mmsi",
                field=pl.lit(field),
                day="day",
                value="value",
                first_utc="timestamp_utc",
                prev_value="prev_value",
                last_in_day="last_in_day",
            )
        )
    return pl.concat(frames).select([pl.col(c).cast(t) for c, t in IDENTITY_DAYS_SCHEMA.items()])


def changes_of(days: pl.DataFrame) -> pl.DataFrame:
    """Return the identity_change events of the history that ``days`` (an
    :data:`IDENTITY_DAYS_SCHEMA` summary) summarises; see :func:`identity_changes`."""
    by = ["mmsi", "field"]
    firsts = days.sort(*by, "value", "first_utc").unique(
        subset=[*by, "value"], keep="first", maintain_order=True
    )
    # A value first reported as a day's first report follows the last value of the day before
    # (days are apart in time, so no tie crosses them).
    lasts = days.filter(pl.col("last_in_day")).select(*by, "day", last_value="value").sort("day")
    firsts = firsts.sort("day").join_asof(
        lasts,
        on="day",
        by=by,
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    found = firsts.with_columns(old_value=pl.coalesce("prev_value", "last_value")).filter(
        pl.col("old_value").is_not_null()
    )
    order = {field: i for i, field in enumerate(IDENTITY_FIELDS)}
    return found.sort(
        pl.col("field").replace_strict(order, return_dtype=pl.UInt8), "mmsi", "first_utc", "value"
    ).select(
        kind=pl.lit(EventKind.IDENTITY_CHANGE.value),
        mmsi="mmsi",
        start_utc="first_utc",
        end_utc="first_utc",
        field="field",
        old_value="old_value",
        new_value="value",
    )


def identity_changes(statics: pl.DataFrame) -> pl.DataFrame:
    """Return an identity_change per MMSI, field and value first reported after another one.

    A value is new the first time the MMSI reports it; a value seen before (two ships on one
    MMSI, alternating) is no new change. ``old_value`` is the value reported just before.
    """
    return changes_of(identity_days(statics)).select(_CHANGE_COLUMNS)


def imo_days(statics: pl.DataFrame) -> pl.DataFrame:
    """Return the :data:`IMO_DAYS_SCHEMA` summary of ``statics``."""
    return (
        statics.filter(pl.col("imo") > 0)
        .group_by(
            "imo",
            "mmsi",
            day=pl.col("timestamp_utc").dt.date(),
            name=pl.col("vessel_name").str.strip_chars(),
        )
        .agg(first_utc=pl.col("timestamp_utc").min(), last_utc=pl.col("timestamp_utc").max())
        .select([pl.col(c).cast(t) for c, t in IMO_DAYS_SCHEMA.items()])
    )


def imo_reuse(statics: pl.DataFrame) -> pl.DataFrame:
    """Return an imo_reuse per IMO and pair of MMSIs that both reported it at overlapping times.

    ``start_utc``/``end_utc`` is the overlap of the two MMSIs' first and last report of the IMO;
    ``details`` holds the names each MMSI reported, in the order first reported.
    """
    return imo_reuse_of(imo_days(statics))


def imo_reuse_of(days: pl.DataFrame) -> pl.DataFrame:
    """Return the imo_reuse events of the history that ``days`` (an :data:`IMO_DAYS_SCHEMA`
    summary) summarises; see :func:`imo_reuse`."""
    names = (
        days.drop_nulls("name")
        .group_by("imo", "mmsi", "name")
        .agg(pl.col("first_utc").min())
        .sort("first_utc", "name")
        .group_by("imo", "mmsi", maintain_order=True)
        .agg(names=pl.col("name"))
    )
    reported = (
        days.group_by("imo", "mmsi")
        .agg(pl.col("first_utc").min(), pl.col("last_utc").max())
        .join(names, on=["imo", "mmsi"], how="left")
        .with_columns(pl.col("names").fill_null([]))
    )
    pairs = (
        reported.join(reported, on="imo", suffix="_b")
        .filter(pl.col("mmsi") < pl.col("mmsi_b"))
        .with_columns(
            start_utc=pl.max_horizontal("first_utc", "first_utc_b"),
            end_utc=pl.min_horizontal("last_utc", "last_utc_b"),
        )
        .filter(pl.col("start_utc") <= pl.col("end_utc"))
        .sort("imo", "mmsi", "mmsi_b")
    )
    details = [
        json.dumps({"names": {str(a): list(na), str(b): list(nb)}}, ensure_ascii=False)
        for a, na, b, nb in pairs.select("mmsi", "names", "mmsi_b", "names_b").iter_rows()
    ]
    return pairs.select(
        kind=pl.lit(EventKind.IMO_REUSE.value),
        mmsi="mmsi",
        other_mmsi="mmsi_b",
        start_utc="start_utc",
        end_utc="end_utc",
        field=pl.lit("imo"),
        new_value=pl.col("imo").cast(pl.String),
        details=pl.Series(details, dtype=pl.String),
    )


def mmsi_problem(mmsi: int) -> str | None:
    """Return why no ship should broadcast ``mmsi`` (a default, an unallocated MID), or None."""
    if mmsi in DEFAULT_MMSIS:
        return "default number of unconfigured transceivers"
    if mmsi // 1_000_000 in _DEVICE_PREFIXES:
        return None
    mid = mid_of(mmsi)
    if mid is None:
        return "not an MMSI of any station type"
    if mid not in MID_COUNTRIES:
        return f"MID {mid} is not allocated to any country"
    return None


def invalid_mmsis(seen: pl.DataFrame) -> pl.DataFrame:
    """Return an invalid_mmsi per MMSI of ``seen`` (mmsi, first_utc, last_utc) that is no ship's."""
    problems = {m: mmsi_problem(m) for m in seen["mmsi"].unique().to_list()}
    bad = {m: why for m, why in problems.items() if why is not None}
    return (
        seen.filter(pl.col("mmsi").is_in(list(bad)))
        .sort("mmsi")
        .select(
            kind=pl.lit(EventKind.INVALID_MMSI.value),
            mmsi="mmsi",
            start_utc="first_utc",
            end_utc="last_utc",
            field=pl.lit("mmsi"),
            new_value=pl.col("mmsi").replace_strict(bad, return_dtype=pl.String),
        )
    )


#: Per MMSI and day with static reports: the first and last of them, for :func:`invalid_mmsis`.
SEEN_DAYS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.UInt32(),
    "day": pl.Date(),
    "first_utc": pl.Datetime("us", "UTC"),
    "last_utc": pl.Datetime("us", "UTC"),
}


def seen_days(statics: pl.DataFrame) -> pl.DataFrame:
    """Return the :data:`SEEN_DAYS_SCHEMA` summary of ``statics``."""
    return (
        statics.group_by("mmsi", day=pl.col("timestamp_utc").dt.date())
        .agg(first_utc=pl.col("timestamp_utc").min(), last_utc=pl.col("timestamp_utc").max())
        .select([pl.col(c).cast(t) for c, t in SEEN_DAYS_SCHEMA.items()])
    )
