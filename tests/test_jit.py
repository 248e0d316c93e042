"""The compiled-kernel helpers."""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from monitor.core.jit import I64, cached_on_disk, kernel, prepare


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


def _import_fresh(package: str, module: str) -> ModuleType:
    """Return ``package.module`` imported again from its current source."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return importlib.import_module(f"{package}.{module}")


def test_cached_kernels_are_stale_once_a_module_they_import_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "stamped_kernels"
    package.mkdir()
    (package / "__init__.py").write_text("")
    helper = package / "helper.py"
    helper.write_text(
        "from monitor.core.jit import inline\n\nSTEP = 1\n\n\n@inline\n"
        "def step(x):\n    return x + STEP\n"
    )
    (package / "user.py").write_text(
        "from monitor.core.jit import kernel\nfrom stamped_kernels.helper import step\n\n\n"
        "@kernel\ndef run(x):\n    return step(x)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run = _import_fresh("stamped_kernels", "user").run
    assert run(1) == 2
    assert cached_on_disk(run)
    assert cached_on_disk(_import_fresh("stamped_kernels", "user").run)  # nothing changed
    # Only the helper's module changes (as in an upgrade): the user's cached code is stale.
    helper.write_text(helper.read_text().replace("STEP = 1", "STEP = 2"))
    run = _import_fresh("stamped_kernels", "user").run
    assert not cached_on_disk(run)
    assert run(1) == 3
    for name in [n for n in sys.modules if n.startswith("stamped_kernels")]:
        del sys.modules[name]
