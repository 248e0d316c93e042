"""Who heard whom: the receiver stations of a reception grid
(:class:`~monitor.analyse.reception.ReceptionGrid`), and the questions put to them.

Where positions name the receiver station that heard them, a grid also holds, per station, the
time bins in which it heard anyone (with how many vessels) and the cells in which it ever heard
anyone. A station that hears ships all the time and heard nobody at all while a vessel was
silent was down; one that kept hearing ships was working, and the vessel went dark.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from monitor.analyse.cells import PLACE_BITS, cell_rows, places_around
from monitor.core.jit import I64, inline, kernel

F64 = npt.NDArray[np.float64]

#: At most this many stations that heard a vessel near one end of a silence are asked about.
MAX_OWN_STATIONS = 8
#: What :meth:`ReceptionGrid.stations_stopped` says of one end of a silence.
STATIONS_UNKNOWN, STATIONS_WORKING, STATIONS_STOPPED = -1, 0, 1


@inline
def _active_between(bins: I64, lo: int, hi: int) -> bool:
    """Return whether the sorted ``bins`` hold one in ``lo..hi``."""
    k = np.searchsorted(bins, lo)
    return bool(k < bins.size and bins[k] <= hi)


@kernel
def own_stations(
    codes: I64,
    tracks: I64,
    stations: I64,
    t0_us: int,
    bin_us: int,
    cell_deg: float,
    own: I64,
    at_us: I64,
    lat: F64,
    lon: F64,
    lookback_bins: int,
    sign: int,
) -> I64:
    """Per query (a row each, -1 after the last): the stations that heard track ``own`` near
    lat/lon in the ``lookback_bins`` bins before ``at_us`` (``sign`` 1; after it with -1),
    the latest (earliest) first."""
    out = np.full((own.size, MAX_OWN_STATIONS), -1, dtype=np.int64)
    for g in range(own.size):
        at_bin = (at_us[g] - t0_us) // bin_us
        places = places_around(lat[g], lon[g], cell_deg)
        n_mine = 0
        for step in range(lookback_bins + 1):
            b = at_bin - sign * step
            for place in places:
                lo, hi = cell_rows(codes, (b << PLACE_BITS) | place)
                for k in range(lo, hi):
                    st = stations[k]
                    if tracks[k] != own[g] or st < 0 or n_mine == MAX_OWN_STATIONS:
                        continue
                    new = True
                    for i in range(n_mine):
                        new &= out[g, i] != st
                    if new:
                        out[g, n_mine] = st
                        n_mine += 1
    return out


@kernel
def stations_decide(
    mine: I64,
    station_ids: I64,
    station_start: I64,
    station_bins: I64,
    station_tracks: I64,
    t0_us: int,
    bin_us: int,
    at_us: I64,
    sign: int,
    from_us: I64,
    to_us: I64,
    activity_bins: int,
    chance: float,
) -> tuple[I64, I64]:
    """Per query: what the first of its stations ``mine`` (from :func:`own_stations`) that can
    tell says of ``from_us``..``to_us``, and which station that is (-1: none)."""
    n = mine.shape[0]
    out = np.full(n, STATIONS_UNKNOWN, dtype=np.int64)
    decider = np.full(n, -1, dtype=np.int64)
    for g in range(n):
        at_bin = (at_us[g] - t0_us) // bin_us
        first = (from_us[g] - t0_us + bin_us - 1) // bin_us
        last = (to_us[g] - t0_us) // bin_us - 1
        # The one that heard it last (first) and can tell decides.
        for i in range(MAX_OWN_STATIONS):
            st = mine[g, i]
            if out[g] != STATIONS_UNKNOWN or st < 0:
                break
            j = np.searchsorted(station_ids, st)
            if j >= station_ids.size or station_ids[j] != st:
                continue
            bins = station_bins[station_start[j] : station_start[j + 1]]
            n_tracks = station_tracks[station_start[j] : station_start[j + 1]]
            # How often it heard others (two vessels or more) over the hours before (after):
            # hearing nobody in a stretch of the silence must be unlikely by chance.
            lo = at_bin - sign * activity_bins if sign > 0 else at_bin
            hi = at_bin if sign > 0 else at_bin + activity_bins
            k = np.searchsorted(bins, lo)
            busy = 0
            while k < bins.size and bins[k] <= hi:
                busy += n_tracks[k] > 1
                k += 1
            share = min(busy / (activity_bins + 1), 0.999)
            if share <= 0.0 or (last - first + 1) * -math.log1p(-share) < -math.log(chance):
                continue
            heard = _active_between(bins, first, last)
            out[g] = STATIONS_WORKING if heard else STATIONS_STOPPED
            decider[g] = st
    return out, decider


@kernel
def covered(
    station_ids: I64,
    cell_start: I64,
    station_cells: I64,
    station: I64,
    lat: F64,
    lon: F64,
    cell_deg: float,
) -> npt.NDArray[np.bool_]:
    out = np.zeros(lat.size, dtype=np.bool_)
    for g in range(lat.size):
        j = np.searchsorted(station_ids, station[g])
        if station[g] < 0 or j >= station_ids.size or station_ids[j] != station[g]:
            continue
        cells = station_cells[cell_start[j] : cell_start[j + 1]]
        for place in places_around(lat[g], lon[g], cell_deg):
            k = np.searchsorted(cells, place)
            out[g] |= k < cells.size and cells[k] == place
    return out
