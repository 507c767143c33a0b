"""Read service settings from an optional TOML configuration file.

The keys are the environment variable names. Keys at the top level apply to
the service reading the file. Keys in the table named for that service
([inventory], [booking] or [rest_shim]) apply to it only and win over
top-level keys. Tables of the other services are skipped, so one file can
configure the whole stack. Environment variables win over the file.
"""

from __future__ import annotations

import datetime
import difflib
import os
import textwrap
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from common import settings
from common.settings import Setting, SettingsError

# The variable that names the file when a service is started without --config.
CONFIG_FILE_ENV = "CONFIG_FILE"

# Table name of each service, and the service's name in messages.
SERVICE_TABLES = {"inventory": "inventory service", "booking": "booking service", "rest_shim": "REST shim"}

OPTION_HELP = (
    f"read settings from this TOML file (default: the file named by {CONFIG_FILE_ENV}, if set); "
    "environment variables override its values"
)


class FileValue(NamedTuple):
    """A setting's text from the file, and its origin, such as "/etc/stack.toml [booking]"."""

    raw: str
    origin: str


def resolve_path(option: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the file named by --config, else by a non-empty CONFIG_FILE, else None."""
    if option is not None:
        return option
    source = os.environ if environ is None else environ
    return source.get(CONFIG_FILE_ENV) or None


def load(
    declared: Sequence[Setting],
    service: str,
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Parse every setting of service from environ (default: os.environ) and the configuration file.

    path defaults to the file named by CONFIG_FILE in environ. Without a
    file this is settings.load(declared, environ).
    """
    source = os.environ if environ is None else environ
    path = resolve_path(path, source)
    if path is None:
        return settings.load(declared, source)
    return settings.load(declared, source, read(path, service, declared))


def read(path: str, service: str, declared: Sequence[Setting]) -> dict[str, FileValue]:
    """Read the values that the file at path sets for service, keyed by variable name.

    Raises SettingsError naming the file for an unreadable file, invalid
    TOML, an unknown table, a key that is not one of declared, or a value
    that is not a string or an integer.
    """
    if service not in SERVICE_TABLES:
        raise ValueError(f"unknown service table {service!r}: expected one of {', '.join(SERVICE_TABLES)}")
    document = _parse(path)

    top_level: dict[str, Any] = {}
    for key, value in document.items():
        if not isinstance(value, dict):
            top_level[key] = value
        elif key not in SERVICE_TABLES:
            tables = ", ".join(f"[{name}]" for name in SERVICE_TABLES)
            raise SettingsError(f"{path}: unknown table [{key}]: expected one of {tables}")

    names = [setting.env for setting in declared]
    values: dict[str, FileValue] = {}
    # The service's table is read second, so its keys replace top-level ones.
    sections = [(f"{path}, top level", top_level), (f"{path} [{service}]", document.get(service, {}))]
    for origin, table in sections:
        for key, value in table.items():
            if key not in names:
                raise SettingsError(_unknown_key_message(key, origin, service, names, top_level=table is top_level))
            values[key] = FileValue(_value_text(key, value, origin), origin)
    return values


def describe(declared: Sequence[Setting], service: str) -> str:
    """Render the settings and the rules of the configuration file as an epilog for argparse --help."""
    others = " and ".join(f"[{name}]" for name in SERVICE_TABLES if name != service)
    paragraphs = [
        f"--config PATH, or the variable {CONFIG_FILE_ENV} when --config is absent, names a TOML file "
        "whose keys are the variable names above, with string or integer values. "
        f"Keys at the top level and in the [{service}] table must be settings of this service. "
        f"The tables {others} are skipped, so one file can configure the whole stack.",
        f"Each setting comes from the first of: its environment variable if not empty, the [{service}] table, "
        "the top level of the file, its default.",
    ]
    wrapped = [textwrap.fill(paragraph, width=78, initial_indent="  ", subsequent_indent="  ") for paragraph in paragraphs]
    return settings.describe(declared) + "\n\nconfiguration file:\n" + "\n\n".join(wrapped)


def _parse(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise SettingsError(f"cannot read configuration file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        # The message of tomllib ends with the line and column, e.g. "(at line 3, column 9)".
        raise SettingsError(f"{path}: invalid TOML: {exc}") from None


def _unknown_key_message(key: str, origin: str, service: str, names: list[str], *, top_level: bool) -> str:
    message = f"{origin}: unknown key {key!r}: not a setting of the {SERVICE_TABLES[service]}"
    owners = [table for table, settings_of_table in _settings_by_table().items() if key in settings_of_table]
    if owners:
        tables = " and ".join(f"[{table}]" for table in owners)
        return message + f"; it is a setting of {tables}, so put it in that table"
    matches = difflib.get_close_matches(key.upper(), names, n=1)
    if matches:
        message += f" (did you mean {matches[0]}?)"
    elif top_level:
        message += "; put a setting that only some services have in the table of each of them"
    return message


def _settings_by_table() -> dict[str, set[str]]:
    """Return the setting names of each service, keyed by its table name."""
    # Imported here because each service's config module imports this one.
    from booking_service.config import SETTINGS as BOOKING
    from inventory_service.config import SETTINGS as INVENTORY
    from rest_shim.config import SETTINGS as REST_SHIM

    declared = {"inventory": INVENTORY, "booking": BOOKING, "rest_shim": REST_SHIM}
    return {table: {setting.env for setting in declared[table]} for table in SERVICE_TABLES}


def _value_text(key: str, value: Any, origin: str) -> str:
    """Return the text that the setting's parser reads, as if from the environment variable."""
    if isinstance(value, str):
        return value
    # bool is a subclass of int, so TOML booleans must be excluded here.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise SettingsError(f"{key} (from {origin}) is invalid: expected a string or an integer, found {_toml_type(value)}")


def _toml_type(value: Any) -> str:
    """Name the TOML type of value. Arrays and tables are not shown, as they may contain a password."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, datetime.datetime):
        return f"date-time {value.isoformat()}"
    if isinstance(value, datetime.date):
        return f"date {value.isoformat()}"
    if isinstance(value, datetime.time):
        return f"time {value.isoformat()}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
