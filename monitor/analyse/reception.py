"""Where and when the feed heard anyone: a grid of time bins and cells, and questions put to it.

A silence is only suspicious where the receivers were working: a vessel that falls silent while
the ships around it are still heard switched its AIS off; one that falls silent together with
them was behind a receiver that went down; one that sails into water where nobody is ever heard
left the receivers' range. The grid holds, for every position of every track, its time bin and
its cell, once per track, sorted so that a bin-and-cell block is found by binary search.

Cells are square, ``cell_km`` on a side: rows of latitude, and in each row columns of longitude
as wide as ``cell_km`` at the row's middle latitude. "Near" a point is the block of 3 x 3 cells
around its cell, so at least one cell width all round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from monitor.analyse.cells import (
    PLACE_BITS,
    PLACE_MASK,
    cell_rows,
    metres_between,
    places_around,
)
from monitor.analyse.reception_stations import (
    MAX_OWN_STATIONS,
    covered,
    own_stations,
    stations_decide,
)
from monitor.core.geo import METRES_PER_DEG
from monitor.core.jit import I64, inline, kernel

F64 = npt.NDArray[np.float64]

#: How a silent vessel is taken to move (``_where``): in a straight line from its last position
#: to its first one after, at even speed; on from its last position at its last velocity
#: (a silence still open at the end of the data); or on at its last velocity for the first half
#: and back along its first velocity after for the second (it came back near where it left).
STRAIGHT, ONWARD, OUT_AND_BACK = 0, 1, 2
#: ... for at most this long: beyond, where it went is anyone's guess, and it stays put.
ONWARD_MAX_US = 3 * 3_600_000_000
#: ... and this long when it is still silent: with no later position to bound it, a ship under
#: way is taken to keep going, out of any shore receiver's reach at a few knots, so that one
#: that sailed out of the feed's reach is told by nobody being heard where it went.
OPEN_ONWARD_MAX_US = 12 * 3_600_000_000
#: A silence longer than this many time bins (three days of ten-minute bins) is read along its
#: course on this many bins spread evenly over it, each standing for those up to the next: what
#: a silence tells is in how it goes on, not in each of its bins. A silence still open is read
#: on every bin: as the data goes on, what was read of it is read on from where it ended
#: (:meth:`ReceptionGrid.quiet_along` ``since``), so a vessel long gone costs the new bins only.
ALONG_MAX_BINS = 432


def along_bins(
    t0_us: int, bin_us: int, start_us: I64, end_us: I64, mode: I64
) -> tuple[I64, I64, I64]:
    """Return, per silence, the first and last time bins strictly inside it that
    :meth:`ReceptionGrid.quiet_along` reads, and the step between them (see
    :data:`ALONG_MAX_BINS`; a silence still open goes on ``mode`` :data:`ONWARD`)."""
    first = (start_us - t0_us) // bin_us + 1
    last = (end_us - t0_us) // bin_us - 1
    step = np.maximum((last - first + ALONG_MAX_BINS) // ALONG_MAX_BINS, 1)
    return first, last, np.where(mode == ONWARD, 1, step).astype(np.int64)


@inline
def _heard_near(
    codes: I64,
    tracks: I64,
    time_bin: int,
    lat: float,
    lon: float,
    cell_deg: float,
    own: int,
) -> bool:
    """Return whether a track other than ``own`` was heard in ``time_bin`` in the 3 x 3 cells
    around lat/lon."""
    # The bin's rows first: the cells are then searched among a few, not among all.
    at = np.searchsorted(codes, time_bin << PLACE_BITS)
    in_bin = codes[at : np.searchsorted(codes, (time_bin + 1) << PLACE_BITS)]
    if not in_bin.size:
        return False
    for place in places_around(lat, lon, cell_deg):
        lo, hi = cell_rows(in_bin, (time_bin << PLACE_BITS) | place)
        for k in range(at + lo, at + hi):
            if tracks[k] != own:
                return True
    return False


@inline
def _where(
    t: float,
    start: float,
    end: float,
    lat0: float,
    lon0: float,
    lat1: float,
    lon1: float,
    v0: tuple[float, float],
    v1: tuple[float, float],
    mode: int,
) -> tuple[float, float]:
    """Return the lat/lon a silent vessel is taken to be at, at time ``t`` (see ``_PATHS``)."""
    if mode == STRAIGHT:
        f = min(max((t - start) / max(end - start, 1.0), 0.0), 1.0)
        return lat0 + (lat1 - lat0) * f, lon0 + (lon1 - lon0) * f
    if mode == OUT_AND_BACK and t > (start + end) / 2.0:
        back = min(end - t, ONWARD_MAX_US)
        return lat1 - v1[0] * back, lon1 - v1[1] * back
    on = min(t - start, OPEN_ONWARD_MAX_US if mode == ONWARD else ONWARD_MAX_US)
    return lat0 + v0[0] * on, lon0 + v0[1] * on


@inline
def _in_bin(
    b: int,
    t0_us: int,
    bin_us: int,
    start_us: int,
    end_us: int,
    ends: F64,
    v0: tuple[float, float],
    v1: tuple[float, float],
    mode: int,
) -> tuple[float, float]:
    """Return where a silent vessel is taken to be in the middle of time bin ``b``."""
    mid = t0_us + b * bin_us + bin_us // 2
    lat, lon = _where(
        float(mid), float(start_us), float(end_us), ends[0], ends[1], ends[2], ends[3], v0, v1,
        mode,
    )  # fmt: skip
    return min(max(lat, -89.9), 89.9), (lon + 180.0) % 360.0 - 180.0


@kernel
def _touched(
    changed: I64,
    t0_us: int,
    bin_us: int,
    cell_deg: float,
    start_us: I64,
    end_us: I64,
    ends: F64,
    velocities: F64,
    mode: I64,
    first_bin: I64,
    last_bin: I64,
    step_bins: I64,
) -> npt.NDArray[np.bool_]:
    out = np.zeros(start_us.size, dtype=np.bool_)
    for g in range(start_us.size):
        v0 = (velocities[g, 0], velocities[g, 1])
        v1 = (velocities[g, 2], velocities[g, 3])
        lo = np.searchsorted(changed, first_bin[g] << PLACE_BITS)
        hi = np.searchsorted(changed, (last_bin[g] + 1) << PLACE_BITS)
        for k in range(lo, hi):
            b = changed[k] >> PLACE_BITS
            if (b - first_bin[g]) % step_bins[g] != 0:
                continue
            lat, lon = _in_bin(b, t0_us, bin_us, start_us[g], end_us[g], ends[g], v0, v1, mode[g])
            if (places_around(lat, lon, cell_deg) == (changed[k] & PLACE_MASK)).any():
                out[g] = True
                break
    return out


class GridGeometry(Protocol):
    """Where a grid's bins and cells lie (a grid, or the spec of one)."""

    @property
    def t0_us(self) -> int: ...
    @property
    def bin_us(self) -> int: ...
    @property
    def cell_deg(self) -> float: ...


