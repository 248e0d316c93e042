"""Vessel identities: MMSI, IMO, names (some with HTML-special characters), types and roles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Roles the planner knows.
ROLES = (
    "cargo", "transit", "fishing", "loiterer", "meeting",
    "ferry", "crewboat", "unheard_berth", "noisy_sog", "silent_in_port",
)  # fmt: skip
#: Roles of small commercial craft (class A, no IMO number).
_BOATS = {"ferry": 40, "crewboat": 90}

#: Names that break naive HTML: every character is in the AIS 6-bit set, at most 20 long.
HOSTILE_NAMES = (
    "<IMG SRC=X ONERROR=>",
    'A&B "Q"',
    "<SCRIPT>ALERT(1)",
    "O'HARA & SONS",
    "</TD><B>BOLD</B>",
)

_WORDS_A = (
    "OCEAN",
    "GOLDEN",
    "EASTERN",
    "NORTH",
    "PACIFIC",
    "GREAT",
    "SILVER",
    "RED",
    "BLUE",
    "STAR",
    "UNITY",
    "VICTORY",
    "HOPE",
    "PEACE",
    "SUNRISE",
    "PIONEER",
    "KORYO",
    "AMUR",
    "ZARYA",
    "VOLNA",
)
_WORDS_B = (
    "TRADER",
    "PIONEER",
    "GLORY",
    "HARMONY",
    "SPIRIT",
    "EXPRESS",
    "STAR",
    "WAVE",
    "BRIDGE",
    "LIGHT",
    "MARINER",
    "FORTUNE",
    "DAWN",
    "HORIZON",
    "CARRIER",
    "BREEZE",
    "SUN",
    "MOUNTAIN",
    "RIVER",
    "SEA",
)
#: Maritime identification digits: Russia, DPRK, China, Sierra Leone, Togo, Panama, Mongolia,
#: Cameroon, Comoros, Palau.
_MIDS = (273, 445, 412, 667, 671, 352, 457, 613, 616, 511)


@dataclass(frozen=True)
class Vessel:
    """Who a simulated vessel says it is."""

    mmsi: int
    imo: int | None
    name: str
    callsign: str
    ship_type: int
    ais_class: str  # "A" or "B"
    role: str
    to_bow_m: int
    to_stern_m: int
    to_port_m: int
    to_starboard_m: int


def imo_number(rng: np.random.Generator) -> int:
    """Return a random 7-digit IMO number with a valid check digit."""
    digits = [int(d) for d in str(int(rng.integers(100000, 999999)))]
    check = sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10
    return int("".join(map(str, digits)) + str(check))


def make_fleet(roles: list[str], rng: np.random.Generator) -> list[Vessel]:
    """Return one vessel per role, with distinct MMSIs and names."""
    fleet: list[Vessel] = []
    used_mmsi: set[int] = set()
    used_names: set[str] = set()
    hostile = list(HOSTILE_NAMES)
    for index, role in enumerate(roles):
        while True:
            mmsi = int(_MIDS[int(rng.integers(len(_MIDS)))]) * 1_000_000 + int(
                rng.integers(100_000, 999_999)
            )
            if mmsi not in used_mmsi:
                used_mmsi.add(mmsi)
                break
        if role in ("cargo", "meeting") and hostile and index % 3 == 0:
            name = hostile.pop(0)
        else:
            while True:
                a = _WORDS_A[int(rng.integers(len(_WORDS_A)))]
                b = _WORDS_B[int(rng.integers(len(_WORDS_B)))]
                name = f"{a} {b}" if rng.random() < 0.7 else f"{a} {b} {int(rng.integers(1, 30))}"
                if name not in used_names:
                    break
        used_names.add(name)
        small = role in ("fishing", "loiterer")
        ais_class = "B" if small and rng.random() < 0.7 else "A"
        if role == "fishing":
            ship_type = 30
        elif role == "meeting":
            ship_type = 80  # tanker
        elif role in _BOATS:
            ship_type = _BOATS[role]  # high-speed craft, other
        else:
            ship_type = int(rng.choice([70, 70, 70, 79, 80]))
        boat = small or role in _BOATS
        length = int(rng.integers(15, 40)) if boat else int(rng.integers(90, 200))
        beam = max(4, length // 7)
        bow = int(length * rng.uniform(0.6, 0.85))
        fleet.append(
            Vessel(
                mmsi=mmsi,
                imo=None if boat else imo_number(rng),
                name=name,
                callsign="".join(chr(65 + int(c)) for c in rng.integers(0, 26, 4)),
                ship_type=ship_type,
                ais_class=ais_class,
                role=role,
                to_bow_m=bow,
                to_stern_m=length - bow,
                to_port_m=beam // 2,
                to_starboard_m=beam - beam // 2,
            )
        )
    return fleet
