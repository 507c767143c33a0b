"""Check docker-compose.yml against the settings that the services declare.

The compose file repeats variable names and ports that live in each service's
config.py, so these tests catch a renamed variable, a changed port or a
missing required setting before anyone starts the stack.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from booking_service import config as booking_config
from common.settings import Setting, SettingsError
from inventory_service import config as inventory_config
from rest_shim import config as rest_config

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
PYPROJECT = REPO_ROOT / "pyproject.toml"


@dataclass(frozen=True)
class PythonService:
    """A compose service that runs one of this repository's packages."""

    module: str
    settings: list[Setting]
    host_env: str
    port_env: str


PYTHON_SERVICES = {
    "inventory": PythonService("inventory_service", inventory_config.SETTINGS, "INVENTORY_HOST", "INVENTORY_PORT"),
    "booking": PythonService("booking_service", booking_config.SETTINGS, "BOOKING_HOST", "BOOKING_PORT"),
    "rest": PythonService("rest_shim", rest_config.SETTINGS, "REST_HOST", "REST_PORT"),
}
REQUIRED_SERVICES = ["postgres", "redis", *PYTHON_SERVICES]

# (service, variable) of each gRPC target, and the service it must point at.
GRPC_TARGETS = {
    ("booking", "INVENTORY_TARGET"): "inventory",
    ("rest", "BOOKING_TARGET"): "booking",
}

# (service, variable) of each Redis or PostgreSQL URL, the service it must
# point at and the port that the official image listens on.
BACKEND_URLS = {
    ("inventory", "REDIS_URL"): ("redis", 6379),
    ("booking", "DATABASE_URL"): ("postgres", 5432),
}

TCP_PROBE_PORT = re.compile(r"create_connection\(\(\s*['\"][^'\"]*['\"]\s*,\s*(\d+)\s*\)")
GRPC_PROBE_PORT = re.compile(r"common\.probe\s+[^\s:]+:(\d+)")
HTTP_PROBE_URL = re.compile(r"https?://[^\s'\"]+")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    with COMPOSE_FILE.open(encoding="utf-8") as file:
        compose = yaml.safe_load(file)
    assert isinstance(compose, dict), f"{COMPOSE_FILE.name}: expected a mapping at the top level"
    assert isinstance(compose.get("services"), dict), f"{COMPOSE_FILE.name}: expected a `services` mapping"
    return compose["services"]


def environment_of(definition: dict[str, Any]) -> dict[str, Any]:
    """Return a service's environment as a dict, from the mapping or the list form.

    A list entry without "=" maps to None, as compose then copies the value
    from the shell that runs it.
    """
    environment = definition.get("environment") or {}
    if isinstance(environment, dict):
        return dict(environment)
    entries: dict[str, Any] = {}
    for entry in environment:
        name, sep, value = entry.partition("=")
        entries[name] = value if sep else None
    return entries


def arguments_of(command: str | list[Any] | None) -> list[str]:
    """Split a compose command, in string or list form, into its arguments."""
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(argument) for argument in command]


def setting_named(service: str, env: str) -> Setting:
    for setting in PYTHON_SERVICES[service].settings:
        if setting.env == env:
            return setting
    raise LookupError(f"{env} is not declared in {PYTHON_SERVICES[service].module}.config.SETTINGS")


def effective_value(services: dict[str, dict[str, Any]], service: str, env: str) -> str:
    """Return the value the service reads for env: the compose value or else the Setting default."""
    value = environment_of(services[service]).get(env)
    if value is None or value == "":
        return setting_named(service, env).default
    return str(value)


def listening_port(services: dict[str, dict[str, Any]], service: str) -> int:
    port_env = PYTHON_SERVICES[service].port_env
    return setting_named(service, port_env).parse(port_env, effective_value(services, service, port_env))