def along_touched(
    changed: I64,
    grid: GridGeometry,
    start_us: I64,
    end_us: I64,
    ends: F64,
    velocities: F64,
    mode: I64,
    bins: tuple[I64, I64, I64],
) -> npt.NDArray[np.bool_]:
    """Return, per silence, whether reading ``grid`` along it on ``bins`` (first, last, step:
    :func:`along_bins`, last maybe earlier) asks of any of the codes ``changed`` (sorted): the
    rows of cells and bins where the grid may have changed. One that does not reads the same
    as before they changed."""
    return _touched(
        changed, grid.t0_us, grid.bin_us, grid.cell_deg, start_us, end_us, ends, velocities,
        mode, *bins,
    )  # fmt: skip


@kernel
def _quiet_along(
    codes: I64,
    tracks: I64,
    where: F64,
    t0_us: int,
    bin_us: int,
    cell_deg: float,
    own: I64,
    start_us: I64,
    end_us: I64,
    ends: F64,
    velocities: F64,
    mode: I64,
    first_bin: I64,
    last_bin: I64,
    step_bins: I64,
    n_bins: I64,
    n_heard: I64,
    longest: I64,
    runs: I64,
) -> None:
    """Read on from ``first_bin`` (to ``last_bin``, every ``step_bins``), adding to what was
    read before (``n_bins``, ``n_heard``, ``longest``, and ``runs``: the quiet run it ended
    in), in place."""
    for g in range(own.size):
        run = runs[g]
        step = step_bins[g]
        v0 = (velocities[g, 0], velocities[g, 1])
        v1 = (velocities[g, 2], velocities[g, 3])
        for b in range(first_bin[g], last_bin[g] + 1, step):
            lat, lon = _in_bin(b, t0_us, bin_us, start_us[g], end_us[g], ends[g], v0, v1, mode[g])
            n_bins[g] += 1
            if _heard_near(codes, tracks, b, lat, lon, cell_deg, own[g]):
                n_heard[g] += 1
                run = 0
            else:
                run += step
                longest[g] = max(longest[g], run)
        runs[g] = run


