"""monitor: an AIS port-activity monitor.

Reads raw AIS (NMEA) and CSV position files into a Parquet store, finds port calls in configured
geofences, flags dark periods and writes HTML map reports.

The public API is the names in ``__all__``, imported from the module that owns each on first use,
so that ``import monitor`` stays cheap and has no side effects.
"""

from __future__ import annotations

import importlib
import logging
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.analyse.tracks import segment as segment
    from monitor.config import load_config as load_config
    from monitor.errors import MonitorError as MonitorError
    from monitor.pipeline.demo import run_demo as run_demo
    from monitor.pipeline.detect import detect_calls as detect_calls
    from monitor.pipeline.ingest import ingest_paths as ingest_paths
    from monitor.report.build import write_report as write_report
    from monitor.report.exports import export_calls as export_calls
    from monitor.report.exports import export_events as export_events
    from monitor.simulate import simulate as simulate
    from monitor.store.calls import load_calls as load_calls
    from monitor.store.events import load_events as load_events

__version__ = "0.1.0"

__all__ = [
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

#: The module that owns each public name.
API_MODULES: dict[str, str] = {
    "MonitorError": "monitor.errors",
    "load_config": "monitor.config",
    "ingest_paths": "monitor.pipeline.ingest",
    "detect_calls": "monitor.pipeline.detect",
    "load_calls": "monitor.store.calls",
    "load_events": "monitor.store.events",
    "segment": "monitor.analyse.tracks",
    "export_calls": "monitor.report.exports",
    "export_events": "monitor.report.exports",
    "write_report": "monitor.report.build",
    "simulate": "monitor.simulate",
    "run_demo": "monitor.pipeline.demo",
}

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    module = API_MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """This package's module: a subpackage does not hide the public name it shares.

    Importing ``monitor.simulate`` would otherwise bind the subpackage to ``monitor.simulate``,
    and ``from monitor import simulate`` would give the subpackage instead of the function.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in API_MODULES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
