"""Read and validate settings from environment variables.

Each service declares its settings as a list of ``Setting`` objects. They are
read once at start; a wrong value raises ``SettingsError`` naming the variable,
the value and what is expected, and ``describe`` renders them for ``--help``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class SettingsError(ValueError):
    """A setting is missing or has an invalid value."""


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, default, unit and parser."""

    env: str
    default: str
    help: str
    parse: Callable[[str, str], Any]
    unit: str = ""


def integer(minimum: int, maximum: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw, 10)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is invalid: expected a whole number from {minimum} to {maximum}") from None
        if not minimum <= value <= maximum:
            raise SettingsError(f"{name}={raw!r} is out of range: expected a whole number from {minimum} to {maximum}")
        return value

    return parse


def choice(*options: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise SettingsError(f"{name}={raw!r} is invalid: expected one of {', '.join(options)}")
        return value

    return parse


def text(name: str, raw: str) -> str:
    if not raw.strip():
        raise SettingsError(f"{name} is empty: expected a non-empty value")
    return raw.strip()


def url(*schemes: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in schemes or not (parts.hostname or parts.path):
            shown = redact_url(raw)
            raise SettingsError(f"{name}={shown!r} is invalid: expected a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return raw.strip()

    return parse


def host_port(name: str, raw: str) -> str:
    """Parse a gRPC target such as 127.0.0.1:50051 or dns:///inventory:50051."""
    value = raw.strip()
    if "://" in value:
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{name}={raw!r} is invalid: expected HOST:PORT with a port from 1 to 65535")
    return value


def redact_url(raw: str) -> str:
    """Return the URL with any password replaced by '***', for logs and errors."""
    try:
        parts = urlsplit(raw)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return raw
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{netloc}", parts.path, parts.query, parts.fragment))


def load(
    settings: Sequence[Setting],
    environ: Mapping[str, str] | None = None,
    file_values: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Parse every setting, keyed by variable name.

    Each value comes from the first of: a non-empty variable in environ
    (default: os.environ), file_values, the default. file_values maps a
    variable name to (text, origin) as read from a configuration file
    (common.config_file). When file_values is given, an error names where
    the value came from, e.g. "DATABASE_URL (from /etc/booking.toml [booking])".
    """
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in settings:
        name = setting.env
        raw = source.get(setting.env)
        if raw is None or raw == "":
            if file_values is not None and setting.env in file_values:
                raw, origin = file_values[setting.env]
                name = f"{setting.env} (from {origin})"
            else:
                raw = setting.default
        elif file_values is not None:
            name = f"{setting.env} (from the environment)"
        values[setting.env] = setting.parse(name, raw)
    return values


def describe(settings: Sequence[Setting]) -> str:
    """Render the settings as an epilog for argparse --help."""
    lines = ["environment variables:"]
    for setting in settings:
        unit = f" [{setting.unit}]" if setting.unit else ""
        lines.append(f"  {setting.env}{unit}")
        lines.append(f"      {setting.help} (default: {setting.default or 'unset'})")
    return "\n".join(lines)


LOGGING_SETTINGS = [
    Setting("LOG_LEVEL", "INFO", "log level: DEBUG, INFO, WARNING or ERROR", choice("debug", "info", "warning", "error")),
    Setting("LOG_FORMAT", "text", "log line format: text or json", choice("text", "json")),
]
