"""The optional TOML configuration file: the loader on temporary files, then
the services started with --config as real processes.

The process tests start their own inventory service and REST shim in front
of the session stack's Redis and booking service, and stop them by their
process id.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from booking_service.config import SETTINGS as BOOKING_SETTINGS
from clients import InventoryClient
from common import config_file, settings
from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess
from devstack.stack import REPO_ROOT, Stack
from inventory_service.config import SETTINGS as INVENTORY_SETTINGS
from inventory_service.config import InventoryConfig
from rest_shim.config import SETTINGS as SHIM_SETTINGS

REDIS_URL = "redis://127.0.0.1:6390/0"
ADMIN_TOKEN = "config-file-admin-token-5b1d0e"
SERVICE_MODULES = ["inventory_service", "booking_service", "rest_shim"]
# Every variable that a service reads, so the process tests start from an environment without any of them.
SERVICE_VARIABLES = {
    setting.env for setting in [*INVENTORY_SETTINGS, *BOOKING_SETTINGS, *SHIM_SETTINGS]
} | {config_file.CONFIG_FILE_ENV}


def write(directory: Path, text: str, name: str = "stack.toml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def load_inventory(path: Path | str | None, environ: dict[str, str] | None = None) -> dict:
    """Load the inventory settings from path, with REDIS_URL as the only variable unless environ is given."""
    environ = {"REDIS_URL": REDIS_URL} if environ is None else environ
    return config_file.load(INVENTORY_SETTINGS, "inventory", None if path is None else str(path), environ)


def load_error(load: Callable[..., object], *args: object) -> str:
    """Call load(*args) and return the message of the SettingsError it raises."""
    with pytest.raises(settings.SettingsError) as caught:
        load(*args)
    return str(caught.value)


# -- the loader ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top_level", "table", "environ", "expected"),
    [
        (None, None, None, "info"),
        ("warning", None, None, "warning"),
        (None, "error", None, "error"),
        ("warning", "error", None, "error"),
        ("warning", "error", "debug", "debug"),
        ("warning", "error", "", "error"),
    ],
    ids=["default", "top level", "table", "table over top level", "environment over file", "empty variable unset"],
)
def test_precedence_of_sources(
    tmp_path: Path, top_level: str | None, table: str | None, environ: str | None, expected: str
) -> None:
    lines = [f'LOG_LEVEL = "{top_level}"'] if top_level else []
    lines.append("[inventory]")
    if table:
        lines.append(f'LOG_LEVEL = "{table}"')
    path = write(tmp_path, "\n".join(lines) + "\n")
    env = {"REDIS_URL": REDIS_URL}
    if environ is not None:
        env["LOG_LEVEL"] = environ

    values = load_inventory(path, env)

    assert values["LOG_LEVEL"] == expected


def test_table_value_used_by_its_service_only(tmp_path: Path) -> None:
    path = write(tmp_path, """
LOG_FORMAT = "json"

[inventory]
LOG_FORMAT = "text"
REDIS_URL = "redis://127.0.0.1:6390/0"

[booking]
DATABASE_URL = "postgresql://booking@127.0.0.1:5433/booking"
INVENTORY_TARGET = "127.0.0.1:50051"