@inline
def _heard_nowhere(first_us: int, last_us: int, from_us: I64, to_us: I64, a: int, z: int) -> bool:
    """Return whether a track first and last heard at ``first_us`` and ``last_us``, whose
    intervals of ``QUIET_MIN_US`` or longer are ``from_us``/``to_us`` (sorted), has no position
    in ``(a, z]``, ``z - a`` at least ``QUIET_MIN_US``."""
    if a >= last_us:
        return True
    if a < first_us:
        return first_us > z
    k = np.searchsorted(from_us, a, side="right") - 1
    return bool(k >= 0 and to_us[k] > z)


@inline
def _near_others(
    codes: I64,
    tracks: I64,
    where: F64,
    t0_us: int,
    bin_us: int,
    cell_deg: float,
    own: int,
    at_us: int,
    lat: float,
    lon: float,
    lookback_bins: int,
    sign: int,
    seen: I64,
    g: int,
    out: I64,
) -> int:
    """Write into ``out`` the tracks other than ``own`` heard within one cell width of lat/lon
    in the ``lookback_bins`` bins before ``at_us`` (``sign`` 1; after it with ``sign`` -1),
    each once (``seen`` marks those of query ``g``); return how many."""
    n = 0
    radius_m = cell_deg * METRES_PER_DEG
    at_bin = (at_us - t0_us) // bin_us
    places = places_around(lat, lon, cell_deg)
    for step in range(lookback_bins + 1):
        b = at_bin - sign * step
        for place in places:
            lo, hi = cell_rows(codes, (b << PLACE_BITS) | place)
            for k in range(lo, hi):
                other = tracks[k]
                if other == own or seen[other] == g:
                    continue
                if metres_between(lat, lon, where[k, 0], where[k, 1]) > radius_m:
                    continue
                seen[other] = g
                out[n] = other
                n += 1
    return n


@kernel
def _near_tracks(
    codes: I64,
    tracks: I64,
    where: F64,
    t0_us: int,
    bin_us: int,
    cell_deg: float,
    n_tracks: int,
    own: I64,
    at_us: I64,
    lat: F64,
    lon: F64,
    lookback_bins: int,
    sign: int,
) -> tuple[I64, I64]:
    """Per query: how many tracks other than ``own`` were heard near lat/lon within
    ``lookback_bins`` bins before ``at_us`` (``sign`` 1; after it with ``sign`` -1), and those
    tracks, query after query."""
    n = own.size
    n_near = np.zeros(n, dtype=np.int64)
    seen = np.full(n_tracks, -1, dtype=np.int64)
    others = np.empty(n_tracks, dtype=np.int64)
    near = np.empty(max(4 * n, 16), dtype=np.int64)
    n_all = 0
    for g in range(n):
        k = _near_others(
            codes, tracks, where, t0_us, bin_us, cell_deg, own[g], at_us[g], lat[g], lon[g],
            lookback_bins, sign, seen, g, others,
        )  # fmt: skip
        if n_all + k > near.size:
            grown = np.empty(max(2 * near.size, n_all + k), dtype=np.int64)
            grown[:n_all] = near[:n_all]
            near = grown
        near[n_all : n_all + k] = others[:k]
        n_all += k
        n_near[g] = k
    return n_near, near[:n_all].copy()