def split_target(target: str) -> tuple[str, int]:
    """Split a gRPC target such as inventory:50051 or dns:///inventory:50051 into host and port."""
    address = target.rsplit("/", 1)[-1]
    host, _, port = address.rpartition(":")
    return host, int(port)


def healthcheck_ports(test: str | list[Any]) -> set[int]:
    """Return the ports that a healthcheck command connects to, for TCP, gRPC and HTTP probes."""
    command = test if isinstance(test, str) else " ".join(str(part) for part in test)
    ports = {int(port) for port in TCP_PROBE_PORT.findall(command)}
    ports |= {int(port) for port in GRPC_PROBE_PORT.findall(command)}
    for url in HTTP_PROBE_URL.findall(command):
        parts = urlsplit(url)
        ports.add(parts.port or (443 if parts.scheme == "https" else 80))
    return ports


def container_ports(ports: list[Any]) -> list[int]:
    """Return the container side of each published port, in short or long syntax."""
    result = []
    for entry in ports:
        if isinstance(entry, dict):
            result.append(int(entry["target"]))
        else:
            without_protocol = str(entry).split("/", 1)[0]
            result.append(int(without_protocol.rsplit(":", 1)[-1]))
    return result


def has_healthcheck(definition: dict[str, Any]) -> bool:
    healthcheck = definition.get("healthcheck") or {}
    test = healthcheck.get("test")
    if healthcheck.get("disable") or not test:
        return False
    return arguments_of(test)[:1] != ["NONE"]


def test_compose_defines_all_services(services: dict[str, dict[str, Any]]) -> None:
    for name in REQUIRED_SERVICES:
        assert name in services, f"{COMPOSE_FILE.name}: service {name!r} is missing"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_environment_uses_declared_settings(services: dict[str, dict[str, Any]], service: str) -> None:
    declared = {setting.env for setting in PYTHON_SERVICES[service].settings}
    module = PYTHON_SERVICES[service].module

    for env in environment_of(services[service]):
        assert env in declared, f"service {service!r}: {env} is not declared in {module}.config.SETTINGS"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_required_settings_are_set(services: dict[str, dict[str, Any]], service: str) -> None:
    environment = environment_of(services[service])

    for setting in PYTHON_SERVICES[service].settings:
        if setting.default == "":
            value = environment.get(setting.env)
            assert value not in (None, ""), f"service {service!r}: required setting {setting.env} is not set"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_values_pass_setting_parser(services: dict[str, dict[str, Any]], service: str) -> None:
    declared = {setting.env: setting for setting in PYTHON_SERVICES[service].settings}

    for env, value in environment_of(services[service]).items():
        if env not in declared:
            continue  # reported by test_environment_uses_declared_settings
        if value is None:
            continue  # copied from the shell that runs compose, so unknown here
        # YAML reads an unquoted true or yes as a bool, which docker-compose 1.29 rejects.
        assert isinstance(value, (str, int)) and not isinstance(value, bool), (
            f"service {service!r}: {env}={value!r} is a {type(value).__name__}; quote it as a string"
        )
        try:
            declared[env].parse(env, str(value))
        except SettingsError as exc:
            pytest.fail(f"service {service!r}: {exc}")


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_servers_listen_on_all_interfaces(services: dict[str, dict[str, Any]], service: str) -> None:
    host_env = PYTHON_SERVICES[service].host_env
    value = effective_value(services, service, host_env)

    # The default 127.0.0.1 is not reachable from other containers.
    assert value in ("0.0.0.0", "::"), (
        f"service {service!r}: {host_env}={value!r} is not reachable from other containers; expected 0.0.0.0"
    )


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_commands_run_service_module(services: dict[str, dict[str, Any]], service: str) -> None:
    module = PYTHON_SERVICES[service].module
    command = arguments_of(services[service].get("command"))

    assert command == ["python", "-m", module], (
        f"service {service!r}: command is {command}, expected ['python', '-m', {module!r}]"
    )


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_python_services_build_from_repository(services: dict[str, dict[str, Any]], service: str) -> None:
    build = services[service].get("build")
    context = build.get("context") if isinstance(build, dict) else build

    assert context in (".", "./"), f"service {service!r}: build context is {context!r}, expected '.'"
    assert DOCKERFILE.is_file(), f"service {service!r}: {DOCKERFILE.name} is missing from the repository root"


