"""The REST shim's OpenAPI description: served, complete, and schemathesis finds no 5xx."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from devstack.stack import Stack

SPEC_PATH = Path(__file__).resolve().parent.parent / "rest_shim" / "openapi.json"
SPEC = json.loads(SPEC_PATH.read_text())
schema = schemathesis.openapi.from_dict(SPEC)


def test_description_served_as_committed(stack: Stack) -> None:
    response = httpx.get(f"{stack.rest_url}/openapi.json", timeout=10)

    assert response.status_code == 200
    assert response.json() == SPEC


def test_every_route_described(monkeypatch: pytest.MonkeyPatch) -> None:
    from rest_shim.app import create_app

    monkeypatch.setenv("BOOKING_TARGET", "127.0.0.1:1")
    app = create_app()

    described = set(SPEC["paths"])
    paths = {route.path for route in app.routes}
    # /api/v1/health is an alias of /readyz kept for older clients.
    assert paths - described == {"/api/v1/health"}
    assert described - paths == set()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, stack: Stack) -> None:
    response = case.call(base_url=stack.rest_url, timeout=10)
    # 503 is a documented answer only for a failed dependency, and every
    # dependency is up here, so any 5xx is a defect.
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
