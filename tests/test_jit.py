"""The compiled-kernel helpers."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import numpy as np
import pytest

from monitor.core.jit import I64, kernel, prepare


@kernel
def _total(values: I64) -> int:
    total = 0
    for v in values:
        total += v
    return total


@pytest.fixture
def fresh_prepare() -> Iterator[None]:
    """Let ``prepare`` run again, and restore the collector's state afterwards."""
    enabled = gc.isenabled()
    prepare.cache_clear()
    yield
    prepare.cache_clear()
    (gc.enable if enabled else gc.disable)()


@pytest.mark.parametrize("enabled", [True, False])
def test_prepare_leaves_the_garbage_collector_as_it_found_it(
    fresh_prepare: None, enabled: bool
) -> None:
    (gc.enable if enabled else gc.disable)()
    prepare()
    assert gc.isenabled() is enabled
    assert gc.get_freeze_count() == 0  # nothing is left out of later collections


def test_kernels_run_after_prepare(fresh_prepare: None) -> None:
    prepare()
    prepare()
    assert _total(np.arange(10, dtype=np.int64)) == 45
