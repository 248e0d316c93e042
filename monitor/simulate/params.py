"""Scenario knobs: reporting rates, fleet mix, dark behaviour and noise, with named presets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class NoiseParams:
    """Share of reports or lines damaged the way real feeds damage them."""

    #: Positions thrown tens of km off (GPS or decoding glitches).
    outlier_rate: float = 0.0
    #: Positions sent as "not available" (lat 91, lon 181).
    not_available_rate: float = 0.0
    #: Sentences also heard by a second receiver (same sentence, tag ``s:rx2``, c: +0..2 s).
    duplicate_rate: float = 0.0
    #: Lines written minutes after their neighbours (out of time order in the file).
    late_rate: float = 0.0
    #: Lines whose NMEA checksum is wrong.
    bad_checksum_rate: float = 0.0
    #: Lines cut short.
    truncated_rate: float = 0.0


@dataclass(frozen=True)
class ReceptionParams:
    """Where and when the feed hears ships (by default: everywhere, at once, with a true clock)."""

    #: Coastal receivers hear ships within this distance of a port; farther out only satellite
    #: passes do. None: everywhere.
    coverage_km: float | None = None
    #: A satellite passes over every so many minutes (drawn in this range) ...
    pass_every_min: tuple[float, float] = (60.0, 150.0)
    #: ... for this long, and hears this share of the reports sent meanwhile.
    pass_min: tuple[float, float] = (8.0, 15.0)
    pass_share: float = 0.5
    #: Outages of a port's coastal receiver per port and day, each 1 to 6 hours long.
    outages_per_port_day: float = 0.0
    #: Times per day the receiver's logging clock steps back 2 minutes, for 20 to 60 minutes.
    clock_steps_per_day: float = 0.0
    #: Logging times lag each message by up to this.
    clock_jitter_s: float = 0.0


NOISY = NoiseParams(
    outlier_rate=0.002,
    not_available_rate=0.002,
    duplicate_rate=0.10,
    late_rate=0.01,
    bad_checksum_rate=0.003,
    truncated_rate=0.003,
)


@dataclass(frozen=True)
class SimulationParams:
    """Everything about a scenario except the ports, the period, the fleet size and the seed."""

    #: Class A report interval under way (ITU: 2-10 s, thinned).
    class_a_moving_s: float = 60.0
    #: Class A report interval at anchor or moored (ITU: 3 min).
    class_a_stationary_s: float = 180.0
    #: Class B report interval (ITU: 30 s under way, thinned).
    class_b_s: float = 120.0
    #: Static and voyage data interval (ITU: 6 min).
    static_s: float = 360.0
    #: Plans start this long before the period, so vessels are mid-voyage or in port at its start.
    warmup_h: float = 72.0
    cruise_kn: tuple[float, float] = (10.0, 14.0)
    #: Berth stays (hours) are drawn log-uniformly in this range.
    berth_h: tuple[float, float] = (6.0, 72.0)
    anchorage_h: tuple[float, float] = (2.0, 30.0)
    #: Chance that an arriving vessel waits at anchor first (when the port has an anchorage).
    anchorage_wait_p: float = 0.6
    share_transit: float = 0.08
    share_fishing: float = 0.12
    share_loiterer: float = 0.05
    #: Pairs that meet at sea for hours, one of the two dark.
    meeting_pairs: int = 2
    #: Chance per call that the vessel arrives dark (AIS back on inside the port).
    dark_arrival_p: float = 0.08
    #: Chance per call that the vessel leaves dark (AIS off in port, back on at sea).
    dark_departure_p: float = 0.08
    #: Chance per voyage longer than a day of a silence at sea.
    dark_at_sea_p: float = 0.15
    noise: NoiseParams = field(default_factory=NoiseParams)
    reception: ReceptionParams = field(default_factory=ReceptionParams)
    #: Pairs of cargo ships broadcasting one MMSI at once (each its own name, IMO, call sign).
    shared_mmsi_pairs: int = 0
    #: Displaced bursts per vessel and day: 3-40 consecutive reports thrown 30-300 km away (GPS
    #: fault or spoofing), then back.
    bursts_per_vessel_day: float = 0.0
    #: Cargo ships that change name and call sign half way through the period.
    renamed_vessels: int = 0
    #: Pairs of cargo ships broadcasting one IMO number under their two MMSIs.
    imo_reuse_pairs: int = 0
    #: Fishing boats whose transceiver still has a default MMSI (123456789, 111111111, ...).
    default_mmsi_vessels: int = 0
    #: Vessels of the harbour patterns (:mod:`monitor.simulate.harbour`), taken from the cargo
    #: fleet: fast ferries whose overnight docking is unheard, crew boats running to platforms,
    #: cargo ships reaching their berth unheard across the anchorage, with a GPS reporting
    #: noise as speed, and silent in port for days.
    ferries: int = 0
    crew_boats: int = 0
    unheard_berth: int = 0
    noisy_sog: int = 0
    silent_in_port: int = 0


PRESETS: dict[str, SimulationParams] = {
    "clean": SimulationParams(
        dark_arrival_p=0.0, dark_departure_p=0.0, dark_at_sea_p=0.0, meeting_pairs=0
    ),
    "default": SimulationParams(noise=NOISY),
    "noisy": SimulationParams(
        noise=replace(NOISY, outlier_rate=0.01, not_available_rate=0.005, late_rate=0.03)
    ),
    "dark": SimulationParams(
        dark_arrival_p=0.35, dark_departure_p=0.35, dark_at_sea_p=0.5, meeting_pairs=4, noise=NOISY
    ),
    "harbour": SimulationParams(
        dark_arrival_p=0.0,
        dark_departure_p=0.0,
        dark_at_sea_p=0.0,
        meeting_pairs=0,
        noise=NOISY,
        ferries=4,
        crew_boats=6,
        unheard_berth=8,
        noisy_sog=4,
        silent_in_port=8,
    ),
    "busy": SimulationParams(
        class_a_moving_s=30.0, share_transit=0.15, share_fishing=0.2, noise=NOISY
    ),
    "hard": SimulationParams(
        noise=NOISY,
        reception=ReceptionParams(
            coverage_km=40.0,
            outages_per_port_day=0.3,
            clock_steps_per_day=0.6,
            clock_jitter_s=60.0,
        ),
        shared_mmsi_pairs=2,
        bursts_per_vessel_day=0.08,
        renamed_vessels=1,
        imo_reuse_pairs=1,
        default_mmsi_vessels=1,
    ),
}
