"""Shared fixtures and small builders for positions, static reports and tracks."""

from __future__ import annotations

from hypothesis import settings

# The decoder's kernels are compiled on their first call: a per-example deadline would fail
# whichever example happens to run first.
settings.register_profile("monitor", deadline=None)
settings.load_profile("monitor")
