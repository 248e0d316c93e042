"""Compiled steps of segmentation (:mod:`monitor.analyse.tracks`): which track each position
joins, which short tracks are runs displaced from a longer one, and the bookkeeping between.

Rows come sorted by MMSI and time; track numbers rise with the MMSI.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from monitor.core.geo import METRES_PER_DEG, MPS_PER_KN
from monitor.core.jit import I64, U32, Bool, inline, kernel

F64 = npt.NDArray[np.float64]
I64_2D = npt.NDArray[np.int64]

#: Tracks of one MMSI each position is compared with: the most recently heard. A default MMSI
#: shared by more transmitters than this gets extra tracks; segmentation never slows down.
MAX_CANDIDATES = 32
#: How strongly a track that a position reaches easily is preferred to one it barely reaches:
#: the maximum speed over a typical speed (50 kn / 20 kn).
_SHARPNESS = 2.5
#: Rows of each track a position is compared with when it fits no track's last row: a run of
#: up to this many minus one bad fixes is recognised as it happens. gpsdio-segment keeps 5; but
#: a displaced run first heard after a long interval (a satellite pass an hour or two after the
#: last) is within a ship's reach and joins its track, and a pass hears up to a dozen of its
#: fixes before the ship is heard where it really is.
_LOOKBACK = 12
#: Rows of a track this close in time are one fix heard again.
_LONE_US = 60_000_000
#: Tracks with far fewer positions than this are preferred less (gpsdio-segment: 10).
SHORT_TRACK = 10.0
#: A short track (a stray fix, or a ship just heard) takes a fix only if reaching it needs at
#: most this many times the speed over ground both report, plus _SOG_MARGIN_KN: stray fixes far
#: apart keep their ship's true SOG, and would otherwise join up at any speed up to the maximum.
_SOG_FACTOR = 1.5
_SOG_MARGIN_KN = 10.0


@inline
def _distance2_deg(lat: F64, lon: F64, i: int, j: int) -> float:
    """Return the squared distance between rows ``i`` and ``j`` in degrees of latitude
    (equirectangular: exact enough for what one ship can sail between two fixes)."""
    dlat = lat[i] - lat[j]
    dlon = lon[i] - lon[j]
    if dlon > 180.0:
        dlon -= 360.0
    elif dlon < -180.0:
        dlon += 360.0
    dlon *= math.cos(math.radians(0.5 * (lat[i] + lat[j])))
    return float(dlat * dlat + dlon * dlon)


@inline
def _cost(
    t_us: I64,
    lat: F64,
    lon: F64,
    i: int,
    j: int,
    reach_deg_per_s: float,
    slack2: float,
) -> tuple[float, float]:
    """Return (distance over reach, squared; squared padded interval) of row ``i`` after row
    ``j``: the first is above 1 when the fix cannot follow."""
    dt_s = (t_us[i] - t_us[j]) * 1e-6
    padded2 = dt_s * dt_s + slack2
    reach2 = reach_deg_per_s * reach_deg_per_s * padded2
    d2 = _distance2_deg(lat, lon, i, j)
    if reach2 <= 0.0:
        return (0.0 if d2 == 0.0 else 2.0), 1e-6
    return d2 / reach2, max(padded2, 1e-6)


@inline
def _too_fast(t_us: I64, lat: F64, lon: F64, sog_kn: F64, i: int, j: int, slack2: float) -> bool:
    """Return whether row ``i`` is farther from row ``j`` than both rows' SOG allow."""
    fastest = max(sog_kn[i], sog_kn[j])
    if not math.isfinite(fastest):
        fastest = sog_kn[i] if math.isfinite(sog_kn[i]) else sog_kn[j]
    if not math.isfinite(fastest):
        return False
    allowed_mps = (_SOG_FACTOR * fastest + _SOG_MARGIN_KN) * MPS_PER_KN
    dt_s = (t_us[i] - t_us[j]) * 1e-6
    reach_deg = allowed_mps * math.sqrt(dt_s * dt_s + slack2) / METRES_PER_DEG
    return bool(_distance2_deg(lat, lon, i, j) > reach_deg * reach_deg)


