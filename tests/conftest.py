"""Shared fixtures and small builders for positions, static reports and tracks."""

from __future__ import annotations
