"""Real ``monitor`` processes for the tests: run, start, pause at a chosen write, kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Runs the command line; with MONITOR_TEST_PAUSE_AT=<module>:<function>:<file name> and
#: MONITOR_TEST_PAUSE_DIR=<dir>, it stops just before that function is called with a path of
#: that name (a name ending in "*": that start) for the first time (``...:<name>:<n>``: the n-th
#: time): it creates ``<dir>/paused`` and waits until ``<dir>/go`` exists. Nothing is changed
#: but the timing.
_RUNNER = """
import importlib, os, sys, time
from pathlib import Path
spec = os.environ.get("MONITOR_TEST_PAUSE_AT")
if spec:
    module_name, function_name, file_name, nth = (spec + ":1").split(":")[:4]
    folder = Path(os.environ["MONITOR_TEST_PAUSE_DIR"])
    module = importlib.import_module(module_name)
    real = getattr(module, function_name)
    seen = [0]
    def wanted(arg):
        name = Path(arg).name if isinstance(arg, (str, Path)) else None
        if name is None or (folder / "paused").exists():
            return False
        return name.startswith(file_name[:-1]) if file_name.endswith("*") else name == file_name
    def paused(*args, **kwargs):
        if any(wanted(a) for a in args):
            seen[0] += 1
            if seen[0] == int(nth):
                (folder / "paused").touch()
                while not (folder / "go").exists():
                    time.sleep(0.01)
        return real(*args, **kwargs)
    setattr(module, function_name, paused)
from monitor.cli import main
sys.argv[0] = "monitor"
main()
"""


def pause_at(target: str, folder: Path) -> dict[str, str]:
    """Return the environment that pauses a monitor process at ``target`` (see _RUNNER)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"MONITOR_TEST_PAUSE_AT": target, "MONITOR_TEST_PAUSE_DIR": str(folder)}


def command(*args: str) -> list[str]:
    """Return the command line that runs ``monitor ARGS`` from this checkout."""
    return [sys.executable, "-c", _RUNNER, *args]


def environment(**extra: str) -> dict[str, str]:
    """Return the environment of a monitor process run from this checkout."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **extra}


def run(*args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``monitor ARGS`` to its end; return what it printed."""
    done = subprocess.run(
        command(*args), env=environment(**extra), capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise AssertionError(f"monitor {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done


def start(*args: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    """Start ``monitor ARGS``; its standard output and error go to ``log``."""
    with log.open("wb") as handle:
        return subprocess.Popen(
            command(*args), env=environment(**extra), stdout=handle, stderr=subprocess.STDOUT
        )


def wait_for(ready: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Wait until ``ready()`` is true."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a monitor process")
        time.sleep(0.01)


def kill(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` at once, as ``kill -9`` would."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
