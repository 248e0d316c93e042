"""NMEA encoding: AIS position reports (vectorised), static reports (pyais), tag-blocked lines.

Position reports dominate a feed, so types 1, 3 and 18 are bit-packed with numpy; the packing is
checked field by field against ``pyais.encode_dict`` in the tests. Static and voyage reports are
few distinct payloads per vessel, encoded once by pyais and reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pyais import encode_dict

from monitor.simulate.transmissions import AisValue, PositionReports, StaticReport

IntArray = NDArray[np.int64]


@dataclass
class Lines:
    """Lines to write: reception time, sort key (file order), receiver, sentence body, group."""

    t_s: NDArray[np.int64]
    order_s: NDArray[np.float64]
    receiver: list[bytes]
    body: list[bytes]
    #: Sentences of one multi-part message share a group id (>= 0); single parts have -1.
    group: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.body)

    def take(self, index: NDArray[np.int64]) -> Lines:
        idx = index.tolist()
        return Lines(
            self.t_s[index],
            self.order_s[index],
            [self.receiver[i] for i in idx],
            [self.body[i] for i in idx],
            self.group[index],
        )


#: (width in bits, field) of a type 1/2/3 report, then of a type 18 report.
_CLASS_A_LAYOUT = (
    (6, "msg_type"), (2, None), (30, "mmsi"), (4, "status"), (8, "turn"), (10, "speed"),
    (1, None), (28, "lon"), (27, "lat"), (12, "course"), (9, "heading"), (6, "second"),
    (2, None), (3, None), (1, None), (19, None),
)  # fmt: skip
_CLASS_B_LAYOUT = (
    (6, "msg_type"), (2, None), (30, "mmsi"), (8, None), (10, "speed"), (1, None), (28, "lon"),
    (27, "lat"), (12, "course"), (9, "heading"), (6, "second"), (2, None), (1, "cs"), (1, None),
    (1, None), (1, "band"), (1, None), (1, None), (1, None), (20, None),
)  # fmt: skip


def _pack(
    fields: dict[str, IntArray], layout: Sequence[tuple[int, str | None]]
) -> NDArray[np.uint8]:
    """Return the armoured 6-bit payload bytes (n, bits/6) of the given integer fields."""
    n = len(fields["mmsi"])
    columns = []
    for width, name in layout:
        if name is None:
            columns.append(np.zeros((n, width), dtype=np.uint8))
            continue
        values = fields[name].astype(np.int64) & ((1 << width) - 1)
        shifts = np.arange(width - 1, -1, -1, dtype=np.int64)
        columns.append(((values[:, None] >> shifts) & 1).astype(np.uint8))
    bits = np.concatenate(columns, axis=1)
    sixes = bits.reshape(n, -1, 6) @ np.array([32, 16, 8, 4, 2, 1], dtype=np.uint8)
    sixes = sixes.astype(np.uint8)
    return np.where(sixes < 40, sixes + 48, sixes + 56).astype(np.uint8)


def encode_positions(
    *,
    msg_type: IntArray,
    mmsi: IntArray,
    status: IntArray,
    sog_kn: NDArray[np.float64],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    cog_deg: NDArray[np.float64],
    heading_deg: IntArray,
    second: IntArray,
) -> list[bytes]:
    """Return the 28-character armoured payloads of position reports (types 1, 2, 3 or 18).

    Values are scaled exactly as pyais does (speed and course truncated to tenths, positions
    rounded to 1/10000 minute), so a decoder sees what ``pyais.encode_dict`` would have produced.
    """
    fields = {
        "msg_type": msg_type,
        "mmsi": mmsi,
        "status": status,
        "turn": np.zeros(len(mmsi), dtype=np.int64),
        "speed": (np.asarray(sog_kn) * 10.0).astype(np.int64),
        "lon": np.rint(np.asarray(lon) * 600000.0).astype(np.int64),
        "lat": np.rint(np.asarray(lat) * 600000.0).astype(np.int64),
        "course": (np.asarray(cog_deg) * 10.0).astype(np.int64),
        "heading": heading_deg,
        "second": second,
        "cs": np.ones(len(mmsi), dtype=np.int64),
        "band": np.ones(len(mmsi), dtype=np.int64),
    }
    out: list[bytes] = [b""] * len(mmsi)
    class_b = np.asarray(msg_type) == 18
    for mask, layout in ((~class_b, _CLASS_A_LAYOUT), (class_b, _CLASS_B_LAYOUT)):
        index = np.flatnonzero(mask)
        if len(index) == 0:
            continue
        packed = _pack({k: np.asarray(v)[index] for k, v in fields.items()}, layout)
        rows = packed.view(f"S{packed.shape[1]}").ravel()
        for i, row in zip(index.tolist(), rows.tolist(), strict=True):
            out[i] = row
    return out


def xor_checksums(texts: Sequence[bytes]) -> IntArray:
    """Return the NMEA checksum (XOR of all bytes) of each text."""
    out = np.zeros(len(texts), dtype=np.int64)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    for length in np.unique(lengths).tolist():
        if length == 0:
            continue
        index = np.flatnonzero(lengths == length)
        chosen = texts if len(index) == len(texts) else [texts[i] for i in index.tolist()]
        block = np.frombuffer(b"".join(chosen), dtype=np.uint8).reshape(len(index), length)
        out[index] = np.bitwise_xor.reduce(block, axis=1)
    return out


def _tag_checksums(receivers: Sequence[bytes], times_s: IntArray) -> IntArray:
    """Return the checksums of ``s:<rx>,c:<epoch>`` without formatting every tag."""
    out = np.zeros(len(times_s), dtype=np.int64)
    t = np.asarray(times_s, dtype=np.int64)
    digits = np.floor(np.log10(np.maximum(t, 1))).astype(np.int64) + 1
    for width in np.unique(digits).tolist():
        rows = digits == width
        places = (t[rows, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)) % 10
        out[rows] = np.bitwise_xor.reduce(places + 48, axis=1)
    prefix = {rx: int(xor_checksums([b"s:%s,c:" % rx])[0]) for rx in set(receivers)}
    return out ^ np.array([prefix[rx] for rx in receivers], dtype=np.int64)


def sentence_bodies(payloads: Sequence[bytes], channels: Sequence[bytes]) -> list[bytes]:
    """Return single-part ``AIVDM,1,1,,<ch>,<payload>,0`` bodies (no ``!`` and no checksum)."""
    return [b"AIVDM,1,1,,%s,%s,0" % (c, p) for p, c in zip(payloads, channels, strict=True)]


def static_sentences(
    fields: dict[str, str | int | float | bytes | bool], seq_id: int, channel: str
) -> list[bytes]:
    """Return the bodies of a static report's sentences (pyais), without ``!`` and checksum."""
    sentences = encode_dict(
        fields, talker_id="AI", sentence_type="VDM", radio_channel=channel, seq_id=seq_id
    )
    return [s[1 : s.rindex("*")].encode("ascii") for s in sentences]


def tagged_lines(
    bodies: Sequence[bytes], receivers: Sequence[bytes], times_s: IntArray
) -> list[bytes]:
    """Return complete lines ``\\s:<rx>,c:<epoch>*hh\\!<body>*hh`` with correct checksums."""
    tag_sums = _tag_checksums(receivers, times_s).tolist()
    body_sums = xor_checksums(bodies).tolist()
    return [
        b"\\s:%s,c:%d*%02X\\!%s*%02X" % (rx, t, ts, body, bs)
        for rx, t, ts, body, bs in zip(
            receivers, np.asarray(times_s).tolist(), tag_sums, bodies, body_sums, strict=True
        )
    ]


def report_lines(
    positions: PositionReports,
    statics: list[StaticReport],
    rng: np.random.Generator,
    receivers: list[bytes],
) -> Lines:
    """Return the sentences of every report (positions, then statics), each heard by its
    receiver in ``receivers``, in time order."""
    payloads = encode_positions(
        msg_type=positions.msg_type, mmsi=positions.mmsi, status=positions.status,
        sog_kn=positions.sog_kn, lon=positions.lon, lat=positions.lat, cog_deg=positions.cog_deg,
        heading_deg=positions.heading_deg, second=positions.t_s % 60,
    )  # fmt: skip
    channels = [b"A", b"B"]
    bodies = sentence_bodies(payloads, [channels[c] for c in rng.integers(0, 2, len(payloads))])
    cache: dict[tuple[tuple[str, AisValue], ...], list[bytes]] = {}
    static_bodies: list[bytes] = []
    static_times: list[int] = []
    static_groups: list[int] = []
    static_receivers: list[bytes] = []
    for index, report in enumerate(statics):
        if report.fields not in cache:
            cache[report.fields] = static_sentences(dict(report.fields), 0, "A")
        parts = cache[report.fields]
        for part in parts:
            # Multi-part messages carry a sequence id (0-9) that pairs their sentences.
            multi = len(parts) > 1
            static_bodies.append(
                part.replace(b",,A,", b",%d,A," % (index % 10), 1) if multi else part
            )
            static_times.append(report.t_s)
            static_groups.append(index if multi else -1)
            static_receivers.append(receivers[len(positions) + index])
    times = np.concatenate([positions.t_s, np.array(static_times, dtype=np.int64)])
    # Within one second, static reports follow position reports in their own order.
    offsets = np.concatenate([np.zeros(len(bodies)), np.linspace(0.1, 0.2, len(static_bodies))])
    lines = Lines(
        t_s=times,
        order_s=times.astype(np.float64) + offsets,
        receiver=receivers[: len(positions)] + static_receivers,
        body=bodies + static_bodies,
        group=np.concatenate(
            [np.full(len(bodies), -1, dtype=np.int64), np.array(static_groups, dtype=np.int64)]
        ),
    )
    return lines.take(np.lexsort((np.arange(len(lines)), lines.order_s)))
