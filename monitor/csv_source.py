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
from pydantic import ValidationError

from monitor.config import CsvColumns
from monitor.errors import ConfigError, SourceError
from monitor.schema import POSITIONS_SCHEMA, STATICS_SCHEMA, UTC_US, DecodedBatch, empty_frame

log = logging.getLogger(__name__)

#: Canonical fields a CSV column can be mapped to.
FIELDS: Final = (
    "mmsi",
    "timestamp",
    "lat",
    "lon",
    "sog",
    "cog",
    "heading",
    "nav_status",
    "vessel_name",
    "imo",
    "callsign",
    "ship_type",
    "draught",
    "destination",
    "eta",
    "to_bow",
    "to_stern",
    "to_port",
    "to_starboard",
    "mobile_class",
)
IDENTITY_FIELDS: Final = (
    "vessel_name",
    "imo",
    "callsign",
    "ship_type",
    "draught",
    "destination",
    "eta",
    "to_bow",
    "to_stern",
    "to_port",
    "to_starboard",
)

_MARINECADASTRE: Final = {
    "mmsi": ("MMSI",),
    "timestamp": ("BaseDateTime",),
    "lat": ("LAT",),
    "lon": ("LON",),
    "sog": ("SOG",),
    "cog": ("COG",),
    "heading": ("Heading",),
    "nav_status": ("Status",),
    "vessel_name": ("VesselName",),
    "imo": ("IMO",),
    "callsign": ("CallSign",),
    "ship_type": ("VesselType",),
    "draught": ("Draft",),
    "eta": ("ETA",),
    # The 2020 files spell it "Transciever".
    "mobile_class": ("TransceiverClass", "TranscieverClass"),
}
_DMA: Final = {
    "timestamp": ("# Timestamp", "Timestamp"),
    "mobile_class": ("Type of mobile",),
    "mmsi": ("MMSI",),
    "lat": ("Latitude",),
    "lon": ("Longitude",),
    "nav_status": ("Navigational status",),
    "sog": ("SOG",),
    "cog": ("COG",),
    "heading": ("Heading",),
    "imo": ("IMO",),
    "callsign": ("Callsign",),
    "vessel_name": ("Name",),
    "ship_type": ("Ship type",),
    "draught": ("Draught",),
    "destination": ("Destination",),
    "eta": ("ETA",),
    "to_bow": ("A",),
    "to_stern": ("B",),
    "to_port": ("C",),
    "to_starboard": ("D",),
}
_DMA_TIME_FORMAT: Final = "%d/%m/%Y %H:%M:%S"

#: DMA writes navigational status as text.
_NAV_STATUS_TEXT: Final = {
    "under way using engine": 0,
    "at anchor": 1,
    "not under command": 2,
    "restricted maneuverability": 3,
    "restricted manoeuvrability": 3,
    "constrained by her draught": 4,
    "moored": 5,
    "aground": 6,
    "engaged in fishing": 7,
    "under way sailing": 8,
    "reserved for future amendment [hsc]": 9,
    "reserved for future amendment [wig]": 10,
    "power-driven vessel towing astern": 11,
    "power-driven vessel pushing ahead or towing alongside": 12,
    "reserved for future use": 13,
    "ais-sart": 14,
    "unknown value": 15,
}
#: DMA writes ship type as text; each maps to the ITU-R M.1371 code of that category.
_SHIP_TYPE_TEXT: Final = {
    "wig": 20,
    "fishing": 30,
    "towing": 31,
    "towing long/wide": 32,
    "dredging": 33,
    "diving": 34,
    "military": 35,
    "sailing": 36,
    "pleasure": 37,
    "hsc": 40,
    "pilot": 50,
    "sar": 51,
    "tug": 52,
    "port tender": 53,
    "anti-pollution": 54,
    "law enforcement": 55,
    "medical": 58,
    "not party to conflict": 59,
    "passenger": 60,
    "cargo": 70,
    "tanker": 80,
    "other": 90,
}
#: Transceiver class to the message type that class sends; other station kinds are not vessels.
_MOBILE_CLASS: Final = {"a": 1, "class a": 1, "b": 18, "class b": 18}
_NON_VESSEL_CLASS: Final = {"base station": 4, "aton": 21, "sar airborne": 9}


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