@inline
def _speed_misfit_kn(t_us: I64, lat: F64, lon: F64, sog_kn: F64, i: int, j: int) -> float:
    """Return how far the speed implied from row ``j`` to row ``i`` is from the slower SOG
    the two report (NaN if neither does): a ship that slowed down to anchor after a long
    silence reports its new SOG, and a bad fix keeps the ship's."""
    sog = min(sog_kn[i], sog_kn[j])
    if not math.isfinite(sog):
        sog = sog_kn[i] if math.isfinite(sog_kn[i]) else sog_kn[j]
    dt_s = max(abs(t_us[i] - t_us[j]) * 1e-6, 1.0)
    implied_kn = math.sqrt(_distance2_deg(lat, lon, i, j)) * METRES_PER_DEG / dt_s / MPS_PER_KN
    return float(abs(implied_kn - sog))


@inline
def _score(cost2: float, padded2: float, count: int) -> float:
    """Return how likely a fix follows a track's last fix: a Gaussian density around it, its
    spread growing with the time since (so it falls with the squared time), weighed down for
    tracks of few fixes, which may be bad fixes themselves (gpsdio-segment)."""
    a = count / SHORT_TRACK
    return float(math.exp(-_SHARPNESS * _SHARPNESS * cost2) / padded2 * a / math.sqrt(1 + a * a))


@inline
def _stale(count: int, gap_us: int, excursion_reports: int, excursion_us: int) -> bool:
    """Return whether a track of ``count`` positions, silent for ``gap_us``, is over: as small as
    an excursion, and silent for longer than one lasts."""
    return count <= excursion_reports and gap_us > excursion_us


