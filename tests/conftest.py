"""Hypothesis profiles, and slow work in processes of its own started with the session."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from fresh_process import first_ingests
from hypothesis import settings

# The decoder's kernels are compiled on their first call: a per-example deadline would fail
# whichever example happens to run first.
# The default run draws the same examples every time, so that a result does not depend on the
# run; `pytest --hypothesis-profile explore` draws new ones to look for failures.
settings.register_profile("monitor", deadline=None, derandomize=True)
settings.register_profile("explore", deadline=None)
settings.load_profile("monitor")


#: The test of an install's first ingest, which compiles every decoder kernel in a fresh cache.
FIRST_INGEST_TEST = "test_compile.py::test_first_ingest_of_an_install_announces_the_compile_once"
#: Its two ingests, started when the session's tests are known, and their folder.
FIRST_INGESTS = pytest.StashKey[tuple[Future[list[subprocess.CompletedProcess[str]]], Path]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The compile takes about half a minute of one core, in processes of their own: started now,
    # it runs on a second core while the tests before it run here.
    if any(item.nodeid.endswith(FIRST_INGEST_TEST) for item in items):
        folder = Path(tempfile.mkdtemp(prefix="monitor-first-ingest-"))
        pool = ThreadPoolExecutor(max_workers=1)
        config.stash[FIRST_INGESTS] = (pool.submit(first_ingests, folder), folder)
        pool.shutdown(wait=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    started = session.config.stash.get(FIRST_INGESTS, None)
    if started is not None:
        started[0].exception()  # the ingests may outlive a run stopped early: wait for them
        shutil.rmtree(started[1], ignore_errors=True)


@pytest.fixture
def first_ingests_run(request: pytest.FixtureRequest) -> list[subprocess.CompletedProcess[str]]:
    """Return an install's first two ingests (see :func:`fresh_process.first_ingests`)."""
    return request.config.stash[FIRST_INGESTS][0].result()
