"""The receiver station of each position: read from NMEA tag blocks (``s:``) and US Coast Guard
lines (``,r<id>``), stored with the positions, null where the input does not say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from detect_cycles import ingest_part, trader
from tracks_portcalls import IN_P, positions

from monitor.config import CircleZone, GeofenceSettings, Settings, StoreSettings
from monitor.decode.nmea.decoder import NmeaDecoder
from monitor.pipeline.detect import detect_calls
from monitor.simulate.nmea_writer import encode_positions, tagged_lines, xor_checksums
from monitor.store.calls import load_calls
from monitor.store.parquet import Store

EPOCH = 1_709_510_400


def bodies(n: int) -> list[bytes]:
    """Return ``n`` single-part type 1 sentence bodies of MMSIs 273000001, 273000002, ..."""
    payloads = encode_positions(
        msg_type=np.ones(n, np.int64), mmsi=273_000_001 + np.arange(n, dtype=np.int64),
        status=np.zeros(n, np.int64), sog_kn=np.full(n, 10.0), lon=np.full(n, 20.0),
        lat=np.full(n, 50.0), cog_deg=np.zeros(n), heading_deg=np.zeros(n, np.int64),
        second=np.zeros(n, np.int64),
    )  # fmt: skip
    return [b"AIVDM,1,1,,A,%s,0" % p for p in payloads]


def uscg(body: bytes, station: bytes, t_s: int) -> bytes:
    """Return a US Coast Guard line: the sentence, then station and receiver time."""
    return b"!%s*%02X,%s,%d" % (body, int(xor_checksums([body])[0]), station, t_s)


def test_stations_come_from_tag_blocks_and_coast_guard_fields() -> None:
    a, b, c, d = bodies(4)
    tagged = tagged_lines([a, b], [b"rx-nampo", b"sat"], np.array([EPOCH, EPOCH + 1]))
    # A tag block without s: times its sentence but names no station.
    untagged = tagged_lines([c], [b"x"], np.array([EPOCH + 2]))[0].replace(b"s:x,", b"")
    untagged = (
        untagged.split(b"*", 1)[0]
        + b"*%02X\\" % int(xor_checksums([untagged[1 : untagged.index(b"*")]])[0])
        + untagged.split(b"\\", 2)[2]
    )
    data = b"\n".join([*tagged, untagged, uscg(d, b"r003669987", EPOCH + 3)]) + b"\n"
    found = NmeaDecoder("test").feed(data).positions.sort("mmsi")
    assert found["mmsi"].to_list() == [273_000_001 + k for k in range(4)]
    assert found["station"].to_list() == ["rx-nampo", "sat", None, "r003669987"]


def test_a_store_written_before_stations_reads_them_as_null(tmp_path: Path) -> None:
    data = b"\n".join(tagged_lines(bodies(2), [b"rx1", b"rx1"], np.array([EPOCH, EPOCH]))) + b"\n"
    store = Store(tmp_path / "store")
    store.add_positions(NmeaDecoder("test").feed(data).positions, 60)
    [part] = list((tmp_path / "store" / "positions").rglob("*.parquet"))
    pl.read_parquet(part).drop("station").write_parquet(part)
    older = store.scan_positions().collect()
    assert older.height == 2 and older["station"].null_count() == 2
    # Newer rows beside the older ones keep theirs.
    later = tagged_lines(bodies(1), [b"rx2"], np.array([EPOCH + 600]))[0] + b"\n"
    store.add_positions(NmeaDecoder("test").feed(later).positions, 60)
    both = store.scan_positions().collect().sort("timestamp_utc")
    assert both["station"].to_list() == [None, None, "rx2"]


def test_stations_differing_in_one_character_stay_apart() -> None:
    names = [b"43254", b"43255", b"43254", b"r003669705", b"r003669704"]
    lines = tagged_lines(bodies(5), names, np.arange(EPOCH, EPOCH + 5))
    found = NmeaDecoder("test").feed(b"\n".join(lines) + b"\n").positions.sort("mmsi")
    assert found["station"].to_list() == [n.decode() for n in names]


def test_detect_reads_a_store_written_before_stations(tmp_path: Path) -> None:
    # Every analysis reads the files written before the column existed, their stations null.
    settings = Settings(
        store=StoreSettings(path=tmp_path / "store"),
        geofences=GeofenceSettings(
            circles=[CircleZone(id="P", name="Port P", lat=IN_P[1], lon=IN_P[0], radius_m=5000)]
        ),
    )
    frame = positions(trader(366_000_301, 1)).drop("station")
    ingest_part(tmp_path / "store", frame, "older")
    summary = detect_calls(settings)
    assert summary.calls_total >= 1 and load_calls(tmp_path / "store").height == summary.calls_total
