"""Deduplication keeps the earliest reception of each message, however the input was split."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nmea_builders import EPOCH0, tagged
from pyais import encode_dict

from monitor.config import Settings, StoreSettings
from monitor.pipeline.ingest import ingest_paths
from monitor.store.parquet import Store


def _receptions(seed: int) -> tuple[list[str], set[tuple[int, int]]]:
    """Return every reception line of 30 transmissions (2-3 receivers, 0-3 s apart) and the
    (mmsi, epoch) of the earliest reception of each."""
    rng = random.Random(seed)
    lines, earliest = [], set()
    for k in range(30):
        mmsi = 366000000 + k % 4
        sent = EPOCH0 + 600 * k
        if k % 10 == 9:
            # A static report in two parts, received by two stations.
            static: dict[str, Any] = {"type": 5, "mmsi": mmsi, "shipname": f"SHIP {k}"}
            parts = encode_dict(static, seq_id=k % 10)
            delays = rng.sample(range(4), 2)
            for receiver, delay in zip(("rx1", "rx2"), delays, strict=True):
                lines += [tagged(p, sent + delay, receiver) for p in parts]
            continue
        msg: dict[str, Any] = {
            "type": 1,
            "mmsi": mmsi,
            "lat": 37 + k * 1e-3,
            "lon": -122.0,
            "second": k % 60,
        }
        (sentence,) = encode_dict(msg, talker_id="AI", sentence_type="VDM")
        delays = rng.sample(range(4), rng.choice([2, 3]))
        for receiver, delay in zip(("rx1", "rx2", "rx3"), delays, strict=False):
            lines.append(tagged(sentence, sent + delay, receiver))
        earliest.add((mmsi, sent + min(delays)))
    return lines, earliest


def _stored(store: Path) -> tuple[set[tuple[int, int]], pl.DataFrame]:
    positions = Store(store).scan_positions().collect()
    times = {
        (int(m), int(t.timestamp()))
        for m, t in positions.select("mmsi", "timestamp_utc").iter_rows()
    }
    statics = Store(store).scan_statics().collect().select("mmsi", "timestamp_utc", "vessel_name")
    return times, statics.sort("mmsi", "timestamp_utc")


@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 1000), order=st.randoms(use_true_random=False), cuts=st.integers(1, 5))
def test_any_split_of_the_input_keeps_the_earliest_reception(
    tmp_path: Path, seed: int, order: random.Random, cuts: int
) -> None:
    run = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    run.mkdir()
    lines, earliest = _receptions(seed)
    whole = run / "whole.nmea"
    whole.write_text("".join(line + "\n" for line in lines))
    ingest_paths([whole], Settings(store=StoreSettings(path=run / "one")))
    one_times, one_statics = _stored(run / "one")
    assert one_times == earliest

    # The same lines, pairs of a static report kept together, in another order and split.
    groups: list[list[str]] = []
    for line in lines:
        if ",2,2," in line:
            groups[-1].append(line)
        else:
            groups.append([line])
    order.shuffle(groups)
    bounds = sorted(order.sample(range(1, len(groups)), cuts))
    pieces = [groups[a:b] for a, b in zip([0, *bounds], [*bounds, len(groups)], strict=True)]
    split = Settings(store=StoreSettings(path=run / "split"))
    for i, piece in enumerate(pieces):
        path = run / f"piece{i}.nmea"
        path.write_text("".join(line + "\n" for group in piece for line in group))
        ingest_paths([path], split)
    split_times, split_statics = _stored(run / "split")
    assert split_times == earliest
    assert split_statics.equals(one_statics)


def test_repeats_are_measured_from_the_reception_kept(tmp_path: Path) -> None:
    # One payload heard at 0, 50 and 100 s: 50 s repeats 0 s; 100 s is 100 s after the one kept.
    msg: dict[str, Any] = {"type": 1, "mmsi": 366000001, "lat": 37.0, "lon": -122.0}
    (sentence,) = encode_dict(msg, talker_id="AI", sentence_type="VDM")
    lines = [tagged(sentence, EPOCH0 + offset, "rx1") + "\n" for offset in (0, 50, 100)]
    whole = tmp_path / "whole.nmea"
    whole.write_text("".join(lines))
    ingest_paths([whole], Settings(store=StoreSettings(path=tmp_path / "one")))
    first, second = tmp_path / "first.nmea", tmp_path / "second.nmea"
    first.write_text("".join(lines[:2]))
    second.write_text(lines[2])
    split = Settings(store=StoreSettings(path=tmp_path / "split"))
    ingest_paths([first], split)
    ingest_paths([second], split)
    expected = {(366000001, EPOCH0), (366000001, EPOCH0 + 100)}
    assert _stored(tmp_path / "one")[0] == expected
    assert _stored(tmp_path / "split")[0] == expected