@kernel
def assign_tracks(
    mmsi: U32,
    t_us: I64,
    lat: F64,
    lon: F64,
    sog_kn: F64,
    reach_deg_per_s: float,
    slack_s: float,
    silence_us: int,
    excursion_reports: int,
    excursion_us: int,
    seed_slot: I64,
    seed_count: I64,
    seed_joined: F64,
    snap: Bool,
) -> tuple[I64, F64, I64_2D, I64_2D]:
    """Return each row's track number (rows sorted by mmsi and time; numbers rise with the
    MMSI), how well each row fit its track when it joined (the cost, 1 for a new track), and
    the state before each row of ``snap``.

    Each track (slot) remembers its last ``_LOOKBACK`` rows. A row that no track's last row can
    reach, but an earlier row of a track can, better than the row after that one joined and
    with a speed closer to the SOG reported, returns from an excursion (of at most
    ``excursion_us``): it joins that track, and the excursion moves to a track of its own.

    To resume, an MMSI's first rows may be the remembered rows of its slots, oldest first:
    ``seed_slot`` (-1 for a row to assign), ``seed_count`` (the slot's number of positions) and
    ``seed_joined`` (the row's cost). Empty arrays: no seeds. The state before a row of
    ``snap`` (empty: none) is, per snapshot in row order, the slots' rows (``-1`` for none, most
    recent first; a row of ``_LOOKBACK`` + 1 columns, the last the slot's count).
    """
    n = len(mmsi)
    track = np.empty(n, np.int64)
    joined = np.ones(n, np.float64)
    n_snaps = 0
    if len(snap):
        for i in range(n):
            n_snaps += snap[i]
    snap_rows = np.full((n_snaps * MAX_CANDIDATES, _LOOKBACK + 1), -1, np.int64)
    snap_at = np.empty((n_snaps, 1), np.int64)
    taken = 0
    seeded = len(seed_slot) > 0
    slot_track = np.empty(MAX_CANDIDATES, np.int64)
    slot_count = np.zeros(MAX_CANDIDATES, np.int64)
    slot_rows = np.empty((MAX_CANDIDATES, _LOOKBACK), np.int64)
    slot_depth = np.zeros(MAX_CANDIDATES, np.int64)
    stray = np.zeros(MAX_CANDIDATES, np.bool_)
    used = 0
    next_track = 0
    slack2 = slack_s * slack_s
    for i in range(n):
        if i == 0 or mmsi[i] != mmsi[i - 1]:
            used = 0
        if seeded and seed_slot[i] >= 0:
            s = seed_slot[i]
            if s >= used:
                for fresh in range(used, s + 1):
                    slot_track[fresh] = next_track
                    next_track += 1
                    slot_depth[fresh] = 0
                used = s + 1
            depth = min(slot_depth[s] + 1, _LOOKBACK)
            for k in range(depth - 1, 0, -1):
                slot_rows[s, k] = slot_rows[s, k - 1]
            slot_rows[s, 0] = i
            slot_depth[s] = depth
            slot_count[s] = seed_count[i]
            track[i] = slot_track[s]
            joined[i] = seed_joined[i]
            continue
        if len(snap) and snap[i]:
            for s in range(used):
                for k in range(slot_depth[s]):
                    snap_rows[taken * MAX_CANDIDATES + s, k] = slot_rows[s, k]
                snap_rows[taken * MAX_CANDIDATES + s, _LOOKBACK] = slot_count[s]
            snap_at[taken, 0] = i
            taken += 1
        best = -1
        best_score = 0.0
        best_cost = 1.0
        best_open = False
        heard = False
        if used == 1:
            # One track so far (most MMSIs, most of the time): it takes the row if it can.
            last = slot_rows[0, 0]
            cost2, _ = _cost(t_us, lat, lon, i, last, reach_deg_per_s, slack2)
            if cost2 <= 1.0 and not (
                slot_count[0] < SHORT_TRACK and _too_fast(t_us, lat, lon, sog_kn, i, last, slack2)
            ):
                best, best_cost = 0, cost2
        else:
            # A track as small as an excursion (a stray fix, a burst), silent for longer than one
            # lasts, takes no more positions while a real track of the MMSI is heard (not a few
            # fixes: a stray fix heard since does not make a ship heard every hour or two lose
            # its young track): bad fixes days apart would otherwise join up into a phantom
            # track, as anything is within reach after days.
            for s in range(used):
                gap_us = t_us[i] - t_us[slot_rows[s, 0]]
                stray[s] = _stale(slot_count[s], gap_us, excursion_reports, excursion_us)
                if gap_us <= silence_us and not stray[s] and slot_count[s] >= SHORT_TRACK:
                    heard = True
            for s in range(used):
                last = slot_rows[s, 0]
                if heard and stray[s]:
                    continue
                cost2, padded2 = _cost(t_us, lat, lon, i, last, reach_deg_per_s, slack2)
                if cost2 > 1.0:
                    continue
                if slot_count[s] < SHORT_TRACK and _too_fast(
                    t_us, lat, lon, sog_kn, i, last, slack2
                ):
                    continue
                score = _score(cost2, padded2, slot_count[s])
                is_open = t_us[i] - t_us[last] <= silence_us
                if (is_open and not best_open) or (is_open == best_open and score > best_score):
                    best, best_score, best_cost, best_open = s, score, cost2, is_open
        if best < 0:
            # Look back: the last rows of a track may be an excursion this row returns from.
            back = 0
            for s in range(used):
                if heard and stray[s]:
                    continue
                for k in range(1, slot_depth[s]):
                    if t_us[slot_rows[s, 0]] - t_us[slot_rows[s, k - 1]] > excursion_us:
                        break
                    row = slot_rows[s, k]
                    cost2, padded2 = _cost(t_us, lat, lon, i, row, reach_deg_per_s, slack2)
                    # A ship heard now and then fits rows hours back about as well as its
                    # last: the run cut off must also fit the reported speeds worse than the
                    # return does (where they are reported).
                    # After a long silence, the track's new rows are as good as any: only a
                    # lone fix (repeated, perhaps) is cut off then.
                    first = slot_rows[s, k - 1]
                    resumed = t_us[first] - t_us[row] > excursion_us
                    lone = t_us[slot_rows[s, 0]] - t_us[first] <= _LONE_US
                    if (
                        cost2 < joined[first]
                        and (lone or not resumed)
                        and not (
                            _speed_misfit_kn(t_us, lat, lon, sog_kn, i, row)
                            >= _speed_misfit_kn(t_us, lat, lon, sog_kn, first, row)
                        )
                    ):
                        score = _score(cost2, padded2, slot_count[s])
                        if score > best_score:
                            best, best_score, best_cost, back = s, score, cost2, k
                        break
            if best >= 0:
                # The excursion (rows 0..back-1 of the slot) becomes a track of its own.
                spare = used if used < MAX_CANDIDATES else _oldest(slot_rows, used, t_us, best)
                if spare == used:
                    used += 1
                slot_track[spare] = next_track
                next_track += 1
                slot_count[spare] = back
                slot_depth[spare] = back
                for k in range(back):
                    slot_rows[spare, k] = slot_rows[best, k]
                    track[slot_rows[best, k]] = slot_track[spare]
                joined[slot_rows[best, back - 1]] = 1.0
                slot_count[best] -= back
                slot_depth[best] -= back
                for k in range(slot_depth[best]):
                    slot_rows[best, k] = slot_rows[best, k + back]
        if best < 0:
            best = used if used < MAX_CANDIDATES else _oldest(slot_rows, used, t_us, -1)
            if best == used:
                used += 1
            slot_track[best] = next_track
            next_track += 1
            slot_count[best] = 0
            slot_depth[best] = 0
        depth = min(slot_depth[best] + 1, _LOOKBACK)
        for k in range(depth - 1, 0, -1):
            slot_rows[best, k] = slot_rows[best, k - 1]
        slot_rows[best, 0] = i
        slot_depth[best] = depth
        slot_count[best] += 1
        track[i] = slot_track[best]
        joined[i] = best_cost
    return track, joined, snap_rows, snap_at


