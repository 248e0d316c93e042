"""Running Python in a process of its own, on this checkout's ``monitor`` package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import monitor

ROOT = Path(monitor.__file__).parent.parent


def run_python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Return the finished ``python ARGS`` run in the checkout's root, its output captured."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )  # fmt: skip


def python_output(code: str) -> str:
    """Return what ``code`` prints, run in a process of its own; fail the test if it fails."""
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout


def first_ingests(folder: Path) -> list[subprocess.CompletedProcess[str]]:
    """Return two ingests of the built-in sample, one after the other, in processes of their own
    that share a numba cache in ``folder`` that is empty at first: an install's first ingest and
    its second."""
    from monitor.pipeline.warmup import SAMPLE_NMEA

    sample = folder / "sample.nmea"
    sample.write_bytes(SAMPLE_NMEA)
    return [
        run_python(
            *("-m", "monitor", "ingest", str(sample), "--store", str(folder / name)),
            env={"NUMBA_CACHE_DIR": str(folder / "numba-cache")},
        )
        for name in ("a", "b")
    ]
