"""Secrets of the alert sinks (SMTP passwords, webhook URLs with tokens): where they come from.

A secret is read from an environment variable (``*_env``), a file (``*_file``, first line), or
the config itself (``password``, ``url``: discouraged). Values are never put in messages: an
error names the key and the variable or file, not what it holds.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pydantic import SecretStr

from monitor.config import AlertSink, Settings
from monitor.errors import ConfigError


def _value(
    sink: AlertSink, inline: SecretStr | None, env: str | None, file: Path | None, key: str
) -> str | None:
    where = f"alerts.sinks {sink.key!r}"
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise ConfigError(
                f"{where}: {key}_env names the environment variable {env}, which is not set; "
                f"set it in the service's environment (e.g. its systemd unit's EnvironmentFile)"
            )
        return value
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"{where}: {key}_file {file}: cannot read it ({exc.strerror}); check the path "
                "and that the service's user may read it"
            ) from exc
        value = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not value:
            raise ConfigError(f"{where}: {key}_file {file} is empty; write the {key} in it")
        return value
    return inline.get_secret_value() if inline is not None else None


def webhook_url(sink: AlertSink) -> str:
    """Return the URL of a webhook sink."""
    url = _value(sink, sink.url, sink.url_env, sink.url_file, "url")
    if not url or not url.startswith(("http://", "https://")):
        # The value may hold a token: say what is wrong, not what it is.
        raise ConfigError(
            f"alerts.sinks {sink.key!r}: the webhook URL must start with http:// or https://"
        )
    return url


def smtp_password(sink: AlertSink) -> str | None:
    """Return the SMTP password of a sink, None to send without logging in."""
    return _value(sink, sink.password, sink.password_env, sink.password_file, "password")


def secret_values(settings: Settings) -> list[str]:
    """Return every secret the alert sinks use (to mask them in logs, status and the run log)."""
    values: list[str] = []
    for sink in settings.alerts.sinks:
        if sink.type == "webhook":
            values.append(webhook_url(sink))
        elif sink.type == "smtp":
            password = smtp_password(sink)
            if password:
                values.append(password)
    return values


def inline_secret_warnings(settings: Settings) -> list[str]:
    """Return a warning per secret written in a config file that others may read."""
    path = settings.source_path
    if path is None:
        return []
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return []
    readers = "everyone" if mode & stat.S_IROTH else "its group"
    warnings = []
    for sink in settings.alerts.sinks:
        for key in ("password", "url"):
            if getattr(sink, key, None) is not None:
                warnings.append(
                    f"alerts.sinks {sink.key!r}: {key} is written in {path}, which {readers} "
                    f"can read; move it to {key}_env or {key}_file (mode 600), or chmod 600 "
                    "the config"
                )
    return warnings