def parse_column_mapping(text: str) -> CsvColumns:
    """Return the CSV column mapping written as ``field=column,field=column,...``.

    Raises ConfigError naming the bad item and the valid fields.
    """
    valid = sorted(CsvColumns.model_fields)
    values: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, column = item.partition("=")
        name = name.strip()
        if not sep or not column.strip():
            raise ConfigError(f"--csv-columns: {item!r} is not FIELD=COLUMN")
        if name not in valid:
            raise ConfigError(
                f"--csv-columns: unknown field {name!r}; valid fields: {', '.join(valid)}"
            )
        values[name] = column.strip()
    try:
        return CsvColumns.model_validate(values)
    except ValidationError as exc:
        missing = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing"]
        raise ConfigError(
            f"--csv-columns: missing required field(s) {', '.join(missing)}; at least "
            "mmsi, timestamp, lat and lon are needed"
        ) from exc


def _find(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def resolve_columns(
    header: list[str], columns: CsvColumns | None, source: str
) -> tuple[str, dict[str, str], str | None]:
    """Return (dialect, field -> header column, timestamp format) for a CSV header.

    A mapping given in the config or on the command line wins when all its columns are present;
    otherwise MarineCadastre and DMA headers are recognised. Raises SourceError naming the file
    and the header when the CSV is not understood.
    """
    if columns is not None:
        wanted = {
            f: getattr(columns, f)
            for f in FIELDS
            if hasattr(columns, f) and getattr(columns, f) is not None
        }
        missing = [c for c in wanted.values() if c not in header]
        if not missing:
            return "mapped", wanted, columns.timestamp_format
        if not (_find(header, ("MMSI",)) and _find(header, ("BaseDateTime", "# Timestamp"))):
            raise SourceError(
                f"{source}: the CSV column mapping names column(s) {', '.join(missing)} that "
                f"the header lacks (header: {', '.join(header)}); fix [ingest.csv_columns] or "
                "--csv-columns"
            )
    for dialect, table, fmt in (
        ("dma", _DMA, _DMA_TIME_FORMAT),
        ("marinecadastre", _MARINECADASTRE, None),
    ):
        mapping = {f: c for f, names in table.items() if (c := _find(header, names)) is not None}
        if all(f in mapping for f in ("mmsi", "timestamp", "lat", "lon")):
            if dialect == "dma" and "mobile_class" not in mapping:
                continue
            return dialect, mapping, fmt
    shown = ", ".join(h[:40] for h in header[:20]) + (", ..." if len(header) > 20 else "")
    raise SourceError(
        f"{source}: CSV header not recognised as MarineCadastre or DMA (header: "
        f"{shown}); map its columns with --csv-columns "
        "mmsi=COL,timestamp=COL,lat=COL,lon=COL (or [ingest.csv_columns] in the config)"
    )


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
    epoch_us = (
        pl.when(number > 1e11).then(number * 1e3).otherwise(number * 1e6).round(0).cast(pl.Int64)
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


def _num(col: pl.Expr) -> pl.Expr:
    return col.str.strip_chars().cast(pl.Float64, strict=False)


def _text(col: pl.Expr) -> pl.Expr:
    cleaned = col.str.strip_chars().str.strip_chars("@ ")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


def _coded(col: pl.Expr, table: dict[str, int], max_code: int, textual: bool) -> pl.Expr:
    number = _num(col)
    value = pl.when(number == number.floor()).then(number).cast(pl.Int64)
    if textual:
        by_text = (
            col.str.strip_chars()
            .str.to_lowercase()
            .replace_strict(table, default=None, return_dtype=pl.Int64)
        )
        value = pl.coalesce(value, by_text)
    return pl.when((value >= 0) & (value <= max_code)).then(value).cast(pl.UInt8)


def _eta(col: pl.Expr, fmt: str | None) -> pl.Expr:
    when = _parse_time(col, fmt)
    return when.dt.strftime("%m-%d %H:%M")


def _dimension(col: pl.Expr) -> pl.Expr:
    value = _num(col)
    return pl.when((value > 0) & (value < 1024)).then(value.round(0)).cast(pl.UInt16)


class CsvDecoder:
    """Turns chunks of CSV lines (after the header) into DecodedBatch, like the NMEA decoder."""

    def __init__(self, source: str, header_line: bytes, columns: CsvColumns | None = None) -> None:
        self.source = source
        text = header_line.lstrip(b"\xef\xbb\xbf").rstrip(b"\r\n")
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
                rejected["invalid_csv"] += len(lines)
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
        mmsi = _num(self._col("mmsi"))
        lat = _num(self._col("lat"))
        lon = _num(self._col("lon"))
        ts = self._times(frame)
        sog = _num(self._col("sog"))
        cog = _num(self._col("cog"))
        heading = _num(self._col("heading"))
        klass = self._col("mobile_class").str.strip_chars().str.to_lowercase()
        parsed = frame.select(
            mmsi=mmsi,
            timestamp_utc=ts,
            lat=lat,
            lon=lon,
            # 102.3 kn means "not available".
            sog_kn=pl.when((sog >= 0) & (sog < 102.25)).then(sog),
            # Some exports write courses as -180..180; 360 means "not available".
            cog_deg=pl.when((cog >= -360) & (cog < 0))
            .then(cog + 360)
            .when((cog >= 0) & (cog < 360))
            .then(cog),
            heading_deg=pl.when((heading >= 0) & (heading < 360)).then(heading).cast(pl.UInt16),
            nav_status=_coded(
                self._col("nav_status"),
                _NAV_STATUS_TEXT,
                15,
                self._textual(frame, "nav_status"),
            ),
            msg_type=klass.replace_strict(_MOBILE_CLASS, default=None, return_dtype=pl.UInt8),
            other_type=klass.replace_strict(_NON_VESSEL_CLASS, default=None, return_dtype=pl.Int64),
            vessel_name=_text(self._col("vessel_name")),
            imo=_num(self._col("imo").str.replace(r"^(?i)IMO", "")),
            callsign=_text(self._col("callsign")),
            ship_type=_coded(
                self._col("ship_type"), _SHIP_TYPE_TEXT, 255, self._textual(frame, "ship_type")
            ),
            draught_m=pl.when(_num(self._col("draught")) > 0).then(_num(self._col("draught"))),
            destination=_text(self._col("destination")),
            eta=_eta(self._col("eta"), self.time_format)
            if "eta" in self.mapping
            else pl.lit(None, dtype=pl.String),
            to_bow_m=_dimension(self._col("to_bow")),
            to_stern_m=_dimension(self._col("to_stern")),
            to_port_m=_dimension(self._col("to_port")),
            to_starboard_m=_dimension(self._col("to_starboard")),
        )
        reason = (
            pl.when(
                pl.col("mmsi").is_null()
                | (pl.col("mmsi") < 1)
                | (pl.col("mmsi") > 999_999_999)
                | (pl.col("mmsi") != pl.col("mmsi").floor())
            )
            .then(pl.lit("invalid_mmsi"))
            .when(pl.col("timestamp_utc").is_null())
            .then(pl.lit("no_time"))
            .when(
                pl.col("lat").is_null()
                | pl.col("lon").is_null()
                | (pl.col("lat").abs() > 90)
                | (pl.col("lon").abs() > 180)
            )
            .then(pl.lit("invalid_position"))
            .when(pl.col("other_type").is_not_null())
            .then(pl.lit("other_type"))
        )
        parsed = parsed.with_columns(reason=reason)
        for row_reason, count in parsed.group_by("reason").len().iter_rows():
            if row_reason is None:
                continue
            if row_reason != "other_type":
                batch.rejected[row_reason] += count
        others = parsed.filter(pl.col("reason") == "other_type")["other_type"].value_counts()
        for code, count in others.iter_rows():
            batch.other_types[int(code)] += count
        good = parsed.filter(pl.col("reason").is_null()).with_columns(
            pl.col("mmsi").cast(pl.UInt32), source=pl.lit(self.source, dtype=pl.String)
        )
        batch.n_messages = good.height
        batch.time_sources["csv"] += good.height
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
