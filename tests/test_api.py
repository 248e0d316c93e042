"""The public Python API: every name imports, lazily, from the module that owns it."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from fresh_process import python_output

import monitor

PUBLIC = [
    "MonitorError",
    "detect_calls",
    "export_calls",
    "export_events",
    "ingest_paths",
    "load_calls",
    "load_config",
    "load_events",
    "run_demo",
    "segment",
    "simulate",
    "write_report",
]


def test_all_lists_the_public_names_and_where_each_lives() -> None:
    assert sorted(monitor.__all__) == PUBLIC
    assert set(monitor.API_MODULES) == set(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_each_public_name_imports_from_the_package(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from monitor import {name}", namespace)
    value = namespace[name]
    owner = importlib.import_module(monitor.API_MODULES[name])
    assert value is getattr(owner, name)
    assert callable(value) and value.__doc__


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from monitor import *", namespace)
    assert sorted(k for k in namespace if not k.startswith("__")) == PUBLIC


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'detect'"):
        monitor.detect  # noqa: B018


def test_importing_the_package_loads_nothing_heavy() -> None:
    out = python_output(
        "import json, sys, monitor\n"
        "from monitor import MonitorError\n"
        "print(json.dumps(sorted(m for m in ('numba', 'numpy', 'polars', 'pyarrow', 'pydantic',"
        " 'shapely', 'folium') if m in sys.modules)))"
    )
    assert json.loads(out) == []


def test_the_simulate_function_is_not_hidden_by_its_subpackage() -> None:
    # The subpackage monitor.simulate imported first, as any of its users does.
    out = python_output(
        "import monitor.simulate.truth\n"
        "from monitor.simulate import PRESETS\n"
        "from monitor import simulate\n"
        "import monitor\n"
        "print(type(simulate).__name__, simulate.__module__, monitor.simulate is simulate)"
    )
    assert out.split() == ["function", "monitor.simulate", "True"]


def test_the_package_ships_type_hints() -> None:
    assert (Path(monitor.__file__).parent / "py.typed").is_file()