@kernel
def _silent_among(
    track_first_us: I64,
    track_last_us: I64,
    track_usual_us: I64,
    gap_start: I64,
    gap_from_us: I64,
    gap_to_us: I64,
    n_near: I64,
    near: I64,
    at_us: I64,
    quiet_from_us: int,
    quiet_us: int,
    sign: int,
) -> I64:
    """Per query: how many of its tracks ``near`` (``n_near`` of them, query after query) were
    heard nowhere from ``quiet_from_us`` after ``at_us`` (before it with ``sign`` -1) for
    ``quiet_us`` or three of their own usual intervals, whichever is longer."""
    n_quiet = np.zeros(n_near.size, dtype=np.int64)
    first = 0
    for g in range(n_near.size):
        others = near[first : first + n_near[g]]
        first += n_near[g]
        for other in others:
            length = max(quiet_us, 3 * track_usual_us[other])
            if sign > 0:
                a, z = at_us[g] + quiet_from_us, at_us[g] + quiet_from_us + length
            else:
                a, z = at_us[g] - quiet_from_us - length, at_us[g] - quiet_from_us
            if _heard_nowhere(
                track_first_us[other], track_last_us[other],
                gap_from_us[gap_start[other] : gap_start[other + 1]],
                gap_to_us[gap_start[other] : gap_start[other + 1]], a, z,
            ):  # fmt: skip
                n_quiet[g] += 1
    return n_quiet


@kernel
def _kept_among(
    track_first_us: I64,
    track_last_us: I64,
    track_usual_us: I64,
    gap_start: I64,
    gap_from_us: I64,
    gap_to_us: I64,
    n_near: I64,
    near: I64,
    from_us: I64,
    to_us: I64,
    min_regular_us: int,
) -> F64:
    """Per query: the sum over its tracks ``near`` (``n_near`` of them, query after query) of
    the share of ``from_us``..``to_us`` that each spent in intervals shorter than three of its
    usual ones (at least ``min_regular_us``, at least :data:`QUIET_MIN_US`): heard as
    regularly as it usually is. The time between its first and last position less its longer
    intervals is that time, summed in microseconds before the division: the same whatever
    order the tracks come in."""
    kept = np.zeros(n_near.size, dtype=np.float64)
    first = 0
    for g in range(n_near.size):
        a, z = from_us[g], to_us[g]
        others = near[first : first + n_near[g]]
        first += n_near[g]
        if z <= a:
            continue
        covered = 0
        for other in others:
            regular = max(min_regular_us, 3 * track_usual_us[other])
            covered += max(min(z, track_last_us[other]) - max(a, track_first_us[other]), 0)
            lo_gap, hi_gap = gap_start[other], gap_start[other + 1]
            j = lo_gap + np.searchsorted(gap_to_us[lo_gap:hi_gap], a, side="right")
            while j < hi_gap and gap_from_us[j] < z:
                if gap_to_us[j] - gap_from_us[j] >= regular:
                    covered -= max(min(z, gap_to_us[j]) - max(a, gap_from_us[j]), 0)
                j += 1
        kept[g] = covered / (z - a)
    return kept


#: Intervals between two positions of a track this long or longer are what
#: :meth:`ReceptionGrid.silent_among` and :meth:`ReceptionGrid.kept_among` ask about (they
#: ask about no shorter quiet, or irregular reception).
QUIET_MIN_US = 30 * 60_000_000


