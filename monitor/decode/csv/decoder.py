"""CSV position exports: NOAA MarineCadastre, Danish Maritime Authority, or any mapped CSV.

The dialect is recognised from the header. Rows are parsed with polars, a chunk at a time; rows
that fail validation are counted by reason and skipped. Identity columns (name, IMO, call sign,
type, draught, destination) become static rows, one per vessel per distinct identity per day.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from typing import Final

import numpy as np
import polars as pl

from monitor.config import CsvColumns
from monitor.decode.codes import Reject, TimeSource
from monitor.decode.csv.dialects import (
    FIELDS,
    MOBILE_CLASS,
    NAV_STATUS_TEXT,
    NON_VESSEL_CLASS,
    SHIP_TYPE_TEXT,
    resolve_columns,
)
from monitor.decode.nmea.decoder import TIME_MAX_US, TIME_MIN_US
from monitor.errors import SourceError
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA, UTC_US, DecodedBatch, empty_frame

log = logging.getLogger(__name__)


#: Fields read as numbers (each parsed once per chunk).
_NUMERIC: Final = tuple(
    f
    for f in FIELDS
    if f not in {"timestamp", "vessel_name", "callsign", "destination", "eta", "mobile_class"}
)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def row_keys(frame: pl.DataFrame, columns: list[pl.Expr]) -> pl.Series:
    """Return a stable 64-bit key per row of ``frame`` from integer expressions ``columns``.

    Unlike ``Expr.hash`` the result does not change between polars versions, so rows ingested
    again after an upgrade still match the stored ones.
    """
    ints = frame.select([c.cast(pl.Int64).fill_null(-(2**62)) for c in columns])
    keys = np.full(frame.height, 0x5BD1E995, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in ints.columns:
            keys = _splitmix(keys ^ ints[name].to_numpy().view(np.uint64))
    return pl.Series("msg_key", keys, dtype=pl.UInt64)


def _identity_key(values: tuple[object, ...]) -> int:
    digest = hashlib.blake2b(repr(values).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


#: Timestamp layouts tried, in order, when no format is configured.
TIME_FORMATS: Final = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
)


def _epoch(text: pl.Expr) -> pl.Expr:
    number = text.cast(pl.Float64, strict=False)
    # Bare numbers are epoch seconds, or milliseconds when too large to be seconds.
    # Not strict: a number too big for a time (1e300, inf) gives no time instead of an error.
    epoch_us = (
        pl.when(number > 1e11)
        .then(number * 1e3)
        .otherwise(number * 1e6)
        .round(0)
        .cast(pl.Int64, strict=False)
    )
    return epoch_us.cast(UTC_US)


def _parse_time(col: pl.Expr, fmt: str | None) -> pl.Expr:
    """Return ``col`` parsed as UTC times: with ``fmt``, else as epoch numbers or any of
    TIME_FORMATS (first match per row)."""
    text = col.str.strip_chars()
    if fmt is not None:
        return text.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
    tries = [
        text.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False) for f in TIME_FORMATS
    ]
    return pl.coalesce(_epoch(text), *tries)


def _num(col: pl.Expr, decimal_comma: bool = False) -> pl.Expr:
    text = col.str.strip_chars()
    if decimal_comma:
        text = text.str.replace(",", ".", literal=True)
    return text.cast(pl.Float64, strict=False)


def _text(col: pl.Expr) -> pl.Expr:
    cleaned = col.str.strip_chars().str.strip_chars("@ ")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


def _coded(number: pl.Expr, text: pl.Expr | None, table: dict[str, int], max_code: int) -> pl.Expr:
    value = pl.when(number == number.floor()).then(number).cast(pl.Int64)
    if text is not None:
        by_text = (
            text.str.strip_chars()
            .str.to_lowercase()
            .replace_strict(table, default=None, return_dtype=pl.Int64)
        )
        value = pl.coalesce(value, by_text)
    return pl.when((value >= 0) & (value <= max_code)).then(value).cast(pl.UInt8)


def _eta(col: pl.Expr, fmt: str | None) -> pl.Expr:
    when = _parse_time(col, fmt)
    return when.dt.strftime("%m-%d %H:%M")


def _dimension(value: pl.Expr) -> pl.Expr:
    return pl.when((value > 0) & (value < 1024)).then(value.round(0)).cast(pl.UInt16)


class CsvDecoder:
    """Turns chunks of CSV lines (after the header) into DecodedBatch, like the NMEA decoder."""

    def __init__(
        self,
        source: str,
        header_line: bytes,
        columns: CsvColumns | None = None,
        *,
        time_window_us: tuple[int, int] = (TIME_MIN_US, TIME_MAX_US),
    ) -> None:
        self.source = source
        #: Accepted message times, epoch µs [first, end): others are "time_out_of_range".
        self._window_us = time_window_us
        # NUL bytes: the noise a capture can start with.
        text = header_line.replace(b"\x00", b"").lstrip(b"\xef\xbb\xbf").rstrip(b"\r\n")
        counts = {sep: text.count(sep.encode()) for sep in (",", ";", "\t")}
        self.separator = max(counts, key=lambda s: counts[s])
        self.header_bytes = text + b"\n"
        try:
            header = pl.read_csv(
                self.header_bytes, separator=self.separator, infer_schema=False, n_rows=0
            ).columns
        except pl.exceptions.PolarsError as exc:
            raise SourceError(f"{source}: cannot read the CSV header ({exc})") from exc
        self.dialect, self.mapping, self.time_format = resolve_columns(header, columns, source)
        self._read_columns = sorted(set(self.mapping.values()))
        #: The layout that parsed this file's times so far (tried first in each chunk).
        self._time_layout: str | None = None
        self._seen_statics: set[tuple[int, int]] = set()

    def feed(self, data: bytes) -> DecodedBatch:
        """Return the positions and static rows of ``data`` (complete CSV lines, no header)."""
        batch = DecodedBatch()
        if not data:
            return batch
        batch.n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        frame = self._read(data, batch.rejected)
        frame = frame.filter(~pl.all_horizontal(pl.all().is_null()))
        if frame.height == 0:
            return batch
        self._decode(frame, batch)
        return batch

    def flush(self) -> DecodedBatch:
        """Return what is left at the end of the input (a CSV reader holds nothing back)."""
        return DecodedBatch()

    def _read(self, data: bytes, rejected: Counter[str]) -> pl.DataFrame:
        try:
            return pl.read_csv(
                self.header_bytes + data,
                separator=self.separator,
                infer_schema=False,
                columns=self._read_columns,
                truncate_ragged_lines=True,
                raise_if_empty=False,
            )
        except pl.exceptions.PolarsError:
            lines = data.splitlines(keepends=True)
            if len(lines) <= 1:
                rejected[Reject.INVALID_CSV.label] += len(lines)
                return pl.DataFrame(schema=dict.fromkeys(self._read_columns, pl.String()))
            # Halve until the unreadable line is alone, so good lines around it are kept.
            middle = len(lines) // 2
            return pl.concat(
                [
                    self._read(b"".join(lines[:middle]), rejected),
                    self._read(b"".join(lines[middle:]), rejected),
                ]
            )

    def _col(self, field: str) -> pl.Expr:
        name = self.mapping.get(field)
        return pl.col(name) if name is not None else pl.lit(None, dtype=pl.String)

    def _times(self, frame: pl.DataFrame) -> pl.Series:
        """Return the chunk's times, trying the layout that worked before first (it is fast)."""
        col = self._col("timestamp")
        if self.time_format is not None:
            return frame.select(_parse_time(col, self.time_format)).to_series()
        text = col.str.strip_chars()
        if self._time_layout is not None:
            quick = frame.select(
                text.str.to_datetime(
                    self._time_layout, time_unit="us", time_zone="UTC", strict=False
                )
            ).to_series()
            if quick.null_count() == frame.select(text.is_null().sum()).item():
                return quick
        sample = frame.select(text.drop_nulls().first()).item()
        if sample is not None:
            for layout in TIME_FORMATS:
                probe = pl.Series([sample]).str.to_datetime(
                    layout, time_unit="us", time_zone="UTC", strict=False
                )
                if probe.null_count() == 0:
                    self._time_layout = layout
                    break
        return frame.select(_parse_time(col, None)).to_series()

    def _textual(self, frame: pl.DataFrame, field: str) -> bool:
        name = self.mapping.get(field)
        if name is None:
            return False
        return bool(frame.select(pl.col(name).str.contains("[A-Za-z]").any()).item())

    def _decode(self, frame: pl.DataFrame, batch: DecodedBatch) -> None:
        ts = self._times(frame)
        # A CSV not separated by commas may write decimal commas (37,5), as spreadsheets in
        # much of Europe do; a comma in a number cannot be a separator there.
        comma = self.separator != ","
        # Each numeric column is parsed once; the rules below read the parsed values.
        numbers = frame.select(
            *[_num(self._col(f), comma).alias(f) for f in _NUMERIC if f != "imo"],
            imo=_num(self._col("imo").str.replace(r"^(?i)IMO", "")),
        )
        n = {f: pl.col(f"#{f}") for f in _NUMERIC}
        sog, cog, heading, draught = n["sog"], n["cog"], n["heading"], n["draught"]
        klass = self._col("mobile_class").str.strip_chars().str.to_lowercase()
        nav_text = self._col("nav_status") if self._textual(frame, "nav_status") else None
        type_text = self._col("ship_type") if self._textual(frame, "ship_type") else None
        parsed = pl.concat([frame, numbers.rename(lambda c: f"#{c}")], how="horizontal").select(
            mmsi=n["mmsi"],
            timestamp_utc=ts,
            lat=n["lat"],
            lon=n["lon"],
            # 102.3 kn means "not available".
            sog_kn=pl.when((sog >= 0) & (sog < 102.25)).then(sog),
            # Some exports write courses as -180..180; 360 means "not available".
            cog_deg=pl.when((cog >= -360) & (cog < 0))
            .then(cog + 360)
            .when((cog >= 0) & (cog < 360))
            .then(cog),
            heading_deg=pl.when((heading >= 0) & (heading < 360)).then(heading).cast(pl.UInt16),
            nav_status=_coded(n["nav_status"], nav_text, NAV_STATUS_TEXT, 15),
            msg_type=klass.replace_strict(MOBILE_CLASS, default=None, return_dtype=pl.UInt8),
            other_type=klass.replace_strict(NON_VESSEL_CLASS, default=None, return_dtype=pl.Int64),
            vessel_name=_text(self._col("vessel_name")),
            imo=n["imo"],
            callsign=_text(self._col("callsign")),
            ship_type=_coded(n["ship_type"], type_text, SHIP_TYPE_TEXT, 255),
            draught_m=pl.when(draught > 0).then(draught),
            destination=_text(self._col("destination")),
            eta=_eta(self._col("eta"), self.time_format)
            if "eta" in self.mapping
            else pl.lit(None, dtype=pl.String),
            to_bow_m=_dimension(n["to_bow"]),
            to_stern_m=_dimension(n["to_stern"]),
            to_port_m=_dimension(n["to_port"]),
            to_starboard_m=_dimension(n["to_starboard"]),
        )
        reason = (
            pl.when(
                pl.col("mmsi").is_null()
                | (pl.col("mmsi") < 1)
                | (pl.col("mmsi") > 999_999_999)
                | (pl.col("mmsi") != pl.col("mmsi").floor())
            )
            .then(Reject.INVALID_MMSI)
            .when(pl.col("timestamp_utc").is_null())
            .then(Reject.NO_TIME)
            .when(
                (pl.col("timestamp_utc").dt.epoch("us") < self._window_us[0])
                | (pl.col("timestamp_utc").dt.epoch("us") >= self._window_us[1])
            )
            .then(Reject.TIME_OUT_OF_RANGE)
            .when(
                pl.col("lat").is_null()
                | pl.col("lon").is_null()
                | pl.col("lat").is_nan()
                | pl.col("lon").is_nan()
                | (pl.col("lat").abs() > 90)
                | (pl.col("lon").abs() > 180)
            )
            .then(Reject.INVALID_POSITION)
            .when(pl.col("other_type").is_not_null())
            .then(Reject.OTHER_TYPE)
            .otherwise(Reject.NONE)
        )
        parsed = parsed.with_columns(reason=reason)
        for code, count in parsed.group_by("reason").len().iter_rows():
            if code not in (Reject.NONE, Reject.OTHER_TYPE):
                batch.rejected[Reject(code).label] += count
        others = parsed.filter(pl.col("reason") == Reject.OTHER_TYPE)["other_type"].value_counts()
        for type_code, count in others.iter_rows():
            batch.other_types[int(type_code)] += count
        good = parsed.filter(pl.col("reason") == Reject.NONE).with_columns(
            pl.col("mmsi").cast(pl.UInt32),
            source=pl.lit(self.source, dtype=pl.String),
            # CSV exports do not say which receiver heard a row.
            station=pl.lit(None, dtype=pl.String),
        )
        # Like the NMEA decoder: rows of stations the monitor does not store count as messages.
        batch.n_messages = good.height + sum(batch.other_types.values())
        batch.time_sources[TimeSource.CSV.label] += good.height
        key = row_keys(
            good,
            [
                pl.col("mmsi"),
                pl.col("timestamp_utc").dt.epoch("us"),
                (pl.col("lat") * 1e7).round(0),
                (pl.col("lon") * 1e7).round(0),
                (pl.col("sog_kn") * 10).round(0),
                (pl.col("cog_deg") * 10).round(0),
                pl.col("heading_deg"),
                pl.col("nav_status"),
            ],
        )
        batch.positions = good.with_columns(key).select(
            [pl.col(c).cast(t) for c, t in POSITIONS_SCHEMA.items()]
        )
        batch.statics = self._statics(good)

    def _statics(self, good: pl.DataFrame) -> pl.DataFrame:
        identity = [
            "vessel_name",
            "imo",
            "callsign",
            "ship_type",
            "draught_m",
            "destination",
            "eta",
            "to_bow_m",
            "to_stern_m",
            "to_port_m",
            "to_starboard_m",
        ]
        rows = (
            good.with_columns(
                imo=pl.when((pl.col("imo") >= 1) & (pl.col("imo") <= 999_999_999)).then(
                    pl.col("imo")
                ),
            )
            .filter(pl.any_horizontal(pl.col(identity).is_not_null()))
            .with_columns(day=pl.col("timestamp_utc").dt.date())
            .sort("timestamp_utc")
            .unique(subset=["mmsi", "day", *identity], keep="first", maintain_order=True)
        )
        if rows.height == 0:
            return empty_frame(STATICS_SCHEMA)
        keys = [
            _identity_key(values) for values in rows.select(["mmsi", "day", *identity]).iter_rows()
        ]
        rows = rows.with_columns(msg_key=pl.Series(keys, dtype=pl.UInt64), msg_type=None)
        fresh = [
            (m, k) not in self._seen_statics
            for m, k in zip(rows["mmsi"].to_list(), keys, strict=True)
        ]
        self._seen_statics.update(zip(rows["mmsi"].to_list(), keys, strict=True))
        rows = rows.filter(pl.Series(fresh, dtype=pl.Boolean))
        return rows.select([pl.col(c).cast(t) for c, t in STATICS_SCHEMA.items()])
