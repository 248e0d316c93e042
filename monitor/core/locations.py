"""Locations given by the user: a path on this machine, or the URL of an object store."""

from __future__ import annotations

import re

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def is_url(location: object) -> bool:
    """Return whether ``location`` is a URL (``s3://bucket/prefix``) rather than a path."""
    return isinstance(location, str) and bool(_URL.match(location))
