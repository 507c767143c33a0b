"""Addresses of the booking service, PostgreSQL and Redis, from options, env files and the environment.

An env file contains KEY=value lines, as the .run/stack.env that `make up`
writes. Its values take precedence over the process environment, and an
explicit command-line option over both.
"""

from __future__ import annotations

import os
from pathlib import Path

from common import settings


class CommandError(Exception):
    """A command failed; main() prints the message on one line to stderr and exits 1."""


class UsageError(CommandError):
    """An argument value breaks its rule, such as --quantity 11; main() exits 2, as for other command line errors."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=value lines; blank lines and lines starting with # are skipped."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise CommandError(f"cannot read env file {path}: {exc.strerror or exc}") from None
    values = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def environment(env_file: Path | None) -> dict[str, str]:
    """Return the process environment overlaid with the env file's values."""
    source = dict(os.environ)
    if env_file is not None:
        source.update(read_env_file(env_file))
    return source


def booking_target(option: str | None, env_file: Path | None) -> str:
    """Return the booking service's gRPC address: --booking-target, else BOOKING_GRPC."""
    if option:
        name, raw = "--booking-target", option
    else:
        name, raw = "BOOKING_GRPC", environment(env_file).get("BOOKING_GRPC", "")
    if not raw:
        raise CommandError(
            "booking service address not set: pass --booking-target HOST:PORT, "
            "export BOOKING_GRPC, or pass --env-file .run/stack.env"
        )
    try:
        return settings.host_port(name, raw)
    except settings.SettingsError as exc:
        raise CommandError(str(exc)) from None


def database_and_redis_urls(env_file: Path | None) -> tuple[str, str]:
    """Return DATABASE_URL and REDIS_URL from the env file or the environment."""
    source = environment(env_file)
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not source.get(name)]
    if missing:
        raise CommandError(f"{' and '.join(missing)} not set: export them or pass --env-file .run/stack.env")
    return source["DATABASE_URL"], source["REDIS_URL"]
