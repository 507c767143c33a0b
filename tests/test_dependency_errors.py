"""What a REST client reads when a dependency of the booking service is down.

Each test runs its own stack, because it stops one of its processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from devstack.stack import Stack
from rest_shim.app import grpc_error_message


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path / "run", extra_env={"LOG_LEVEL": "info"})
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def test_postgres_down_named_before_deadline(own_stack: Stack) -> None:
    created = httpx.post(f"{own_stack.rest_url}/api/v1/events", json={"name": "pg down", "total_tickets": 5}, timeout=10)
    assert created.status_code == 201, created.text
    assert own_stack.postgres is not None
    own_stack.postgres.stop()

    started = time.monotonic()
    response = httpx.get(f"{own_stack.rest_url}/api/v1/events/{created.json()['id']}", timeout=10)
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["error"].startswith("PostgreSQL unavailable"), response.text
    # The pool gives up after PG_POOL_TIMEOUT_MS (2 s), before the shim's 5 s deadline.
    assert elapsed < 4.5


def test_booking_service_down_named(own_stack: Stack) -> None:
    own_stack.stop_service("booking")

    response = httpx.get(f"{own_stack.rest_url}/api/v1/events/1", timeout=10)

    assert response.status_code == 503
    assert response.json()["error"].startswith("booking service unavailable: "), response.text


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


@pytest.mark.parametrize(
    ("code", "details", "expected"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", "booking service did not answer in time; retry later"),
        (grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses", "booking service unavailable: failed to connect to all addresses"),
        (grpc.StatusCode.UNAVAILABLE, "PostgreSQL unavailable: connection refused", "PostgreSQL unavailable: connection refused"),
        (grpc.StatusCode.UNAVAILABLE, "inventory unavailable: Reserve failed", "inventory unavailable: Reserve failed"),
        (grpc.StatusCode.NOT_FOUND, "event 7 not found", "event 7 not found"),
    ],
)
def test_grpc_error_message(code: grpc.StatusCode, details: str, expected: str) -> None:
    assert grpc_error_message(rpc_error(code, details)) == expected