@pytest.mark.parametrize(("source", "target_service"), GRPC_TARGETS.items(), ids=[env for _, env in GRPC_TARGETS])
def test_grpc_targets_match_service_ports(
    services: dict[str, dict[str, Any]], source: tuple[str, str], target_service: str
) -> None:
    service, env = source
    target = effective_value(services, service, env)
    assert target, f"service {service!r}: {env} is not set"
    host, port = split_target(target)
    expected_port = listening_port(services, target_service)
    port_env = PYTHON_SERVICES[target_service].port_env

    assert host == target_service, f"service {service!r}: {env}={target} should name host {target_service!r}"
    assert port == expected_port, (
        f"service {service!r}: {env}={target} uses port {port}, but {target_service} listens on {port_env}={expected_port}"
    )


@pytest.mark.parametrize(("source", "backend"), BACKEND_URLS.items(), ids=[env for _, env in BACKEND_URLS])
def test_backend_urls_match_services(
    services: dict[str, dict[str, Any]], source: tuple[str, str], backend: tuple[str, int]
) -> None:
    service, env = source
    backend_service, backend_port = backend
    url = urlsplit(effective_value(services, service, env))

    assert url.hostname == backend_service, f"service {service!r}: {env} should name host {backend_service!r}"
    assert (url.port or backend_port) == backend_port, (
        f"service {service!r}: {env} uses port {url.port}, but the {backend_service} image listens on {backend_port}"
    )


def test_database_url_matches_postgres_credentials(services: dict[str, dict[str, Any]]) -> None:
    url = urlsplit(effective_value(services, "booking", "DATABASE_URL"))
    postgres = environment_of(services["postgres"])

    assert url.username == postgres.get("POSTGRES_USER"), "service 'booking': DATABASE_URL user differs from POSTGRES_USER"
    assert url.password == postgres.get("POSTGRES_PASSWORD"), (
        "service 'booking': DATABASE_URL password differs from POSTGRES_PASSWORD"
    )
    assert url.path.lstrip("/") == postgres.get("POSTGRES_DB"), (
        "service 'booking': DATABASE_URL database differs from POSTGRES_DB"
    )


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_healthcheck_probes_service_port(services: dict[str, dict[str, Any]], service: str) -> None:
    port_env = PYTHON_SERVICES[service].port_env
    expected_port = listening_port(services, service)
    test = (services[service].get("healthcheck") or {}).get("test") or []
    ports = healthcheck_ports(test)

    assert ports, f"service {service!r}: no port found in the healthcheck, expected {port_env}={expected_port}"
    assert ports == {expected_port}, (
        f"service {service!r}: healthcheck probes port {sorted(ports)}, but {port_env}={expected_port}"
    )


def test_rest_healthcheck_uses_liveness_route(services: dict[str, dict[str, Any]]) -> None:
    test = arguments_of((services["rest"].get("healthcheck") or {}).get("test"))
    paths = [urlsplit(url).path for url in HTTP_PROBE_URL.findall(" ".join(test))]

    assert paths == ["/healthz"], f"service 'rest': healthcheck requests {paths}, expected ['/healthz']"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_published_ports_match_service_port(services: dict[str, dict[str, Any]], service: str) -> None:
    port_env = PYTHON_SERVICES[service].port_env
    expected_port = listening_port(services, service)

    for port in container_ports(services[service].get("ports") or []):
        assert port == expected_port, f"service {service!r}: publishes container port {port}, but {port_env}={expected_port}"


