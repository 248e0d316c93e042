"""One exception hierarchy: every error the monitor raises on purpose derives from MonitorError."""

from __future__ import annotations


class MonitorError(Exception):
    """Base class. Messages name the file, line or config key and say what to do."""


class ConfigError(MonitorError):
    """A config file, geofence file or command-line value is invalid."""


class SourceError(MonitorError):
    """An input cannot be read at all (missing file, no time source, unknown format)."""


class StoreError(MonitorError):
    """The Parquet store is missing, unreadable or from an incompatible version."""


class ReportError(MonitorError):
    """A report cannot be written."""
