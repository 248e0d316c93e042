"""Compiling the ingest's kernels before the first ingest needs them, once per install.

numba compiles a kernel on its first call and caches the machine code on disk, so only the first
ingest after an install or upgrade pays for compiling. Here that cost is paid at once, for every
kernel an ingest uses whatever its input, by ingesting a few built-in NMEA lines (one message of
each family) into a throwaway store.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from monitor.config import Settings, StoreSettings
from monitor.core import jit
from monitor.errors import MonitorError
from monitor.pipeline.ingest import ingest_paths

log = logging.getLogger(__name__)

#: Wall time of compiling every kernel from scratch on two cores (``monitor compile`` prints the
#: time it took on the machine at hand).
COMPILE_S = 20

#: Position reports of class A (types 1, 3) and B (18), a two-part type 5 and a type 24 A/B pair,
#: timed by each kind of time source: tag blocks in front and alone, ``$PGHP``, ``$GPZDA`` and
#: ``$GPRMC`` clocks and a trailing epoch.
SAMPLE_NMEA = b"""\
\\s:rx1,c:1709510420*0A\\!AIVDM,1,1,,B,15@0Mf@0298q>R@EiDN7CUh`0000,0*6B
\\s:rx1,c:1709510464*0A\\!AIVDM,1,1,,B,B7WUvA@0;BFMFj5v<6lR3wR4P000,0*7E
\\s:rx1,c:1709510504*0D\\!AIVDM,1,1,,A,H7WUvAA`59T610TtpDE800000000,0*4B
\\s:rx1,c:1709510505*0C\\!AIVDM,1,1,,A,H7WUvADN0000000BDI200030=230,0*14
\\s:rx1,c:1709510529*02\\!AIVDM,2,1,0,A,55@J76P0IAdUTpa8000du9Tv0l58TpE800000016>`J::4klp@R0ABU@0000,0*6C
\\s:rx1,c:1709510529*02\\!AIVDM,2,2,0,A,00000000000,2*24
\\s:rx1,c:1709510609*03\\!AIVDM,1,1,,A,3451Tj001f9?6rRFAC<0s0jr0000,0*4F
$PGHP,1,2024,3,4,0,10,0,0,219,,2190067,1,62*14
!AIVDM,1,1,,B,1451Tj001f9?5LNF@w<hv0hn0000,0*19
\\c:1709511060*55\\
!AIVDM,1,1,,A,19tUok50019KmPPHba=02VU00000,0*57
$GPZDA,001200.00,04,03,2024,,*66
!AIVDM,1,1,,A,19<6gt001g9>0<tFrRFqUWk60000,0*10
$GPRMC,001300.00,A,3843.2,N,12521.0,E,0.0,0.0,040324,,,A*56
!AIVDM,1,1,,B,15@J76P01n9L94@HAi88T6oD0000,0*04
!AIVDM,1,1,,B,15@J76P01n9L94@HAi88T6oD0000,0*04,1709511240000
"""


def kernels_cached() -> bool:
    """Return whether compiled kernels are cached for the installed sources (else the next
    ingest compiles them first).

    One cached kernel is enough: :func:`compile_on_first_use` compiles them all at once, and an
    upgrade, which changes the sources, makes them all stale at once.
    """
    return any(jit.cached_on_disk(compiled) for compiled in jit.KERNELS)


def compile_kernels() -> float:
    """Return the seconds it took to compile (or load from the cache) every kernel of an ingest."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="monitor-compile-") as tmp:
        sample = Path(tmp) / "sample.nmea"
        sample.write_bytes(SAMPLE_NMEA)
        summary = ingest_paths([sample], Settings(store=StoreSettings(path=Path(tmp) / "store")))
    if summary.errors or summary.n_positions == 0 or summary.n_statics == 0:
        # The sample is fixed: this is a broken install, not bad input.
        raise MonitorError(
            f"the built-in sample did not ingest ({summary.to_dict()}); reinstall the monitor"
        )
    return time.perf_counter() - started


def compile_on_first_use(announce: Callable[[str], None]) -> None:
    """Compile every kernel now when none is cached yet, after passing ``announce`` a one-line
    notice of the wait; otherwise do nothing."""
    if kernels_cached():
        return
    announce(
        f"Compiling the decoder's kernels once, about {COMPILE_S} s on two cores; "
        "later runs load them from the cache."
    )
    seconds = compile_kernels()
    log.info("kernels compiled in %.1f s", seconds)