def test_rest_port_is_published(services: dict[str, dict[str, Any]]) -> None:
    expected_port = listening_port(services, "rest")
    published = container_ports(services["rest"].get("ports") or [])

    assert expected_port in published, f"service 'rest': REST_PORT={expected_port} is not published"


def test_k6_targets_rest_service(services: dict[str, dict[str, Any]]) -> None:
    assert "k6" in services, f"{COMPOSE_FILE.name}: service 'k6' is missing"
    k6 = services["k6"]
    base_url = urlsplit(str(environment_of(k6).get("BASE_URL")))
    expected_port = listening_port(services, "rest")

    assert base_url.hostname == "rest", f"service 'k6': BASE_URL should name host 'rest', not {base_url.hostname!r}"
    assert base_url.port == expected_port, f"service 'k6': BASE_URL uses port {base_url.port}, but REST_PORT={expected_port}"
    assert k6.get("profiles") == ["loadtest"], "service 'k6': expected profiles ['loadtest'] so that `up` skips it"


def test_k6_script_is_mounted(services: dict[str, dict[str, Any]]) -> None:
    k6 = services["k6"]
    script = arguments_of(k6.get("command"))[-1]
    mounts = [str(volume).split(":")[:2] for volume in k6.get("volumes") or []]
    host_paths = [
        REPO_ROOT / source / Path(script).relative_to(target)
        for source, target in mounts
        if Path(script).is_relative_to(target)
    ]

    assert host_paths, f"service 'k6': no volume mounts the directory of {script}"
    assert host_paths[0].is_file(), f"service 'k6': {script} is mounted from {host_paths[0]}, which does not exist"


def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    # Services in a profile start only on request, and k6, the only one so far,
    # runs once and exits.
    for name, definition in services.items():
        if not definition.get("profiles"):
            assert has_healthcheck(definition), f"service {name!r}: healthcheck is missing or disabled"


def test_depends_on_waits_for_healthy(services: dict[str, dict[str, Any]]) -> None:
    for name, definition in services.items():
        depends_on = definition.get("depends_on") or {}
        # The list form means condition service_started.
        assert isinstance(depends_on, dict), f"service {name!r}: depends_on needs the mapping form with a condition"
        for dependency, options in depends_on.items():
            condition = (options or {}).get("condition")
            assert condition == "service_healthy", (
                f"service {name!r}: depends_on {dependency} has condition {condition!r}, expected service_healthy"
            )
            assert dependency in services, f"service {name!r}: depends_on names unknown service {dependency!r}"
            assert has_healthcheck(services[dependency]), (
                f"service {name!r}: depends_on {dependency}, which has no healthcheck"
            )


def test_services_depend_on_what_they_call(services: dict[str, dict[str, Any]]) -> None:
    calls = [(service, env, target) for (service, env), target in GRPC_TARGETS.items()]
    calls += [(service, env, backend) for (service, env), (backend, _) in BACKEND_URLS.items()]
    calls.append(("k6", "BASE_URL", "rest"))

    for service, env, target in calls:
        depends_on = services[service].get("depends_on") or {}
        assert target in depends_on, f"service {service!r}: {env} points at {target}, which is missing from depends_on"


def test_dockerfile_copies_every_package() -> None:
    with PYPROJECT.open("rb") as file:
        patterns = tomllib.load(file)["tool"]["setuptools"]["packages"]["find"]["include"]
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")

    for pattern in patterns:
        package = pattern.rstrip("*")
        if not (REPO_ROOT / package / "__init__.py").is_file():
            continue  # listed in pyproject.toml but not in the repository yet
        copied = re.search(rf"^COPY\s+(\./)?{re.escape(package)}/?\s", dockerfile, re.MULTILINE)
        assert copied, f"{DOCKERFILE.name}: package {package} is not copied into the image"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_accepts_file() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, f"docker-compose config rejected {COMPOSE_FILE.name}: {result.stderr.strip()}"
