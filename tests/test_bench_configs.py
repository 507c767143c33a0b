"""The ghz configurations under bench/ghz name real methods and real fields."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from google.protobuf import descriptor_pool

import booking_monitor_pb.booking.v1.booking_pb2  # noqa: F401  (registers the descriptors)
import booking_monitor_pb.inventory.v1.inventory_pb2  # noqa: F401

GHZ_DIR = Path(__file__).resolve().parent.parent / "bench" / "ghz"
CONFIGS = sorted(GHZ_DIR.glob("*.json"))
TEMPLATE = re.compile(r"^\{\{(newUUID|event_id|randomInt \d+ \d+)\}\}$")


def test_configs_exist() -> None:
    names = {path.stem for path in CONFIGS}
    assert {"reserve", "book", "get_event", "noop"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_names_real_method_and_fields(path: Path) -> None:
    config = json.loads(path.read_text())
    service_name, method_name = config["call"].rsplit(".", 1)

    service = descriptor_pool.Default().FindServiceByName(service_name)
    method = service.methods_by_name.get(method_name)

    assert method is not None, f"{path.name}: {service_name} has no method {method_name}"
    fields = method.input_type.fields_by_name
    for key, value in config["data"].items():
        assert key in fields, f"{path.name}: {method.input_type.full_name} has no field {key!r}"
        if isinstance(value, str) and value.startswith("{{"):
            assert TEMPLATE.match(value), f"{path.name}: unknown template {value!r} in {key}"
    proto = (path.parent / config["proto"]).resolve()
    assert proto.exists(), f"{path.name}: proto file {proto} not found"
    assert service.file.name.endswith(str(proto.relative_to(proto.parents[2]))), (
        f"{path.name}: {service_name} is not defined in {config['proto']}"
    )
    for folder in config["import-paths"]:
        assert (path.parent / folder).resolve().is_dir(), f"{path.name}: import path {folder} not found"
    assert config["concurrency"] > 0
    assert config["insecure"] is True
