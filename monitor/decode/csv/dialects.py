"""CSV dialects: the MarineCadastre and DMA headers, their text codes, and column mappings."""

from __future__ import annotations

from typing import Final

from pydantic import ValidationError

from monitor.config import CsvColumns
from monitor.errors import ConfigError, SourceError

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

MARINECADASTRE: Final = {
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
DMA: Final = {
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
DMA_TIME_FORMAT: Final = "%d/%m/%Y %H:%M:%S"

#: DMA writes navigational status as text.
NAV_STATUS_TEXT: Final = {
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
SHIP_TYPE_TEXT: Final = {
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
MOBILE_CLASS: Final = {"a": 1, "class a": 1, "b": 18, "class b": 18}
NON_VESSEL_CLASS: Final = {"base station": 4, "aton": 21, "sar airborne": 9}


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
        ("dma", DMA, DMA_TIME_FORMAT),
        ("marinecadastre", MARINECADASTRE, None),
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
