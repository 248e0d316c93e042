"""Shared fixtures and small builders for positions, static reports and tracks."""

from __future__ import annotations

from hypothesis import settings

# The decoder's kernels are compiled on their first call: a per-example deadline would fail
# whichever example happens to run first.
# The default run draws the same examples every time, so that a result does not depend on the
# run; `pytest --hypothesis-profile explore` draws new ones to look for failures.
settings.register_profile("monitor", deadline=None, derandomize=True)
settings.register_profile("explore", deadline=None)
settings.load_profile("monitor")
