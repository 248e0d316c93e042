"""Commands of this group."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