@dataclass(frozen=True)
class ReceptionGrid:
    """Every track heard, by time bin and cell (see the module docstring)."""

    bin_us: int
    cell_deg: float
    t0_us: int
    #: Sorted packed (bin, row, column) codes, one per track heard there then.
    codes: I64
    #: The track of each code, and where it was (its first position there then).
    tracks: I64
    where: F64
    #: Per track, its first and last time.
    track_first_us: I64
    track_last_us: I64
    #: Per track, the interval half its time falls in (intervals up to the longest counted).
    track_usual_us: I64
    #: The intervals of track k of :data:`QUIET_MIN_US` or longer are
    #: ``quiet_from_us[quiet_start[k]:quiet_start[k + 1]]`` to ``quiet_to_us[...]``, sorted.
    quiet_start: I64
    quiet_from_us: I64
    quiet_to_us: I64
    #: The receiver station of each code (-1: not known), or none at all (a grid made without).
    stations: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Sorted station codes; the bins in which station k heard anyone, anywhere, are
    #: ``station_bins[station_start[k]:station_start[k + 1]]`` (sorted), with how many tracks
    #: it heard in each (``station_tracks``).
    station_ids: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    station_start: I64 = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    station_bins: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    station_tracks: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: The cells (codes of bin 0) in which station k ever heard anyone:
    #: ``station_cells[cell_start[k]:cell_start[k + 1]]``, sorted.
    cell_start: I64 = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    station_cells: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def _times(self) -> tuple[I64, I64, I64, I64, I64, I64]:
        """The tracks' times, as :func:`_silent_among` and :func:`_kept_among` take them."""
        return (
            self.track_first_us, self.track_last_us, self.track_usual_us, self.quiet_start,
            self.quiet_from_us, self.quiet_to_us,
        )  # fmt: skip

    def quiet_along(
        self,
        own: I64,
        start_us: I64,
        end_us: I64,
        ends: F64,
        velocities: F64,
        mode: I64,
        *,
        since: tuple[I64, I64, I64, I64, I64] | None = None,
    ) -> tuple[I64, I64, I64, I64]:
        """Return, per silence, the bins strictly inside it read (:func:`along_bins`), those
        in which another track was heard near where the vessel is taken to be then, the
        longest run of bins in which none was (counting the bins each read one stands for),
        and the run it ends in. With ``since`` (the bin to read on from, and those four as
        read up to it), reads on from there: a silence still open, read before up to an
        earlier end of the data.

        ``ends`` holds lat/lon before and after per row, ``velocities`` the velocities there
        (degrees of latitude and longitude per microsecond), ``mode`` how it moved (see
        :data:`STRAIGHT`).
        """
        first, last, step = along_bins(self.t0_us, self.bin_us, start_us, end_us, mode)
        if since is None:
            read = [np.zeros(own.size, dtype=np.int64) for _ in range(4)]
        else:
            first, read = since[0], [np.array(a, dtype=np.int64) for a in since[1:]]
        _quiet_along(
            self.codes, self.tracks, self.where, self.t0_us, self.bin_us, self.cell_deg, own,
            start_us, end_us, ends, velocities, mode, first, last, step, *read,
        )  # fmt: skip
        return read[0], read[1], read[2], read[3]

    def near_tracks(
        self, own: I64, at_us: I64, lat: F64, lon: F64, *, lookback_us: int, before: bool
    ) -> tuple[I64, I64]:
        """Return, per query, how many other tracks were heard near lat/lon in the
        ``lookback_us`` before ``at_us`` (``before``; else after it), and those tracks
        (numbers), query after query: whom :meth:`silent_among` and :meth:`kept_among` ask
        of."""
        if self.where.shape[0] != self.codes.size:
            raise ValueError("a grid made without places cannot tell who was near whom")
        return _near_tracks(
            self.codes, self.tracks, self.where, self.t0_us, self.bin_us, self.cell_deg,
            self.track_usual_us.size, own, at_us, lat, lon, max(lookback_us // self.bin_us, 0),
            1 if before else -1,
        )  # fmt: skip

    def silent_among(
        self, near: tuple[I64, I64], at_us: I64, *, quiet_us: tuple[int, int], before: bool
    ) -> I64:
        """Return, per query, how many of the tracks ``near`` it (as :meth:`near_tracks`
        gives them) were heard nowhere from ``quiet_us[0]`` after ``at_us`` (``before``; else
        before it) for ``quiet_us[1]`` or three of their usual intervals: who fell silent
        with it. This asks the tracks' times only, not where they were heard."""
        if quiet_us[1] < QUIET_MIN_US:
            raise ValueError(f"quiet_us[1] must be at least {QUIET_MIN_US} us")
        return _silent_among(
            *self._times, near[0], near[1], at_us, quiet_us[0], quiet_us[1], 1 if before else -1
        )

    def stations_stopped(
        self,
        own: I64,
        at_us: I64,
        lat: F64,
        lon: F64,
        *,
        lookback_us: int,
        before: bool,
        during: tuple[I64, I64],
        activity_us: int,
        chance: float,
    ) -> tuple[I64, I64]:
        """Return, per query, whether the receiver station that heard track ``own`` last near
        lat/lon in the ``lookback_us`` before ``at_us`` (``before``; else first after it), of
        those that can tell, heard anyone at all during the time ``during`` (from, to):
        :data:`STATIONS_WORKING` if it did, :data:`STATIONS_STOPPED` if not, or
        :data:`STATIONS_UNKNOWN` when none can tell: no station known, or none heard others
        often enough over the ``activity_us`` before ``at_us`` (after it) that hearing nobody
        for the time ``during`` would happen by ``chance`` or less, were it working (a
        satellite passing over now and then, a receiver where ships are few, one that heard
        only this vessel). Its activity is the share of time bins in which it heard two
        vessels or more; the chance of a stretch of n bins without anyone, ``(1 - share)**n``.
        "Near" is the 3 x 3 cells around lat/lon. Also returns, per query, the station that
        told (-1: none)."""
        mine = self.own_stations(own, at_us, lat, lon, lookback_us=lookback_us, before=before)
        return self.stations_decide(
            mine, at_us, before=before, during=during, activity_us=activity_us, chance=chance
        )

    def own_stations(
        self, own: I64, at_us: I64, lat: F64, lon: F64, *, lookback_us: int, before: bool
    ) -> I64:
        """Return, per query, the receiver stations that heard track ``own`` near lat/lon in
        the ``lookback_us`` before ``at_us`` (``before``; else after it), the latest (earliest)
        first: a row each, -1 after the last (all -1 in a grid without stations)."""
        if self.stations.size != self.codes.size:
            return np.full((own.size, MAX_OWN_STATIONS), -1, dtype=np.int64)
        return own_stations(
            self.codes, self.tracks, self.stations, self.t0_us, self.bin_us, self.cell_deg,
            own, at_us, lat, lon, max(lookback_us // self.bin_us, 0), 1 if before else -1,
        )  # fmt: skip

    def stations_decide(
        self,
        mine: I64,
        at_us: I64,
        *,
        before: bool,
        during: tuple[I64, I64],
        activity_us: int,
        chance: float,
    ) -> tuple[I64, I64]:
        """Return what :meth:`stations_stopped` says of the stations ``mine`` (from
        :meth:`own_stations`), and the station that told."""
        return stations_decide(
            mine, self.station_ids, self.station_start, self.station_bins, self.station_tracks,
            self.t0_us, self.bin_us, at_us, 1 if before else -1, during[0], during[1],
            max(activity_us // self.bin_us, 1), chance,
        )  # fmt: skip

    def station_covers(self, station: I64, lat: F64, lon: F64) -> npt.NDArray[np.bool_]:
        """Return per point whether ``station`` (a code; -1: none) ever heard anyone in the
        3 x 3 cells around it: whether the point is within the station's reach."""
        return covered(
            self.station_ids, self.cell_start, self.station_cells, station, lat, lon,
            self.cell_deg,
        )  # fmt: skip

    def kept_among(
        self, near: tuple[I64, I64], during: tuple[I64, I64], *, min_regular_us: int
    ) -> F64:
        """Return, per query, the sum over the tracks ``near`` it (as :meth:`near_tracks`
        gives them) of the share of the time ``during`` (from, to) each was heard as regularly
        as usual: in intervals under three of its usual ones, or under ``min_regular_us``.
        This asks the tracks' times only."""
        if min_regular_us < QUIET_MIN_US:
            raise ValueError(f"min_regular_us must be at least {QUIET_MIN_US} us")
        return _kept_among(*self._times, near[0], near[1], during[0], during[1], min_regular_us)
