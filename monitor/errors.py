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


class UnknownIdError(ConfigError):
    """A port id, MMSI or vessel name given on the command line is not in the data.

    ``suggestions`` holds the closest ids that are (possibly none).
    """

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.suggestions = suggestions or []
