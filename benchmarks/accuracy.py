"""Port-call accuracy against simulated ground truth: simulate -> ingest -> detect per scenario.

Prints, per scenario: precision, recall and F1 of port calls (detected and true calls of the same
vessel and port that overlap in time are paired one to one, longest overlap first; a part of a
split call beyond the first is a false call), median and 95th percentile arrival and departure
errors in minutes where the truth says the crossing was observable, transits wrongly reported as
calls, true calls split into several detected calls; then the MMSIs used by two ships at once
that got a shared_mmsi event (and the MMSIs of one ship that got one anyway), and the displaced
bursts that got a position_jump event. A second table scores dark periods (detected silences
of cause ``dark`` against the planned switch-offs) and encounters (against the planned
meetings, the partly dark and across-midnight ones among them) as ``benchmarks/event_scores.py``
defines. The ``harbour`` scenario (fast ferries docking unheard,
crew boats running to platforms, berths reached unheard across an anchorage, noisy SOG
alongside, ships silent in port for days) is also scored per role; a last row puts two
recordings of the same harbour fleet three years apart into one store (ferries and crew boats
lie at their home berths at the end of one and the start of the other).

    python benchmarks/accuracy.py [--days 4] [--vessels 60] [--scenario clean --scenario dark ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from event_scores import EventScores, score_encounters, score_gaps

from monitor.analyse.behaviour import encounters_of, gaps_of
from monitor.config import Settings, load_config, shipped_config_path
from monitor.pipeline.detect import detect_calls
from monitor.pipeline.ingest import ingest_paths
from monitor.report.data import calls_in_window
from monitor.schema import (
    BURSTS_TRUTH_SCHEMA,
    CALLS_TRUTH_SCHEMA,
    IDENTITY_TRUTH_SCHEMA,
    MEETINGS_TRUTH_SCHEMA,
    SILENCES_TRUTH_SCHEMA,
    TRANSITS_TRUTH_SCHEMA,
)
from monitor.simulate import DEFAULT_START, PRESETS, SimulationResult, simulate
from monitor.simulate.truth import read_truth_csv
from monitor.store.calls import load_calls
from monitor.store.events import load_events
from monitor.store.parquet import Store

SCENARIOS = ("clean", "noisy", "dark", "busy", "hard", "harbour")
#: Roles whose calls are scored one by one in the harbour scenario.
PATTERN_ROLES = ("ferry", "crewboat", "unheard_berth", "noisy_sog", "silent_in_port", "cargo")
#: The second of two recordings starts this long after the first.
YEARS_APART = timedelta(days=3 * 365)
#: A true call counts towards recall only if AIS shows it inside the period this long.
MIN_VISIBLE_H = 1.0


@dataclass
class Scores:
    scenario: str
    n_true: int
    n_detectable: int
    n_detected: int
    precision: float
    recall: float
    f1: float
    arrival_err_min: tuple[float, float, int]
    departure_err_min: tuple[float, float, int]
    transits_as_calls: int
    split_calls: int
    dark_arrivals: tuple[int, int]
    seconds: dict[str, float]
    missed: pl.DataFrame
    false: pl.DataFrame
    #: MMSIs used by two ships with a shared_mmsi event, of all such MMSIs; MMSIs of one ship
    #: with a shared_mmsi event.
    shared: tuple[int, int, int] = (0, 0, 0)
    #: Displaced bursts with a position_jump event of their vessel overlapping them, of all those
    #: heard.
    bursts: tuple[int, int] = (0, 0)
    #: Dark periods and encounters against the truth (benchmarks/event_scores.py).
    gaps: EventScores | None = None
    encounters: EventScores | None = None


def _span_us(frame: pl.DataFrame, start: str, end: str) -> pl.DataFrame:
    lo = np.iinfo(np.int64).min // 2
    hi = np.iinfo(np.int64).max // 2
    return frame.with_columns(
        _a=pl.col(start).dt.epoch("us").fill_null(lo), _b=pl.col(end).dt.epoch("us").fill_null(hi)
    )


def match(truth: pl.DataFrame, detected: pl.DataFrame) -> pl.DataFrame:
    """Return (truth row, detected row) pairs of the same vessel and port overlapping in time."""
    t = _span_us(truth.with_row_index("t_idx"), "arrival_utc", "departure_utc")
    d = _span_us(detected.with_row_index("d_idx"), "arrival_utc", "departure_utc")
    pairs = t.join(d, on=["mmsi", "port_id"], suffix="_det")
    return pairs.filter((pl.col("_a") < pl.col("_b_det")) & (pl.col("_a_det") < pl.col("_b")))


def one_to_one(pairs: pl.DataFrame) -> tuple[set[int], set[int]]:
    """Return the true and detected calls paired one to one, longest overlaps first.

    A true call split into several detected calls is matched once; the other parts count as
    false calls, as do calls that merge two true ones beyond the first.
    """
    overlap = pl.min_horizontal("_b", "_b_det") - pl.max_horizontal("_a", "_a_det")
    ranked = pairs.with_columns(_overlap=overlap).sort(
        "_overlap", "t_idx", "d_idx", descending=[True, False, False]
    )
    true_used: set[int] = set()
    det_used: set[int] = set()
    for t, d in ranked.select("t_idx", "d_idx").iter_rows():
        if t not in true_used and d not in det_used:
            true_used.add(t)
            det_used.add(d)
    return true_used, det_used


def _errors(pairs: pl.DataFrame, column: str, flag: str) -> tuple[float, float, int]:
    # A split call is timed by its first part's arrival and its last part's departure.
    det = pl.col(f"{column}_det")
    best = det.min() if column == "arrival_utc" else det.sort(nulls_last=True).last()
    ok = (
        pairs.group_by("t_idx")
        .agg(pl.col(column).first(), pl.col(flag).first(), best)
        .filter(pl.col(flag) & det.is_not_null())
    )
    if ok.height == 0:
        return (float("nan"), float("nan"), 0)
    err = (ok[f"{column}_det"].dt.epoch("us") - ok[column].dt.epoch("us")).abs().to_numpy() / 60e6
    return (float(np.median(err)), float(np.percentile(err, 95)), ok.height)


def score(
    name: str,
    truth: pl.DataFrame,
    transits: pl.DataFrame,
    detected: pl.DataFrame,
    start: datetime,
) -> Scores:
    """Return the scores of ``detected`` calls against ``truth`` calls and transits."""
    detected = detected.select(
        "mmsi", "port_id", "arrival_utc", "departure_utc", "arrival_observed"
    )
    detectable = truth.filter(pl.col("visible_h") >= MIN_VISIBLE_H)
    pairs = match(truth, detected)
    matched_true, matched_det = one_to_one(pairs)
    detectable_idx = set(
        truth.with_row_index("t_idx")
        .filter(pl.col("visible_h") >= MIN_VISIBLE_H)["t_idx"]
        .to_list()
    )
    precision = len(matched_det) / detected.height if detected.height else 1.0
    recall = len(matched_true & detectable_idx) / len(detectable_idx) if detectable_idx else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    split = pairs.group_by("t_idx").len().filter(pl.col("len") > 1).height
    # Dark arrivals: the arrival fell in the period but AIS was off; the detector should say
    # "arrival not observed" for the first detected part of the call.
    first = pairs.group_by("t_idx").agg(pl.all().sort_by("arrival_utc_det").first())
    dark = first.filter(
        ~pl.col("arrival_observable") & (pl.col("arrival_utc") > start + timedelta(minutes=10))
    )
    dark_found = dark.filter(~pl.col("arrival_observed")).height
    unmatched = detected.with_row_index("d_idx").filter(~pl.col("d_idx").is_in(list(matched_det)))
    transit_truth = transits.rename({"entry_utc": "arrival_utc", "exit_utc": "departure_utc"})
    as_calls = match(transit_truth, unmatched.drop("d_idx"))
    missed = truth.with_row_index("t_idx").filter(
        pl.col("t_idx").is_in(list(detectable_idx - matched_true))
    )
    return Scores(
        scenario=name,
        n_true=truth.height,
        n_detectable=detectable.height,
        n_detected=detected.height,
        precision=precision,
        recall=recall,
        f1=f1,
        arrival_err_min=_errors(pairs, "arrival_utc", "arrival_observable"),
        departure_err_min=_errors(pairs, "departure_utc", "departure_observable"),
        transits_as_calls=as_calls["d_idx"].n_unique() if as_calls.height else 0,
        split_calls=split,
        dark_arrivals=(dark_found, dark.height),
        seconds={},
        missed=missed,
        false=unmatched,
    )


def score_events(truth: Path, events: pl.DataFrame) -> tuple[tuple[int, int, int], tuple[int, int]]:
    """Return the shared MMSIs found, true and false, and the bursts found and true."""
    identity = read_truth_csv(truth / "identity.csv", IDENTITY_TRUTH_SCHEMA)
    shared_true = set(identity.filter(pl.col("kind") == "shared_mmsi")["mmsi"].to_list())
    shared_found = set(events.filter(pl.col("kind") == "shared_mmsi")["mmsi"].to_list())
    bursts = read_truth_csv(truth / "bursts.csv", BURSTS_TRUTH_SCHEMA)
    # A burst nobody heard (at sea between satellite passes) is no burst in the feed.
    bursts = bursts.filter(pl.col("n_heard") > 0).with_row_index("b")
    # Logging clocks run up to a few minutes off: a jump counts if it is that close.
    slack = timedelta(minutes=5)
    jumps = events.filter(pl.col("kind") == "position_jump").select("mmsi", "start_utc", "end_utc")
    found = bursts.join(jumps, on="mmsi", suffix="_jump").filter(
        (pl.col("start_utc_jump") <= pl.col("end_utc") + slack)
        & (pl.col("end_utc_jump") >= pl.col("start_utc") - slack)
    )
    return (
        (len(shared_found & shared_true), len(shared_true), len(shared_found - shared_true)),
        (found["b"].n_unique(), bursts.height),
    )


def run_scenario(
    name: str, settings: Settings, days: float, vessels: int, seed: int, work: Path
) -> Scores:
    """Return the scores of one scenario simulated, ingested and detected under ``work``."""
    out = work / name
    store = out / "store"
    settings = settings.model_copy(
        update={"store": settings.store.model_copy(update={"path": store})}
    )
    t0 = time.perf_counter()
    result = simulate(settings, days=days, vessels=vessels, seed=seed, output=out, params=name)
    t1 = time.perf_counter()
    ingest_paths(result.nmea_paths, settings)
    t2 = time.perf_counter()
    detect_calls(settings)
    t3 = time.perf_counter()
    truth = read_truth_csv(result.truth_paths["calls"], CALLS_TRUTH_SCHEMA)
    transits = read_truth_csv(result.truth_paths["transits"], TRANSITS_TRUTH_SCHEMA)
    scores = score(name, truth, transits, load_calls(store), result.start)
    events = load_events(store)
    scores.shared, scores.bursts = score_events(out / "truth", events)
    scores.gaps, scores.encounters = score_behaviour(result, events, settings, store)
    scores.seconds = {"simulate": t1 - t0, "ingest": t2 - t1, "detect": t3 - t2}
    return scores


def score_behaviour(
    result: SimulationResult, events: pl.DataFrame, settings: Settings, store: Path
) -> tuple[EventScores, EventScores]:
    """Return the scores of the dark periods and the encounters among ``events``."""
    times = (
        Store(store)
        .scan_positions()
        .select(first=pl.col("timestamp_utc").min(), last=pl.col("timestamp_utc").max())
    )
    first, last = times.collect().row(0)
    silences = read_truth_csv(result.truth_paths["silences"], SILENCES_TRUTH_SCHEMA)
    meetings = read_truth_csv(result.truth_paths["meetings"], MEETINGS_TRUTH_SCHEMA)
    dark_ones = meetings["dark_mmsi"].drop_nulls().implode()
    positions = (
        Store(store)
        .scan_positions()
        .filter(pl.col("mmsi").is_in(dark_ones))
        .select("mmsi", "timestamp_utc", "lat", "lon")
        .collect()
    )
    return (
        score_gaps(silences, gaps_of(events), settings.gaps, first, last),
        score_encounters(meetings, encounters_of(events), settings.encounters, last, positions),
    )


def _rate(s: EventScores) -> str:
    return (
        f"{s.precision:6.3f} ({s.n_right:>3d}/{s.n_detected:<3d}) "
        f"{s.recall:6.3f} ({s.n_found:>3d}/{s.n_detectable:<3d})"
    )


def print_behaviour(all_scores: list[Scores], show_errors: bool) -> None:
    """Print the dark-period and encounter scores of every scenario."""
    print(
        f"\n{'scenario':9} {'dark periods: precision':>24} {'recall':>16}   "
        f"{'encounters: precision':>22} {'recall':>16}  found by kind"
    )
    for s in all_scores:
        assert s.gaps is not None and s.encounters is not None
        kinds = ", ".join(
            f"{kind} {found}/{total}" for kind, (found, total) in s.encounters.found_by_kind.items()
        )
        print(f"{s.scenario:9} {_rate(s.gaps):>41}   {_rate(s.encounters):>39}  {kinds}")
        if show_errors:
            with pl.Config(tbl_rows=30, tbl_cols=14, tbl_width_chars=200):
                print("missed dark periods:", s.gaps.missed)
                print("false dark periods:", s.gaps.false)
                print("missed encounters:", s.encounters.missed)
                print("false encounters:", s.encounters.false)


def score_roles(
    truth_dir: Path, detected: pl.DataFrame, settings: Settings, start: datetime, end: datetime
) -> None:
    """Print, per role of the harbour patterns, how its true calls were found.

    Columns: true calls, those AIS shows for an hour or more, detected calls, detected calls
    matching no true one, true calls seen and found, true calls found as several, detected calls
    spanning several true ones; then stops seen of noisy-SOG ships, and silences in port bridged
    (up to ``max_silent_stay_h``) or ending the call (longer).
    """
    truth = read_truth_csv(truth_dir / "calls.csv", CALLS_TRUTH_SCHEMA)
    vessels = pl.read_csv(truth_dir / "vessels.csv").select(pl.col("mmsi").cast(pl.UInt32), "role")
    silences = read_truth_csv(truth_dir / "silences.csv", SILENCES_TRUTH_SCHEMA)
    roles = vessels.with_columns(pl.col("role").replace({"meeting": "cargo"}))
    print(f"  {'role':15} {'true':>5} {'seen':>5} {'det':>5} {'false':>5} {'found':>9} "
          f"{'split':>5} {'merged':>6}")  # fmt: skip
    for role in PATTERN_ROLES:
        mmsis = roles.filter(pl.col("role") == role)["mmsi"].implode()
        t = truth.filter(pl.col("mmsi").is_in(mmsis))
        d = detected.filter(pl.col("mmsi").is_in(mmsis))
        pairs = match(t, d)
        seen = set(t.with_row_index("t_idx").filter(pl.col("visible_h") >= MIN_VISIBLE_H)["t_idx"])
        found = seen & set(pairs["t_idx"].to_list())
        print(
            f"  {role:15} {t.height:5d} {len(seen):5d} {d.height:5d} "
            f"{d.height - pairs['d_idx'].n_unique():5d} {len(found):4d}/{len(seen):<4d} "
            f"{pairs.group_by('t_idx').len().filter(pl.col('len') > 1).height:5d} "
            f"{pairs.group_by('d_idx').len().filter(pl.col('len') > 1).height:6d}"
        )
        if role == "noisy_sog" and d.height:
            print(f"    calls with a stop seen (SOG 0.3-3 kn alongside): "
                  f"{int(d['stop_observed'].sum())}/{d.height}")  # fmt: skip
    # Silences with the vessel heard on both sides, inside the period.
    margin = timedelta(hours=1)
    quiet = silences.filter(
        (pl.col("kind") == "in_port")
        & (pl.col("start_utc") > start + margin)
        & (pl.col("end_utc") < end - margin)
    )
    if quiet.height:
        spans = detected.select(
            "mmsi", "arrival_utc", end=pl.coalesce("departure_utc", "last_seen_utc")
        )
        covered = quiet.join(spans, on="mmsi").filter(
            (pl.col("arrival_utc") < pl.col("start_utc")) & (pl.col("end") > pl.col("end_utc"))
        )["start_utc"]
        bound = settings.detect.max_silent_stay_h
        for name, part in (
            (
                f"silences in port up to {bound:g} h: one stay",
                quiet.filter(pl.col("duration_h") <= bound),
            ),
            ("longer: the call ends, not bridged", quiet.filter(pl.col("duration_h") > bound)),
        ):
            bridged = part.filter(pl.col("start_utc").is_in(covered.implode())).height
            print(f"    {name}: bridged {bridged}/{part.height}")


def two_recordings(
    settings: Settings, days: float, vessels: int, seed: int, work: Path
) -> tuple[Scores, float, int, int]:
    """Return the scores of two recordings of the same fleet years apart in one store, the
    longest call (hours), the calls a report between them lists, and those it lists in port."""
    out = work / "two_recordings"
    store = out / "store"
    settings = settings.model_copy(
        update={"store": settings.store.model_copy(update={"path": store})}
    )
    truths: list[pl.DataFrame] = []
    transits: list[pl.DataFrame] = []
    first = None
    # The later recording ends at the default start: ingest refuses times in the future.
    for k, start in enumerate((DEFAULT_START - YEARS_APART, DEFAULT_START)):
        result = simulate(settings, days=days, vessels=vessels, seed=seed, output=out / f"r{k}",
                          params="harbour", start=start)  # fmt: skip
        ingest_paths(result.nmea_paths, settings)
        truths.append(read_truth_csv(result.truth_paths["calls"], CALLS_TRUTH_SCHEMA))
        transits.append(read_truth_csv(result.truth_paths["transits"], TRANSITS_TRUTH_SCHEMA))
        first = first or result
    detect_calls(settings)
    calls = load_calls(store)
    assert first is not None
    scores = score("2 records", pl.concat(truths), pl.concat(transits), calls, first.start)
    between = first.end + YEARS_APART / 2
    listed = calls_in_window(calls, between, between + timedelta(days=2),
                             DEFAULT_START + timedelta(days=days),
                             settings.detect.max_unheard_h)  # fmt: skip
    longest = float(calls["duration_h"].max() or 0.0)  # type: ignore[arg-type]
    return scores, longest, listed.height, int(listed["in_port_at_end"].sum())


def _fmt(err: tuple[float, float, int]) -> str:
    return f"{err[0]:6.2f} {err[1]:7.2f} (n={err[2]})"


def default_settings(config: Path | None) -> Settings:
    """Return the settings of ``config``, else of the shipped Korea config."""
    return load_config(config if config else shipped_config_path("korea"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--days", type=float, default=4.0)
    parser.add_argument("--vessels", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenario", action="append", choices=sorted(PRESETS), default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the work files here")
    parser.add_argument("--show-errors", action="store_true", help="list missed and false calls")
    args = parser.parse_args()
    settings = default_settings(args.config)
    scenarios = args.scenario or list(SCENARIOS)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        header = (
            f"{'scenario':9} {'true':>5} {'seen':>5} {'det':>5} {'prec':>6} {'recall':>6} "
            f"{'F1':>6}  {'arr med/p95 min':>22}  {'dep med/p95 min':>22} {'tr>call':>7} "
            f"{'split':>5} {'dark arr':>8} {'shared/false':>12} {'bursts':>7}  "
            "seconds sim/ingest/detect"
        )
        print(header)
        all_scores = []
        for name in scenarios:
            vessels = args.vessels * 2 if name == "busy" else args.vessels
            # Harbour patterns play out over days (stays of up to four days, silent).
            days = max(args.days, 7.0) if name == "harbour" else args.days
            s = run_scenario(name, settings, days, vessels, args.seed, work)
            all_scores.append(s)
            print(
                f"{name:9} {s.n_true:5d} {s.n_detectable:5d} {s.n_detected:5d} "
                f"{s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f}  {_fmt(s.arrival_err_min):>22}  "
                f"{_fmt(s.departure_err_min):>22} {s.transits_as_calls:7d} {s.split_calls:5d} "
                f"{s.dark_arrivals[0]:>4d}/{s.dark_arrivals[1]:<3d} "
                f"{s.shared[0]:>5d}/{s.shared[1]:<2d} {s.shared[2]:>3d} "
                f"{s.bursts[0]:>3d}/{s.bursts[1]:<3d}  "
                + "/".join(f"{v:.1f}" for v in s.seconds.values())
            )
            if name == "harbour":
                calls = load_calls(work / name / "store")
                start = DEFAULT_START
                end = start + timedelta(days=days)
                score_roles(work / name / "truth", calls, settings, start, end)
            if args.show_errors:
                with pl.Config(tbl_rows=30, tbl_cols=12, tbl_width_chars=200):
                    print("missed:", s.missed)
                    print("false:", s.false)
        if args.scenario is None:
            s, longest, listed, in_port = two_recordings(
                settings, args.days, args.vessels, args.seed, work
            )
            print(
                f"{'2 records':9} {s.n_true:5d} {s.n_detectable:5d} {s.n_detected:5d} "
                f"{s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f}  (harbour, "
                f"{YEARS_APART.days} days apart): longest call {longest:.1f} h; a report "
                f"between them lists {listed} calls, {in_port} in port at its end"
            )
        print_behaviour(all_scores, args.show_errors)


if __name__ == "__main__":
    main()
