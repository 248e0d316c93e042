"""Identity tricks in the fleet: two ships on one MMSI, renamed ships, a reused IMO, a default
MMSI left in a transceiver, with the events they should raise as ground truth."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from monitor.simulate.fleet import Vessel
from monitor.simulate.params import SimulationParams

#: MMSIs cheap transceivers ship with, which their owners never change.
DEFAULT_MMSIS = (123_456_789, 111_111_111, 987_654_321)


@dataclass(frozen=True)
class Rename:
    """From ``t_s`` on, the vessel broadcasts another name and call sign."""

    t_s: float
    name: str
    callsign: str


@dataclass(frozen=True)
class IdentityTruth:
    """An identity event the feed should raise."""

    #: shared_mmsi | identity_change | imo_reuse | invalid_mmsi
    kind: str
    mmsi: int
    other_mmsi: int | None
    start_s: float
    end_s: float
    #: Both names (shared_mmsi), old -> new name (identity_change), the IMO (imo_reuse).
    detail: str


@dataclass
class Disguised:
    """The fleet after :func:`disguise`."""

    fleet: list[Vessel]
    #: Renames by index in the fleet.
    renames: dict[int, Rename]
    truth: list[IdentityTruth]


def disguise(
    fleet: list[Vessel],
    params: SimulationParams,
    rng: np.random.Generator,
    start_s: float,
    end_s: float,
) -> Disguised:
    """Return the fleet with the scenario's identity tricks played on some of its ships.

    Random numbers are drawn only for the tricks the scenario asks for, so other scenarios
    simulate exactly what they did without them.
    """
    fleet = list(fleet)
    out = Disguised(fleet, {}, [])
    cargo = [i for i, v in enumerate(fleet) if v.role == "cargo"]
    wanted = 2 * params.shared_mmsi_pairs + 2 * params.imo_reuse_pairs + params.renamed_vessels
    if wanted:
        chosen = [int(i) for i in rng.permutation(cargo)[:wanted]]
        for _ in range(params.shared_mmsi_pairs):
            if len(chosen) < 2:
                break
            a, b = chosen.pop(), chosen.pop()
            fleet[b] = replace(fleet[b], mmsi=fleet[a].mmsi)
            names = f"{fleet[a].name} / {fleet[b].name}"
            out.truth.append(
                IdentityTruth("shared_mmsi", fleet[a].mmsi, None, start_s, end_s, names)
            )
        for _ in range(params.imo_reuse_pairs):
            if len(chosen) < 2:
                break
            a, b = chosen.pop(), chosen.pop()
            fleet[b] = replace(fleet[b], imo=fleet[a].imo)
            out.truth.append(
                IdentityTruth(
                    "imo_reuse", fleet[a].mmsi, fleet[b].mmsi, start_s, end_s, str(fleet[a].imo)
                )
            )
        for index in chosen[: params.renamed_vessels]:
            t_s = start_s + float(rng.uniform(0.3, 0.7)) * (end_s - start_s)
            old = fleet[index]
            name = f"{old.name[:14]} II"
            callsign = "".join(chr(65 + int(c)) for c in rng.integers(0, 26, 4))
            out.renames[index] = Rename(t_s, name, callsign)
            out.truth.append(
                IdentityTruth("identity_change", old.mmsi, None, t_s, t_s, f"{old.name} -> {name}")
            )
    fishing = [i for i, v in enumerate(fleet) if v.role == "fishing"]
    for k, index in enumerate(fishing[: params.default_mmsi_vessels]):
        mmsi = DEFAULT_MMSIS[k % len(DEFAULT_MMSIS)]
        fleet[index] = replace(fleet[index], mmsi=mmsi)
        out.truth.append(IdentityTruth("invalid_mmsi", mmsi, None, start_s, end_s, "default"))
    return out
