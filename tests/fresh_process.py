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
