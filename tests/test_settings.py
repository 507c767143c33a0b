"""Validation of environment settings, without starting anything."""

from __future__ import annotations

import subprocess
import sys

import pytest

from booking_service.config import SETTINGS as BOOKING_SETTINGS
from booking_service.config import BookingConfig
from common import settings
from inventory_service.config import SETTINGS as INVENTORY_SETTINGS

VALID_BOOKING_ENV = {
    "DATABASE_URL": "postgresql://booking:secret@127.0.0.1:5432/booking",
    "INVENTORY_TARGET": "127.0.0.1:50051",
}


def test_required_url_missing_named() -> None:
    with pytest.raises(settings.SettingsError, match="REDIS_URL"):
        settings.load(INVENTORY_SETTINGS, {})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BOOKING_PORT": "http"}, "BOOKING_PORT='http' is invalid: expected a whole number from 0 to 65535"),
        ({"BOOKING_PORT": "70000"}, "BOOKING_PORT='70000' is out of range"),
        ({"INVENTORY_TARGET": "nohost"}, "INVENTORY_TARGET='nohost' is invalid: expected HOST:PORT"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is invalid: expected one of debug, info, warning, error"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL='mysql://x@y/z' is invalid"),
    ],
)
def test_invalid_value_named_with_expectation(env: dict[str, str], message: str) -> None:
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(BOOKING_SETTINGS, {**VALID_BOOKING_ENV, **env})
    assert str(caught.value).startswith(message)


def test_invalid_url_hides_password() -> None:
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(BOOKING_SETTINGS, {**VALID_BOOKING_ENV, "DATABASE_URL": "mysql://user:hunter2@db/x"})
    assert "hunter2" not in str(caught.value)
    assert "***" in str(caught.value)


def test_redact_url_hides_password() -> None:
    assert settings.redact_url("postgresql://booking:s3cret@db:5432/booking") == "postgresql://booking:***@db:5432/booking"
    assert settings.redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_hold_must_outlast_statement_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**VALID_BOOKING_ENV, "INVENTORY_HOLD_MS": "5000", "PG_STATEMENT_TIMEOUT_MS": "5000"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(settings.SettingsError, match="INVENTORY_HOLD_MS=5000 is too short"):
        BookingConfig.from_env()


@pytest.mark.parametrize("module", ["inventory_service", "booking_service", "rest_shim"])
def test_help_lists_settings(module: str) -> None:
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "environment variables:" in result.stdout
    assert "LOG_LEVEL" in result.stdout


@pytest.mark.parametrize("module", ["inventory_service", "booking_service", "rest_shim"])
def test_bad_config_exits_with_message(module: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "LOG_LEVEL": "loud", "REDIS_URL": "redis://127.0.0.1:1/0",
           "DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "INVENTORY_TARGET": "127.0.0.1:1", "BOOKING_TARGET": "127.0.0.1:1"}
    result = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "LOG_LEVEL='loud' is invalid" in result.stderr


@pytest.mark.parametrize(("module", "table"), [("inventory_service", "inventory"), ("booking_service", "booking"), ("rest_shim", "rest_shim")])
def test_help_explains_config_file(module: str, table: str) -> None:
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60)
    help_text = " ".join(result.stdout.split())

    assert result.returncode == 0
    assert "--config PATH read settings from this TOML file (default: the file named by CONFIG_FILE, if set)" in help_text
    assert "environment variables override its values" in help_text
    assert "configuration file:" in help_text
    assert (
        f"Each setting comes from the first of: its environment variable if not empty, the [{table}] table, "
        "the top level of the file, its default."
    ) in help_text


def test_file_values_name_their_origin() -> None:
    file_values = {"BOOKING_PORT": ("http", "/etc/booking.toml [booking]")}

    with pytest.raises(settings.SettingsError) as caught:
        settings.load(BOOKING_SETTINGS, VALID_BOOKING_ENV, file_values)

    assert str(caught.value).startswith("BOOKING_PORT (from /etc/booking.toml [booking])='http' is invalid")


def test_environment_wins_over_file_values() -> None:
    file_values = {"BOOKING_PORT": ("50060", "/etc/booking.toml [booking]")}

    values = settings.load(BOOKING_SETTINGS, {**VALID_BOOKING_ENV, "BOOKING_PORT": "50061"}, file_values)

    assert values["BOOKING_PORT"] == 50061


def test_unreachable_database_exits_1() -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://booking:s3cret@127.0.0.1:1/booking",
           "INVENTORY_TARGET": "127.0.0.1:1", "BOOKING_PORT": "0"}
    result = subprocess.run([sys.executable, "-m", "booking_service"], capture_output=True, text=True, timeout=60, env=env)

    assert result.returncode == 1
    assert "booking service failed to start: OperationalError" in result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr
