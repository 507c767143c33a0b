"""Check the Kubernetes manifests in deploy/ against the settings that the services declare.

The manifests repeat variable names, values and ports that live in each
service's config.py. These tests catch a renamed variable, a value the
service would reject at start, or a port, probe or selector that points at
nothing, before anyone applies the manifests to a cluster.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from booking_service import config as booking_config
from common.settings import Setting, SettingsError
from inventory_service import config as inventory_config
from rest_shim import config as rest_config

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DIR = REPO_ROOT / "deploy"
CONFIG_MAP = "booking-monitor-config"
SECRET = "booking-monitor-secrets"
IMAGE = "booking-monitor:local"

# Variables that carry credentials or addresses of managed services: they
# must come from the Secret, never from the ConfigMap or a literal value.
SECRET_SETTINGS = {"DATABASE_URL", "REDIS_URL", "REST_ADMIN_TOKEN"}
# Values that pass the parsers, standing in for the Secret's when a
# configuration is built from the manifests.
SECRET_PLACEHOLDERS = {
    "DATABASE_URL": "postgresql://booking:secret@postgres.invalid:5432/booking",
    "REDIS_URL": "redis://redis.invalid:6379/0",
    "REST_ADMIN_TOKEN": "0123456789abcdef0123456789abcdef",
}


@dataclass(frozen=True)
class DeployedService:
    """A Deployment and Service pair that runs one of this repository's packages."""

    module: str
    settings: list[Setting]
    host_env: str
    port_env: str
    load_config: Callable[[], object]
    grpc: bool
    # How many times stop() waits up to SHUTDOWN_GRACE_MS, one wait after the
    # other: the booking service waits for running calls, then for sagas.
    grace_periods: int = 0


SERVICES = {
    "inventory": DeployedService(
        "inventory_service", inventory_config.SETTINGS, "INVENTORY_HOST", "INVENTORY_PORT",
        inventory_config.InventoryConfig.from_env, grpc=True, grace_periods=1,
    ),
    "booking": DeployedService(
        "booking_service", booking_config.SETTINGS, "BOOKING_HOST", "BOOKING_PORT",
        booking_config.BookingConfig.from_env, grpc=True, grace_periods=2,
    ),
    "rest": DeployedService(
        "rest_shim", rest_config.SETTINGS, "REST_HOST", "REST_PORT",
        rest_config.ShimConfig.from_env, grpc=False,
    ),
}
GRPC_SERVICES = [name for name, service in SERVICES.items() if service.grpc]

# (service, variable) of each gRPC target, and the Service it must name.
GRPC_TARGETS = {
    ("booking", "INVENTORY_TARGET"): "inventory",
    ("rest", "BOOKING_TARGET"): "booking",
}


# -- loading ---------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    files = sorted([*DEPLOY_DIR.glob("*.yaml"), *DEPLOY_DIR.glob("*.yml")])
    assert files, f"no manifests in {DEPLOY_DIR}"
    documents = []
    for path in files:
        with path.open(encoding="utf-8") as file:
            for document in yaml.safe_load_all(file):
                if document is None:
                    continue  # an empty document between two ---
                assert isinstance(document, dict), f"{path.name}: expected a mapping per document"
                documents.append({**document, "_file": path.name})
    return documents


def objects(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {document["metadata"]["name"]: document for document in manifests if document.get("kind") == kind}


@pytest.fixture(scope="module")
def config_map(manifests: list[dict[str, Any]]) -> dict[str, str]:
    maps = objects(manifests, "ConfigMap")
    assert CONFIG_MAP in maps, f"ConfigMap {CONFIG_MAP} is missing from {DEPLOY_DIR.name}/"
    return maps[CONFIG_MAP].get("data") or {}


def pod_template(manifests: list[dict[str, Any]], service: str) -> dict[str, Any]:
    deployments = objects(manifests, "Deployment")
    assert service in deployments, f"Deployment {service!r} is missing"
    return deployments[service]["spec"]["template"]


def container_of(manifests: list[dict[str, Any]], service: str) -> dict[str, Any]:
    containers = pod_template(manifests, service)["spec"]["containers"]
    assert len(containers) == 1, f"Deployment {service!r}: expected one container, got {len(containers)}"
    return containers[0]


def setting_named(service: str, env: str) -> Setting:
    for setting in SERVICES[service].settings:
        if setting.env == env:
            return setting
    raise LookupError(f"{env} is not declared in {SERVICES[service].module}.config.SETTINGS")


def env_entries(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env") or []}


def env_value(entry: dict[str, Any], config_map: dict[str, str]) -> str | None:
    """Return the value a container gets for an env entry, or None when it comes from the Secret."""
    if "value" in entry:
        return str(entry["value"])
    source = entry.get("valueFrom") or {}
    if "configMapKeyRef" in source:
        return config_map.get(source["configMapKeyRef"]["key"])
    return None


def effective_value(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str, env: str) -> str:
    """Return the value the service reads for env: from the manifests, else the Setting's default."""
    entry = env_entries(container_of(manifests, service)).get(env)
    value = env_value(entry, config_map) if entry else None
    return setting_named(service, env).default if value in (None, "") else value


def listening_port(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> int:
    port_env = SERVICES[service].port_env
    return setting_named(service, port_env).parse(port_env, effective_value(manifests, config_map, service, port_env))


def resolve_port(container: dict[str, Any], port: int | str) -> int | None:
    """Return the container port that a probe or targetPort names, by number or by name."""
    for declared in container.get("ports") or []:
        if port in (declared["containerPort"], declared.get("name")):
            return declared["containerPort"]
    return None


# -- objects ---------------------------------------------------------------


def test_every_document_is_named_object(manifests: list[dict[str, Any]]) -> None:
    seen = set()
    for document in manifests:
        where = document["_file"]
        assert document.get("apiVersion"), f"{where}: a document has no apiVersion"
        assert document.get("kind"), f"{where}: a document has no kind"
        name = (document.get("metadata") or {}).get("name")
        assert name, f"{where}: a {document['kind']} has no metadata.name"
        assert (document["kind"], name) not in seen, f"{where}: {document['kind']} {name} is defined twice"
        seen.add((document["kind"], name))


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_and_service_exist(manifests: list[dict[str, Any]], service: str) -> None:
    assert service in objects(manifests, "Deployment"), f"Deployment {service!r} is missing"
    assert service in objects(manifests, "Service"), f"Service {service!r} is missing"


def test_secret_is_not_included(manifests: list[dict[str, Any]]) -> None:
    secrets = objects(manifests, "Secret")

    assert not secrets, f"{DEPLOY_DIR.name}/ must reference the Secret, not contain it: found {sorted(secrets)}"


@pytest.mark.parametrize("service", SERVICES)
def test_container_runs_service_module(manifests: list[dict[str, Any]], service: str) -> None:
    container = container_of(manifests, service)
    command = [str(argument) for argument in container.get("command") or []]

    assert container.get("image") == IMAGE, f"Deployment {service!r}: image is {container.get('image')!r}"
    assert command == ["python", "-m", SERVICES[service].module], (
        f"Deployment {service!r}: command is {command}, expected ['python', '-m', {SERVICES[service].module!r}]"
    )
    assert not container.get("args"), f"Deployment {service!r}: args would be passed to the service as options"


# -- settings --------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_env_uses_declared_settings(manifests: list[dict[str, Any]], service: str) -> None:
    container = container_of(manifests, service)
    declared = {setting.env for setting in SERVICES[service].settings}

    assert not container.get("envFrom"), (
        f"Deployment {service!r}: envFrom would give the service every key; list its variables under env"
    )
    for env in env_entries(container):
        assert env in declared, f"Deployment {service!r}: {env} is not declared in {SERVICES[service].module}.config.SETTINGS"


@pytest.mark.parametrize("service", SERVICES)
def test_env_references_exist(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> None:
    for env, entry in env_entries(container_of(manifests, service)).items():
        source = entry.get("valueFrom") or {}
        if "configMapKeyRef" in source:
            reference = source["configMapKeyRef"]
            assert reference["name"] == CONFIG_MAP, f"Deployment {service!r}: {env} names ConfigMap {reference['name']!r}"
            assert reference["key"] in config_map, f"Deployment {service!r}: {env} names key {reference['key']!r}, missing from {CONFIG_MAP}"
        elif "secretKeyRef" in source:
            assert source["secretKeyRef"]["name"] == SECRET, f"Deployment {service!r}: {env} names Secret {source['secretKeyRef']['name']!r}"
        else:
            assert "value" in entry, f"Deployment {service!r}: {env} has neither a value nor a supported valueFrom"


@pytest.mark.parametrize("service", SERVICES)
def test_credentials_come_from_secret(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> None:
    for env, entry in env_entries(container_of(manifests, service)).items():
        if env in SECRET_SETTINGS:
            assert "secretKeyRef" in (entry.get("valueFrom") or {}), f"Deployment {service!r}: {env} must come from Secret {SECRET}"

    for key in SECRET_SETTINGS:
        assert key not in config_map, f"{CONFIG_MAP}: {key} belongs in Secret {SECRET}"


@pytest.mark.parametrize("service", SERVICES)
def test_required_settings_are_provided(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> None:
    entries = env_entries(container_of(manifests, service))

    for setting in SERVICES[service].settings:
        if setting.default != "" or setting.env == "REST_ADMIN_TOKEN":
            continue  # REST_ADMIN_TOKEN is optional: unset leaves the admin route open
        assert setting.env in entries, f"Deployment {service!r}: required setting {setting.env} is not set"
        source = entries[setting.env].get("valueFrom") or {}
        if "secretKeyRef" in source:
            assert not source["secretKeyRef"].get("optional"), f"Deployment {service!r}: required {setting.env} is optional in the Secret"
        else:
            assert env_value(entries[setting.env], config_map), f"Deployment {service!r}: required setting {setting.env} is empty"


@pytest.mark.parametrize("service", SERVICES)
def test_values_pass_setting_parser(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> None:
    declared = {setting.env: setting for setting in SERVICES[service].settings}

    for env, entry in env_entries(container_of(manifests, service)).items():
        if env not in declared:
            continue  # reported by test_env_uses_declared_settings
        if "value" in entry:
            raw = entry["value"]
        elif "configMapKeyRef" in (entry.get("valueFrom") or {}):
            raw = config_map.get(entry["valueFrom"]["configMapKeyRef"]["key"])
            if raw is None:
                continue  # reported by test_env_references_exist
        else:
            continue  # from the Secret, so unknown here
        # YAML reads an unquoted 8080 or true as int or bool; Kubernetes accepts only strings.
        assert isinstance(raw, str), f"Deployment {service!r}: {env}={raw!r} is of type {type(raw).__name__}; quote it"
        try:
            declared[env].parse(env, raw)
        except SettingsError as exc:
            pytest.fail(f"Deployment {service!r}: {exc}")


def test_config_map_keys_are_used(manifests: list[dict[str, Any]], config_map: dict[str, str]) -> None:
    used = set()
    for service in SERVICES:
        for entry in env_entries(container_of(manifests, service)).values():
            reference = (entry.get("valueFrom") or {}).get("configMapKeyRef")
            if reference:
                used.add(reference["key"])

    assert set(config_map) <= used, f"{CONFIG_MAP}: keys no Deployment reads: {sorted(set(config_map) - used)}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_accepts_configuration(
    manifests: list[dict[str, Any]], config_map: dict[str, str], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build the service's config as it does at start, which also runs the checks across settings."""
    for setting in SERVICES[service].settings:
        monkeypatch.delenv(setting.env, raising=False)
    for env, entry in env_entries(container_of(manifests, service)).items():
        value = env_value(entry, config_map)
        if value is None:
            # A Secret reference, or a ConfigMap key reported missing by test_env_references_exist.
            value = SECRET_PLACEHOLDERS.get(env, "")
        monkeypatch.setenv(env, str(value))

    try:
        SERVICES[service].load_config()
    except SettingsError as exc:
        pytest.fail(f"Deployment {service!r}: the service would exit at start: {exc}")


@pytest.mark.parametrize("service", SERVICES)
def test_servers_listen_on_all_interfaces(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> None:
    host_env = SERVICES[service].host_env
    value = effective_value(manifests, config_map, service, host_env)

    # The default 127.0.0.1 is not reachable through a Service or by the kubelet's probes.
    assert value in ("0.0.0.0", "::"), f"Deployment {service!r}: {host_env}={value!r} is reachable only inside the pod"


# -- ports and probes --------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_container_port_matches_setting(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> None:
    container = container_of(manifests, service)
    declared = [port["containerPort"] for port in container.get("ports") or []]
    expected = listening_port(manifests, config_map, service)

    assert declared == [expected], (
        f"Deployment {service!r}: containerPort {declared}, but the service listens on "
        f"{SERVICES[service].port_env}={expected}"
    )


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_grpc_readiness_probe(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> None:
    probe = container_of(manifests, service).get("readinessProbe") or {}
    expected = listening_port(manifests, config_map, service)

    assert "grpc" in probe, f"Deployment {service!r}: readinessProbe should call grpc.health.v1 with a grpc probe"
    # Kubernetes takes only a number here, not a port name.
    assert probe["grpc"].get("port") == expected, f"Deployment {service!r}: grpc probe port {probe['grpc'].get('port')}, expected {expected}"
    assert probe["grpc"].get("service", "") == "", f"Deployment {service!r}: the servers report their status under the empty service name"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_grpc_liveness_ignores_database(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> None:
    container = container_of(manifests, service)
    expected = listening_port(manifests, config_map, service)

    for kind in ("livenessProbe", "startupProbe"):
        probe = container.get(kind)
        if kind == "livenessProbe":
            assert probe, f"Deployment {service!r}: livenessProbe is missing"
        if not probe:
            continue
        # The health service reports NOT_SERVING while the database is down,
        # and a restart does not bring the database back.
        assert "grpc" not in probe, f"Deployment {service!r}: {kind} on grpc.health.v1 would restart pods during a database outage"
        assert "tcpSocket" in probe, f"Deployment {service!r}: {kind} should check the gRPC port with tcpSocket"
        port = resolve_port(container, probe["tcpSocket"]["port"])
        assert port == expected, (
            f"Deployment {service!r}: {kind} checks port {probe['tcpSocket']['port']!r} ({port}), expected {expected}"
        )


@pytest.mark.parametrize(("kind", "path"), [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")])
def test_rest_http_probes(manifests: list[dict[str, Any]], config_map: dict[str, str], kind: str, path: str) -> None:
    container = container_of(manifests, "rest")
    probe = container.get(kind) or {}
    expected = listening_port(manifests, config_map, "rest")

    assert "httpGet" in probe, f"Deployment 'rest': {kind} should be an httpGet probe"
    assert probe["httpGet"].get("path") == path, f"Deployment 'rest': {kind} path {probe['httpGet'].get('path')!r}, expected {path}"
    port = resolve_port(container, probe["httpGet"]["port"])
    assert port == expected, f"Deployment 'rest': {kind} port {probe['httpGet']['port']!r} ({port}), expected {expected}"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_termination_grace_covers_shutdown(manifests: list[dict[str, Any]], config_map: dict[str, str], service: str) -> None:
    pod = pod_template(manifests, service)["spec"]
    container = container_of(manifests, service)
    pre_stop = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command") or []
    pre_stop_s = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
    grace_ms = setting_named(service, "SHUTDOWN_GRACE_MS").parse(
        "SHUTDOWN_GRACE_MS", effective_value(manifests, config_map, service, "SHUTDOWN_GRACE_MS")
    )
    needed_s = pre_stop_s + SERVICES[service].grace_periods * grace_ms / 1000
    # Kubernetes' default when the field is absent.
    period_s = pod.get("terminationGracePeriodSeconds", 30)

    assert period_s > needed_s, (
        f"Deployment {service!r}: terminationGracePeriodSeconds={period_s} does not cover preStop ({pre_stop_s} s) "
        f"plus {SERVICES[service].grace_periods} x SHUTDOWN_GRACE_MS ({grace_ms} ms)"
    )


# -- Services and selectors --------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_selector_matches_pods(manifests: list[dict[str, Any]], service: str) -> None:
    deployment = objects(manifests, "Deployment")[service]
    match_labels = deployment["spec"]["selector"].get("matchLabels") or {}
    labels = pod_template(manifests, service)["metadata"].get("labels") or {}

    assert match_labels, f"Deployment {service!r}: spec.selector.matchLabels is empty"
    assert match_labels.items() <= labels.items(), f"Deployment {service!r}: selector {match_labels} does not match pod labels {labels}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_selects_only_its_pods(manifests: list[dict[str, Any]], service: str) -> None:
    selector = objects(manifests, "Service")[service]["spec"].get("selector") or {}

    assert selector, f"Service {service!r}: selector is empty"
    for other in SERVICES:
        labels = pod_template(manifests, other)["metadata"].get("labels") or {}
        selected = selector.items() <= labels.items()
        assert selected == (other == service), (
            f"Service {service!r}: selector {selector} {'selects' if selected else 'misses'} the pods of Deployment {other!r}"
        )


@pytest.mark.parametrize("service", SERVICES)
def test_service_target_ports_match_container(manifests: list[dict[str, Any]], service: str) -> None:
    spec = objects(manifests, "Service")[service]["spec"]
    container = container_of(manifests, service)

    assert spec.get("type", "ClusterIP") == "ClusterIP", f"Service {service!r}: type {spec.get('type')}, expected ClusterIP"
    assert spec.get("ports"), f"Service {service!r}: no ports"
    for port in spec["ports"]:
        target = port.get("targetPort", port["port"])
        assert resolve_port(container, target) is not None, (
            f"Service {service!r}: targetPort {target!r} is not a port of the {service} container"
        )


def test_rest_service_on_8080(manifests: list[dict[str, Any]]) -> None:
    ports = [port["port"] for port in objects(manifests, "Service")["rest"]["spec"]["ports"]]

    assert 8080 in ports, f"Service 'rest': ports {ports}, expected 8080"


@pytest.mark.parametrize(("source", "target_service"), GRPC_TARGETS.items(), ids=[env for _, env in GRPC_TARGETS])
def test_grpc_targets_name_services(
    manifests: list[dict[str, Any]], config_map: dict[str, str], source: tuple[str, str], target_service: str
) -> None:
    service, env = source
    target = effective_value(manifests, config_map, service, env)
    host, _, port = target.rsplit("/", 1)[-1].rpartition(":")
    container = container_of(manifests, target_service)
    # The Service ports that reach the target container's listening port.
    reaching = [
        entry["port"]
        for entry in objects(manifests, "Service")[target_service]["spec"]["ports"]
        if resolve_port(container, entry.get("targetPort", entry["port"])) == listening_port(manifests, config_map, target_service)
    ]

    assert host.split(".")[0] == target_service, f"Deployment {service!r}: {env}={target} should name Service {target_service!r}"
    assert int(port) in reaching, f"Deployment {service!r}: {env}={target}, but Service {target_service!r} forwards ports {reaching}"


# -- kubectl -----------------------------------------------------------------


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_parses_manifests(manifests: list[dict[str, Any]], tmp_path: Path) -> None:
    """Run the manifests through `kubectl kustomize`, which works without a cluster.

    It parses every object but does not check fields against the API schema.
    A client-side dry run would, but it downloads that schema from the API server.
    """
    for path in DEPLOY_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    resources = sorted(path.name for path in DEPLOY_DIR.glob("*.yaml"))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": resources}))

    result = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, f"kubectl kustomize rejected the manifests: {result.stderr.strip()}"
    built = [document for document in yaml.safe_load_all(result.stdout) if document]
    assert len(built) == len(manifests)