[rest_shim]
BOOKING_TARGET = "127.0.0.1:50052"
""")

    inventory = load_inventory(path, {})
    booking = config_file.load(BOOKING_SETTINGS, "booking", str(path), {})
    shim = config_file.load(SHIM_SETTINGS, "rest_shim", str(path), {})

    assert inventory["LOG_FORMAT"] == "text"
    assert booking["LOG_FORMAT"] == "json"
    assert shim["LOG_FORMAT"] == "json"
    assert inventory["REDIS_URL"] == REDIS_URL
    assert booking["DATABASE_URL"] == "postgresql://booking@127.0.0.1:5433/booking"
    assert shim["BOOKING_TARGET"] == "127.0.0.1:50052"


def test_other_service_table_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, """
[booking]
NOT_A_SETTING = true
BOOKING_PORT = "http"
""")

    values = load_inventory(path)

    assert values["INVENTORY_PORT"] == 50051


def test_integer_value_parsed_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "[inventory]\nINVENTORY_PORT = 50999\nINVENTORY_HOLD_MS = 45_000\n")

    values = load_inventory(path)

    assert values["INVENTORY_PORT"] == 50999
    assert values["INVENTORY_HOLD_MS"] == 45000


def test_integer_out_of_range_names_origin(tmp_path: Path) -> None:
    path = write(tmp_path, "[inventory]\nINVENTORY_PORT = 70000\n")

    message = load_error(load_inventory, path)

    assert message.startswith(f"INVENTORY_PORT (from {path} [inventory])='70000' is out of range")
    assert "expected a whole number from 0 to 65535" in message


def test_top_level_value_names_top_level(tmp_path: Path) -> None:
    path = write(tmp_path, 'LOG_LEVEL = "loud"\n')

    message = load_error(load_inventory, path)

    assert message.startswith(f"LOG_LEVEL (from {path}, top level)='loud' is invalid: expected one of")


def test_environment_value_names_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[inventory]\nINVENTORY_PORT = 50999\n")

    message = load_error(load_inventory, path, {"REDIS_URL": REDIS_URL, "INVENTORY_PORT": "http"})

    assert message.startswith("INVENTORY_PORT (from the environment)='http' is invalid")


@pytest.mark.parametrize(
    ("section", "key", "hint"),
    [
        ("[inventory]", "REDIS_ULR", "did you mean REDIS_URL?"),
        ("[inventory]", "log_level", "did you mean LOG_LEVEL?"),
        ("[inventory]", "CONFIG_FILE", "not a setting of the inventory service"),
        ("", "DATABASE_URL", "it is a setting of [booking], so put it in that table"),
        ("", "INVENTORY_TARGET", "it is a setting of [booking], so put it in that table"),
        ("", "SOLD_OUT_MEMORY_MS", "it is a setting of [booking] and [rest_shim], so put it in that table"),
        ("[inventory]", "BOOKING_TARGET", "it is a setting of [rest_shim], so put it in that table"),
        ("", "NOT_A_SETTING", "put a setting that only some services have in the table of each of them"),
    ],
    ids=[
        "typo in table", "lower case", "CONFIG_FILE", "other service's key at top level",
        "near another key's name", "two services' key", "other service's key in table", "no service's key",
    ],
)
def test_unknown_key_named(tmp_path: Path, section: str, key: str, hint: str) -> None:
    path = write(tmp_path, f'{section}\n{key} = "x"\n')
    where = f"{path} {section}" if section else f"{path}, top level"

    message = load_error(load_inventory, path)

    assert message.startswith(f"{where}: unknown key '{key}': not a setting of the inventory service")
    assert hint in message


def test_unknown_table_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[invetnory]\nINVENTORY_PORT = 1\n")

    message = load_error(load_inventory, path)

    assert message == f"{path}: unknown table [invetnory]: expected one of [inventory], [booking], [rest_shim]"


@pytest.mark.parametrize(
    ("toml_value", "found"),
    [
        ("true", "boolean true"),
        ("1.5", "float 1.5"),
        ("[1, 2]", "an array"),
        ("2024-05-01", "date 2024-05-01"),
        ("2024-05-01T10:00:00", "date-time 2024-05-01T10:00:00"),
        ("{ port = 1 }", "a table"),
    ],
    ids=["boolean", "float", "array", "date", "date-time", "inline table"],
)
def test_wrong_value_type_named(tmp_path: Path, toml_value: str, found: str) -> None:
    path = write(tmp_path, f"[inventory]\nINVENTORY_PORT = {toml_value}\n")

    message = load_error(load_inventory, path)

    assert message == (
        f"INVENTORY_PORT (from {path} [inventory]) is invalid: expected a string or an integer, found {found}"
    )


def test_array_value_not_shown(tmp_path: Path) -> None:
    path = write(tmp_path, '[inventory]\nREDIS_URL = ["redis://:hunter2@127.0.0.1:6390/0"]\n')

    message = load_error(load_inventory, path, {})

    assert "REDIS_URL" in message
    assert "hunter2" not in message


def test_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[inventory]\nINVENTORY_PORT = 1\nLOG_LEVEL "info"\n')

    message = load_error(load_inventory, path)

    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in message


def test_non_utf8_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[inventory]\nINVENTORY_HOST = "caf\u00e9"\n'.encode("latin-1"))

    message = load_error(load_inventory, path)

    assert message.startswith(f"{path}: invalid TOML: not UTF-8 text")


def test_missing_file_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    message = load_error(load_inventory, path)

    assert message == f"cannot read configuration file {path}: No such file or directory"


def test_directory_rejected(tmp_path: Path) -> None:
    message = load_error(load_inventory, tmp_path)

    assert message == f"cannot read configuration file {tmp_path}: Is a directory"


def test_password_redacted_from_file_value(tmp_path: Path) -> None:
    path = write(tmp_path, '[booking]\nDATABASE_URL = "mysql://booking:hunter2@127.0.0.1/booking"\n')

    message = load_error(config_file.load, BOOKING_SETTINGS, "booking", str(path), {"INVENTORY_TARGET": "127.0.0.1:1"})

    assert message.startswith(f"DATABASE_URL (from {path} [booking])='mysql://booking:***@127.0.0.1/booking' is invalid")
    assert "hunter2" not in message


def test_admin_token_from_file_not_shown(tmp_path: Path) -> None:
    path = write(tmp_path, '[rest_shim]\nREST_ADMIN_TOKEN = "Zq7-secret"\n')

    message = load_error(config_file.load, SHIM_SETTINGS, "rest_shim", str(path), {"BOOKING_TARGET": "127.0.0.1:1"})

    assert message.startswith(f"REST_ADMIN_TOKEN (from {path} [rest_shim]) is too short")
    assert "Zq7-secret" not in message


def test_config_file_variable_selects_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[inventory]\nINVENTORY_PORT = 50999\n")

    values = load_inventory(None, {"REDIS_URL": REDIS_URL, "CONFIG_FILE": str(path)})

    assert values["INVENTORY_PORT"] == 50999


def test_path_argument_wins_over_variable(tmp_path: Path) -> None:
    chosen = write(tmp_path, "[inventory]\nINVENTORY_PORT = 50999\n", "chosen.toml")

    values = load_inventory(chosen, {"REDIS_URL": REDIS_URL, "CONFIG_FILE": str(tmp_path / "absent.toml")})

    assert values["INVENTORY_PORT"] == 50999


def test_resolve_path_order() -> None:
    assert config_file.resolve_path("a.toml", {"CONFIG_FILE": "b.toml"}) == "a.toml"
    assert config_file.resolve_path(None, {"CONFIG_FILE": "b.toml"}) == "b.toml"
    assert config_file.resolve_path(None, {"CONFIG_FILE": ""}) is None
    assert config_file.resolve_path(None, {}) is None


def test_from_env_reads_config_file_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[inventory]\nINVENTORY_PORT = 50999\n")
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.delenv("INVENTORY_PORT", raising=False)
    monkeypatch.setenv("CONFIG_FILE", str(path))

    config = InventoryConfig.from_env()

    assert config.port == 50999


def test_from_env_without_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("INVENTORY_PORT", "50998")
    monkeypatch.delenv("CONFIG_FILE", raising=False)

    config = InventoryConfig.from_env()

    assert config.port == 50998
    assert config.redis_url == REDIS_URL


# -- real processes --------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any service setting, plus extra."""
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    env.update({"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


@pytest.fixture
def processes() -> Iterator[list[ManagedProcess]]:
    """Processes that a test started; each is stopped by its process id afterwards."""
    started: list[ManagedProcess] = []
    yield started
    for process in started:
        process.stop()


def start(processes: list[ManagedProcess], name: str, argv: list[str], log_path: Path, env: dict[str, str],
          cwd: Path = REPO_ROOT) -> ManagedProcess:
    process = ManagedProcess(name, [sys.executable, *argv], log_path=log_path, env=env, cwd=cwd)
    process.start()
    processes.append(process)
    return process


def wait_or_show_log(process: ManagedProcess, port: int) -> None:
    try:
        wait_for_port("127.0.0.1", port, 30, alive=process.alive)
    except (RuntimeError, TimeoutError) as exc:
        pytest.fail(f"{process.name}: {exc}\n{process.log_path.read_text(errors='replace')}")


async def test_inventory_uses_ports_from_file(stack: Stack, tmp_path: Path, processes: list[ManagedProcess]) -> None:
    port, metrics_port = free_port(), free_port()
    path = write(tmp_path, f"""
LOG_LEVEL = "info"

[inventory]
INVENTORY_HOST = "127.0.0.1"
INVENTORY_PORT = {port}
INVENTORY_METRICS_PORT = {metrics_port}
REDIS_URL = "{stack.cache_url}"

[booking]
DATABASE_URL = "postgresql://unused@127.0.0.1:1/unused"
""")
    log_path = tmp_path / "inventory.log"
    process = start(processes, "inventory from file", ["-m", "inventory_service", "--config", str(path)], log_path, clean_env())

    wait_or_show_log(process, port)
    event_id = random.randrange(2**40, 2**50)
    async with InventoryClient(f"127.0.0.1:{port}") as client:
        await client.init_stock(event_id, total=7, available=7)
        stock = await client.get_stock(event_id)
    metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)

    assert stock.available == 7
    assert metrics.status_code == 200
    process.stop()
    log = log_path.read_text(errors="replace")
    assert f"read settings from configuration file {path}" in log
    assert f"listening on 127.0.0.1:{port}" in log


@pytest.mark.parametrize(
    ("workers", "config_variable"),
    [(1, None), (2, "absent.toml")],
    ids=["one process", "two workers, CONFIG_FILE names another file"],
)
def test_shim_app_uses_settings_from_file(
    stack: Stack, tmp_path: Path, processes: list[ManagedProcess], workers: int, config_variable: str | None
) -> None:
    port = free_port()
    # BOOKING_TARGET, the admin token and the header limit are read by the
    # app factory and the HTTP protocol, in each worker process.
    write(tmp_path, f"""
LOG_LEVEL = "info"

[rest_shim]
REST_HOST = "127.0.0.1"
REST_PORT = {port}
REST_WORKERS = {workers}
BOOKING_TARGET = "{stack.booking_target}"
REST_ADMIN_TOKEN = "{ADMIN_TOKEN}"
REST_MAX_HEADER_BYTES = 2048

[inventory]
REDIS_URL = "redis://127.0.0.1:1/0"
""")
    env = clean_env() if config_variable is None else clean_env(CONFIG_FILE=str(tmp_path / config_variable))
    log_path = tmp_path / "rest.log"
    # A path relative to the shim's working folder, which the worker processes must also find.
    process = start(processes, "shim from file", ["-m", "rest_shim", "--config", "stack.toml"], log_path, env, cwd=tmp_path)
    wait_or_show_log(process, port)
    event = {"name": f"config file shim {workers}", "total_tickets": 5}

    url = f"http://127.0.0.1:{port}"
    # One connection per request, so that with two workers both are likely to handle some.
    unauthorised = [httpx.post(f"{url}/api/v1/events", json=event, timeout=10).status_code for _ in range(6)]
    created = httpx.post(f"{url}/api/v1/events", json=event, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    oversized = [
        httpx.get(f"{url}/api/v1/events/1", headers={"x-padding": "p" * 3000}, timeout=10).status_code for _ in range(4)
    ]

    assert unauthorised == [401] * 6
    assert created.status_code == 201, created.text
    assert oversized == [431] * 4
    process.stop()
    log = log_path.read_text(errors="replace")
    assert "read settings from configuration file stack.toml" in log
    assert ADMIN_TOKEN not in log


@pytest.mark.parametrize("module", SERVICE_MODULES)
def test_bad_file_exits_with_message(tmp_path: Path, module: str) -> None:
    path = write(tmp_path, 'LOG_LEVEL = "info"\nLOG_LEVL = "debug"\n')

    result = subprocess.run([sys.executable, "-m", module, "--config", str(path)], capture_output=True, text=True,
                            timeout=60, env=clean_env(), cwd=REPO_ROOT)

    assert result.returncode == 2
    assert "invalid configuration:" in result.stderr
    assert f"{path}, top level: unknown key 'LOG_LEVL'" in result.stderr
    assert "did you mean LOG_LEVEL?" in result.stderr


@pytest.mark.parametrize("module", SERVICE_MODULES)
def test_config_file_variable_read_by_service(tmp_path: Path, module: str) -> None:
    # The required settings of each service are given, so LOG_LEVEL is the first invalid value.
    path = write(tmp_path, """
LOG_LEVEL = 3

[inventory]
REDIS_URL = "redis://127.0.0.1:1/0"

[booking]
DATABASE_URL = "postgresql://unused@127.0.0.1:1/unused"
INVENTORY_TARGET = "127.0.0.1:1"

[rest_shim]
BOOKING_TARGET = "127.0.0.1:1"
""")

    result = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True, timeout=60,
                            env=clean_env(CONFIG_FILE=str(path)), cwd=REPO_ROOT)

    assert result.returncode == 2
    assert f"LOG_LEVEL (from {path}, top level)='3' is invalid" in result.stderr


def test_missing_file_exits_with_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    result = subprocess.run([sys.executable, "-m", "booking_service", "--config", str(path)], capture_output=True,
                            text=True, timeout=60, env=clean_env(), cwd=REPO_ROOT)

    assert result.returncode == 2
    assert result.stderr == f"booking service: invalid configuration: cannot read configuration file {path}: No such file or directory\n"
