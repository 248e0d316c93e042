"""Feed noise: GPS outliers, "not available" positions, duplicate receptions, late, corrupt and
truncated lines, at the rates of a ``NoiseParams``."""

from __future__ import annotations

import numpy as np

from monitor.simulate.nmea_writer import Lines
from monitor.simulate.params import NoiseParams
from monitor.simulate.transmissions import PositionReports


def damage_positions(
    reports: PositionReports, noise: NoiseParams, rng: np.random.Generator
) -> tuple[int, int]:
    """Throw some positions far off and blank some others (in place); return both counts."""
    n = len(reports)
    outliers = rng.random(n) < noise.outlier_rate
    k = int(outliers.sum())
    # A glitch lands tens to hundreds of km away, far beyond any plausible speed.
    reports.lat[outliers] += rng.choice([-1.0, 1.0], k) * rng.uniform(0.3, 2.0, k)
    reports.lon[outliers] += rng.choice([-1.0, 1.0], k) * rng.uniform(0.3, 2.0, k)
    np.clip(reports.lat, -89.9, 89.9, out=reports.lat)
    blank = (rng.random(n) < noise.not_available_rate) & ~outliers
    reports.lat[blank] = 91.0
    reports.lon[blank] = 181.0
    return k, int(blank.sum())


def second_receiver(receiver: bytes) -> bytes:
    """Return the station id of the second receiver beside ``receiver``: ``rx2`` beside
    ``rx1``, else its id with ``-2``."""
    return b"rx2" if receiver == b"rx1" else receiver + b"-2"


def add_duplicates(lines: Lines, rate: float, rng: np.random.Generator) -> Lines:
    """Return the lines plus copies heard 0-2 s later by a second receiver beside the first
    (:func:`second_receiver`)."""
    chosen = np.flatnonzero(rng.random(len(lines)) < rate)
    # Both parts of a multi-part message are heard by the same receiver.
    if len(chosen):
        groups = set(lines.group[chosen][lines.group[chosen] >= 0].tolist())
        if groups:
            extra = np.flatnonzero(np.isin(lines.group, list(groups)))
            chosen = np.union1d(chosen, extra)
    copy = lines.take(chosen)
    delay = rng.integers(0, 3, len(chosen))
    # The parts of one message reach the second receiver together.
    grouped = copy.group >= 0
    if grouped.any():
        _, first = np.unique(copy.group[grouped], return_inverse=True)
        delay[grouped] = rng.integers(0, 3, int(first.max()) + 1)[first]
    copy.t_s = copy.t_s + delay
    copy.order_s = copy.order_s + delay + 0.5
    copy.receiver = [second_receiver(rx) for rx in copy.receiver]
    copy.group = np.where(copy.group >= 0, copy.group + 10_000_000, -1)
    return Lines(
        np.concatenate([lines.t_s, copy.t_s]),
        np.concatenate([lines.order_s, copy.order_s]),
        lines.receiver + copy.receiver,
        lines.body + copy.body,
        np.concatenate([lines.group, copy.group]),
    )


def delay_lines(lines: Lines, rate: float, rng: np.random.Generator) -> int:
    """Move single-part lines 2-30 min later in file order (in place); return how many."""
    late = (rng.random(len(lines)) < rate) & (lines.group < 0)
    lines.order_s[late] += rng.uniform(120.0, 1800.0, int(late.sum()))
    return int(late.sum())


def corrupt(lines: list[bytes], noise: NoiseParams, rng: np.random.Generator) -> tuple[int, int]:
    """Break the checksum of some finished lines and cut others short (in place)."""
    n = len(lines)
    bad = np.flatnonzero(rng.random(n) < noise.bad_checksum_rate)
    for i in bad.tolist():
        line = lines[i]
        wrong = (int(line[-2:], 16) + 1 + int(rng.integers(0, 254))) % 256
        lines[i] = line[:-2] + b"%02X" % wrong
    cut = np.flatnonzero(rng.random(n) < noise.truncated_rate)
    for i in cut.tolist():
        line = lines[i]
        lines[i] = line[: int(rng.integers(10, len(line) - 4))]
    return len(bad), len(cut)


def displace_bursts(
    reports: PositionReports,
    rate_per_vessel_day: float,
    days: float,
    shared: set[int],
    rng: np.random.Generator,
) -> list[dict[str, object]]:
    """Throw runs of 3-40 consecutive reports of a vessel 30-300 km away (in place); return them,
    each with its ``rows`` in ``reports``.

    Half are GPS faults (the run keeps its shape, shifted), half spoofing (the run sits on one
    point). MMSIs in ``shared`` are left alone: their reports interleave two ships.
    """
    if rate_per_vessel_day <= 0:
        return []
    out: list[dict[str, object]] = []
    for mmsi in np.unique(reports.mmsi).tolist():
        if mmsi in shared:
            continue
        rows = np.flatnonzero(reports.mmsi == mmsi)
        free = np.ones(rows.size, dtype=bool)
        for _ in range(int(rng.poisson(rate_per_vessel_day * days))):
            k = int(rng.integers(3, 41))
            if rows.size <= k + 2:
                break
            j = int(rng.integers(1, rows.size - k - 1))
            if not free[j - 1 : j + k + 1].all():
                continue
            free[j - 1 : j + k + 1] = False
            run = rows[j : j + k]
            distance_km = float(rng.uniform(30.0, 300.0))
            bearing = float(rng.uniform(0.0, 2 * np.pi))
            lat0 = float(reports.lat[run[0]])
            dlat = distance_km * np.cos(bearing) / 111.195
            dlon = distance_km * np.sin(bearing) / (111.195 * np.cos(np.radians(lat0)))
            spoofed = bool(rng.random() < 0.5)
            if spoofed:
                reports.lat[run] = lat0 + dlat + rng.normal(0.0, 0.0003, k)
                reports.lon[run] = reports.lon[run[0]] + dlon + rng.normal(0.0, 0.0003, k)
            else:
                reports.lat[run] += dlat
                reports.lon[run] += dlon
            np.clip(reports.lat, -89.9, 89.9, out=reports.lat)
            out.append(
                {
                    "rows": run,
                    "mmsi": mmsi,
                    "start_utc": int(reports.t_s[run[0]]) * 1_000_000,
                    "end_utc": int(reports.t_s[run[-1]]) * 1_000_000,
                    "n_reports": k,
                    "lat": float(reports.lat[run].mean()),
                    "lon": float(reports.lon[run].mean()),
                    "distance_km": distance_km,
                    "kind": "spoof" if spoofed else "fault",
                }
            )
    return out