@inline
def _oldest(slot_rows: I64_2D, used: int, t_us: I64, keep: int) -> int:
    """Return the slot heard from longest ago (other than ``keep``): it is forgotten."""
    oldest = -1
    for s in range(used):
        if s != keep and (oldest < 0 or t_us[slot_rows[s, 0]] < t_us[slot_rows[oldest, 0]]):
            oldest = s
    return oldest


@kernel
def displaced_hosts(
    mmsi: U32,
    first_us: I64,
    last_us: I64,
    count: I64,
    starts: I64,
    sorted_us: I64,
    max_reports: int,
    max_jump_us: int,
    slack_us: int,
    given: I64,
) -> I64:
    """Return, per track (in track order), the track its positions were displaced from, or -1.

    A short track (at most ``max_reports`` positions over at most ``max_jump_us``, or fewer than
    ``SHORT_TRACK`` positions over any time) is displaced from a longer track of its MMSI that
    spans it, or starts within ``max_jump_us`` after it
    when it is the MMSI's first, or ends within ``max_jump_us`` before it when it is the last;
    unless it has ``SHORT_TRACK`` positions or more and the longer track reports meanwhile (bar
    ``slack_us`` at either end): that is a second transmitter. ``sorted_us`` holds the times of
    each track's rows given (``given``, at most ``count``: a resumed track's recent ones) from
    ``starts``.
    """
    n = len(mmsi)
    host = np.full(n, -1, np.int64)
    start = 0
    while start < n:
        end = start + 1
        while end < n and mmsi[end] == mmsi[start]:
            end += 1
        if end - start > 1:
            begin_us = first_us[start:end].min()
            finish_us = last_us[start:end].max()
            # Candidate hosts largest first: the main track of an MMSI is found at once.
            by_size = start + np.argsort(-count[start:end], kind="mergesort")
            for s in range(start, end):
                if count[s] > max_reports:
                    continue
                if count[s] >= SHORT_TRACK and last_us[s] - first_us[s] > max_jump_us:
                    continue
                for t in by_size:
                    if count[t] <= count[s]:
                        break
                    before = first_us[t] <= first_us[s] or (
                        first_us[s] == begin_us and first_us[t] - last_us[s] <= max_jump_us
                    )
                    after = last_us[t] >= last_us[s] or (
                        last_us[s] == finish_us and first_us[s] - last_us[t] <= max_jump_us
                    )
                    if not (before and after):
                        continue
                    if count[s] >= SHORT_TRACK:
                        # Enough fixes to be a transmitter: is the host heard meanwhile?
                        times = sorted_us[starts[t] : starts[t] + given[t]]
                        lo = np.searchsorted(times, first_us[s] + slack_us, side="right")
                        hi = np.searchsorted(times, last_us[s] - slack_us, side="left")
                        if hi > lo:
                            continue
                    host[s] = t
                    break
        start = end
    return host


@kernel
def track_spans(track: I64, n_tracks: int) -> tuple[I64, I64, I64]:
    """Return each track's first row, last row and number of rows."""
    first = np.full(n_tracks, -1, np.int64)
    last = np.zeros(n_tracks, np.int64)
    count = np.zeros(n_tracks, np.int64)
    for i in range(len(track)):
        t = track[i]
        if first[t] < 0:
            first[t] = i
        last[t] = i
        count[t] += 1
    return first, last, count


@kernel
def kept_labels(raw: I64, label: I64) -> tuple[Bool, U32, bool]:
    """Return which rows are kept (their raw track has a ``label``, not -1), the labels of those
    rows, and whether those labels never fall (each track's rows together already)."""
    keep = np.empty(len(raw), np.bool_)
    labels = np.empty(len(raw), np.uint32)
    n = 0
    in_order = True
    for i in range(len(raw)):
        value = label[raw[i]]
        keep[i] = value >= 0
        if value >= 0:
            if n and value < labels[n - 1]:
                in_order = False
            labels[n] = value
            n += 1
    return keep, labels[:n], in_order
