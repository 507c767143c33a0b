"""What a REST client reads when a dependency of the booking service is down.

Each test runs its own stack, because it stops one of its processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from devstack.stack import Stack
from rest_shim.app import grpc_error_message


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    # A pool of one or two connections is soon empty once PostgreSQL is
    # gone, so calls wait PG_POOL_TIMEOUT_MS for a connection.
    stack = Stack(tmp_path / "run", extra_env={"LOG_LEVEL": "info", "PG_POOL_MIN": "1", "PG_POOL_MAX": "2"})
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

    responses = [httpx.get(f"{own_stack.rest_url}/api/v1/events/{created.json()['id']}", timeout=10) for _ in range(3)]

    # The booking service gives up on the pool after PG_POOL_TIMEOUT_MS (2 s)
    # and the shim retries until its 5 s deadline, then reports why the
    # last complete attempt failed.
    for response in responses:
        assert response.status_code == 503
        assert response.json()["error"].startswith("PostgreSQL unavailable"), response.text
    assert any("couldn't get a connection" in r.json()["error"] for r in responses)


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


async def test_retry_cut_by_deadline_reports_cause() -> None:
    from clients.retry import Backoff, call_with_retry

    errors = [
        rpc_error(grpc.StatusCode.UNAVAILABLE, "PostgreSQL unavailable: no connection"),
        rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"),
    ]

    async def call(remaining: float | None) -> None:
        raise errors.pop(0)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call_with_retry(
            "GetEvent", call, timeout=5, backoff=Backoff(attempts=4, base_s=0.001, cap_s=0.001), report_cause=True
        )

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert caught.value.details() == "PostgreSQL unavailable: no connection"


async def test_write_retry_keeps_deadline() -> None:
    from clients.retry import Backoff, call_with_retry

    errors = [
        rpc_error(grpc.StatusCode.UNAVAILABLE, "inventory unavailable: Reserve failed"),
        rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"),
    ]

    async def call(remaining: float | None) -> None:
        raise errors.pop(0)

    # The last attempt of a Book may have booked, and only DEADLINE_EXCEEDED reports that.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call_with_retry("Book", call, timeout=5, backoff=Backoff(attempts=4, base_s=0.001, cap_s=0.001))

    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
