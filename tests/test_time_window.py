"""Message times outside the plausibility window are counted rejects, never a failed run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nmea_builders import tagged
from pyais import encode_dict

from monitor.config import IngestSettings, Settings, StoreSettings, parse_config
from monitor.errors import ConfigError, StoreError
from monitor.pipeline.ingest import ingest_paths
from monitor.schema import POSITIONS_SCHEMA
from monitor.store.parquet import Store

HEADER = "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType\n"


def _row(mmsi: int, when: str, lat: str = "37.5") -> str:
    return f"{mmsi},{when},{lat},-122.3,5.0,90.0,88,SHIP {mmsi},,,70\n"


def _good_rows(n: int) -> list[str]:
    return [_row(366000000 + i, f"2024-05-01T00:{i:02d}:00") for i in range(n)]


def _settings(tmp_path: Path, **ingest: object) -> Settings:
    return Settings(
        store=StoreSettings(path=tmp_path / "store"),
        ingest=IngestSettings.model_validate(ingest),
    )


def _stored(settings: Settings) -> pl.DataFrame:
    return Store(settings.store.path).scan_positions().collect()


def test_csv_times_outside_the_window_are_counted_and_the_rest_stored(tmp_path: Path) -> None:
    hostile = [
        _row(111000001, "9999-12-31T23:59:59"),
        _row(111000002, "1969-07-20T20:17:00"),
        _row(111000003, "1985-01-01T00:00:00"),
        _row(111000004, "2150-01-01T00:00:00"),
        # A bare date: read as epoch seconds it is 1970-08-23.
        _row(111000005, "20240304"),
    ]
    feed = tmp_path / "feed.csv"
    feed.write_text(HEADER + "".join(_good_rows(10)[:5] + hostile + _good_rows(10)[5:]))
    other = tmp_path / "other.csv"
    other.write_text(HEADER + _row(222000001, "2024-05-02T00:00:00"))
    settings = _settings(tmp_path)
    summary = ingest_paths([feed, other], settings)
    assert summary.errors == []
    first, second = summary.files
    assert first.rejected == {"time_out_of_range": 5}
    assert first.n_positions == 10 and second.n_positions == 1
    stored = _stored(settings)
    assert stored.height == 11
    assert stored["timestamp_utc"].dt.year().unique().to_list() == [2024]
    # Nothing of the rejected rows leaks into the statics either.
    names = Store(settings.store.path).scan_statics().collect()["vessel_name"].to_list()
    assert not [n for n in names if n.startswith("SHIP 111")]
    # A rerun is a no-op, not a failure.
    again = ingest_paths([feed, other], settings)
    assert again.errors == [] and [f.status for f in again.files] == ["unchanged", "unchanged"]


def test_numbers_too_big_for_a_time_are_counted_not_fatal(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    rows = [
        _row(111000001, "1e300"),
        _row(111000002, "99999999999999999999999"),
        _row(111000003, "inf"),
        _row(111000004, "nan"),
        _row(111000005, "2024-05-01T00:00:00", lat="nan"),
    ]
    feed.write_text(HEADER + "".join(_good_rows(3) + rows))
    settings = _settings(tmp_path)
    summary = ingest_paths([feed], settings)
    assert summary.errors == []
    assert summary.files[0].n_positions == 3
    assert summary.files[0].rejected["invalid_position"] == 1
    assert sum(summary.files[0].rejected.values()) == 5
    assert _stored(settings)["lat"].is_nan().sum() == 0


def test_the_window_is_configurable(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(HEADER + _row(366000001, "1985-06-01T00:00:00") + "".join(_good_rows(2)))
    narrow = _settings(tmp_path, min_time_utc="2024-05-01T00:01:00Z")
    summary = ingest_paths([feed], narrow)
    assert summary.files[0].rejected == {"time_out_of_range": 2}
    wide = Settings(
        store=StoreSettings(path=tmp_path / "wide"),
        ingest=IngestSettings.model_validate({"min_time_utc": "1980-01-01T00:00:00Z"}),
    )
    assert ingest_paths([feed], wide).files[0].n_positions == 3


def test_the_future_bound_follows_the_clock(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    soon = (now + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    later = (now + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")
    feed = tmp_path / "feed.csv"
    feed.write_text(HEADER + _row(366000001, soon) + _row(366000002, later))
    summary = ingest_paths([feed], _settings(tmp_path))
    assert summary.files[0].n_positions == 1
    assert summary.files[0].rejected == {"time_out_of_range": 1}
    strict = _settings(tmp_path / "strict", max_future_h=0)
    assert ingest_paths([feed], strict).files[0].rejected == {"time_out_of_range": 2}


def test_window_config_keys_are_validated() -> None:
    settings = parse_config("[ingest]\nmin_time_utc = 2010-01-01T00:00:00Z\nmax_future_h = 6\n")
    assert settings.ingest.min_time_utc == dt.datetime(2010, 1, 1, tzinfo=dt.UTC)
    # A time without a zone is UTC.
    naive = parse_config("[ingest]\nmin_time_utc = 2010-01-01T00:00:00\n")
    assert naive.ingest.min_time_utc == dt.datetime(2010, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ConfigError, match=r"ingest\.max_future_h"):
        parse_config("[ingest]\nmax_future_h = -1\n")
    with pytest.raises(ConfigError, match=r"ingest\.min_time_utc"):
        parse_config('[ingest]\nmin_time_utc = "yesterday"\n')


def test_nmea_times_outside_the_window_are_counted(tmp_path: Path) -> None:
    msg: dict[str, Any] = {
        "type": 1,
        "mmsi": 366000001,
        "lat": 37.0,
        "lon": -122.0,
        "speed": 5.0,
        "course": 9,
    }
    (sentence,) = encode_dict(msg, talker_id="AI", sentence_type="VDM")
    epochs = [1_714_521_600, 504_921_600, 5_680_281_600]  # 2024, 1986, 2150
    feed = tmp_path / "feed.nmea"
    feed.write_text("".join(tagged(sentence, e) + "\n" for e in epochs))
    summary = ingest_paths([feed], _settings(tmp_path))
    assert summary.files[0].n_positions == 1
    assert summary.files[0].rejected == {"time_out_of_range": 2}


def test_the_store_takes_any_representable_time_without_overflow(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "mmsi": [1, 2],
            "timestamp_utc": [
                dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
                dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
            ],
            "lat": [1.0, 2.0],
            "lon": [1.0, 2.0],
            "msg_key": [1, 2],
            "source": ["x", "x"],
        }
    )
    given_columns = set(frame.columns)
    frame = frame.select(
        pl.col(c).cast(t) if c in given_columns else pl.lit(None, t).alias(c)
        for c, t in POSITIONS_SCHEMA.items()
    )
    store = Store(tmp_path / "store")
    assert store.add_positions(frame, 60.0) == {"x": 2}
    assert store.add_positions(frame, 60.0) == {}
    assert store.scan_positions().collect().height == 2


_FIELD = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"),
    max_size=30,
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.lists(st.lists(_FIELD, min_size=1, max_size=14), min_size=1, max_size=5))
def test_no_row_can_stop_the_rows_around_it(tmp_path: Path, junk: list[list[str]]) -> None:
    folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    hostile = [",".join(fields) + "\n" for fields in junk]
    feed = folder / "feed.csv"
    feed.write_text(HEADER + "".join(_good_rows(4)[:2] + hostile + _good_rows(4)[2:]))
    settings = Settings(store=StoreSettings(path=folder / "store"))
    summary = ingest_paths([feed], settings)
    assert summary.errors == []
    stored = _stored(settings)
    good = stored.filter(pl.col("mmsi").is_between(366000000, 366000003))
    assert good.height == 4
    low, high = (
        dt.datetime(1998, 1, 1, tzinfo=dt.UTC),
        dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
    )
    assert stored["timestamp_utc"].is_between(low, high).all()


def test_a_write_failure_that_is_not_the_disk_does_not_blame_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(HEADER + "".join(_good_rows(2)))

    def broken(self: Store, frame: pl.DataFrame, window_s: float) -> dict[str, int]:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(Store, "add_positions", broken)
    with pytest.raises(StoreError) as raised:
        ingest_paths([feed], _settings(tmp_path))
    assert "disk space" not in str(raised.value)
    assert "OverflowError" in str(raised.value) and "report" in str(raised.value)
