"""Protection against abuse: the in-flight bounds, slow and oversized requests, the admin token.

These tests start their own REST shim with small limits, in front of the
session stack's booking service, and stop it by its process id.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from booking_service.config import BookingConfig
from common import limits, settings
from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess
from devstack.stack import REPO_ROOT, Stack
from inventory_service.config import InventoryConfig
from rest_shim.config import SETTINGS as SHIM_SETTINGS
from tests.helpers import assert_consistent, event_state

ADMIN_TOKEN = "abuse-test-admin-token-7f3a9c"
MAX_IN_FLIGHT = 4
BODY_TIMEOUT_MS = 1500
HEADER_TIMEOUT_MS = 1000
MAX_HEADER_BYTES = 4096
MAX_BODY_BYTES = 2048
JSON = {"content-type": "application/json"}
ADMIN = {**JSON, "authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass(frozen=True)
class GuardedShim:
    url: str
    port: int
    log_path: Path


@pytest.fixture(scope="module")
def shim(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuardedShim]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("guarded-shim") / "rest.log"
    env = {
        **os.environ,
        "REST_HOST": "127.0.0.1",
        "REST_PORT": str(port),
        "BOOKING_TARGET": stack.booking_target,
        "REST_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
        "REST_BODY_TIMEOUT_MS": str(BODY_TIMEOUT_MS),
        "REST_HEADER_TIMEOUT_MS": str(HEADER_TIMEOUT_MS),
        "REST_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "REST_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "REST_ADMIN_TOKEN": ADMIN_TOKEN,
        "LOG_LEVEL": "debug",
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    process = ManagedProcess("guarded shim", [sys.executable, "-m", "rest_shim"], log_path=log_path, env=env, cwd=REPO_ROOT)
    process.start()
    try:
        wait_for_port("127.0.0.1", port, 30, alive=process.alive)
        yield GuardedShim(f"http://127.0.0.1:{port}", port, log_path)
    finally:
        process.stop()


@pytest.fixture
def http(shim: GuardedShim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shim.url, timeout=10) as client:
        yield client


def create_event(http: httpx.Client, name: str, total: int) -> int:
    response = http.post("/api/v1/events", json={"name": name, "total_tickets": total}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def book_request(event_id: int, body_bytes_sent: int | None = None) -> bytes:
    """Build a raw POST /api/v1/book, cut after body_bytes_sent bytes of the body when given."""
    body = f'{{"user_id": 1, "event_id": {event_id}, "quantity": 1}}'.encode()
    head = (
        "POST /api/v1/book HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body[:body_bytes_sent]


def open_and_send(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if data:
        sock.sendall(data)
    return sock


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Read until the server closes the connection, and return what arrived and the seconds it took."""
    started = time.monotonic()
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {timeout} s; received {received[:200]!r}")
    finally:
        sock.close()
    return received, time.monotonic() - started


# -- in-flight bound ------------------------------------------------------------


def test_busy_shim_answers_503_with_retry_after(shim: GuardedShim, http: httpx.Client, event_name: str) -> None:
    event_id = create_event(http, event_name, 10)
    # Each of these requests waits inside the shim for the rest of its body.
    stalled = [open_and_send(shim.port, book_request(event_id, body_bytes_sent=5)) for _ in range(MAX_IN_FLIGHT)]
    time.sleep(0.3)

    busy = http.post("/api/v1/book", json={"user_id": 2, "event_id": event_id, "quantity": 1})
    live = http.get("/healthz")
    stalled_replies = [read_until_closed(sock, timeout=10)[0] for sock in stalled]
    after = http.post("/api/v1/book", json={"user_id": 3, "event_id": event_id, "quantity": 1})

    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["error"].startswith(f"server busy: {MAX_IN_FLIGHT} requests in flight")
    assert live.status_code == 200
    for reply in stalled_replies:
        assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert after.status_code == 200


async def test_flood_twice_the_bound_answered(shim: GuardedShim, db, cache, event_name: str) -> None:
    clients = 2 * MAX_IN_FLIGHT
    requests_per_client = 15
    async with httpx.AsyncClient(base_url=shim.url, timeout=10, limits=httpx.Limits(max_connections=clients)) as http:
        created = await http.post("/api/v1/events", json={"name": event_name, "total_tickets": 30}, headers=ADMIN)
        event_id = created.json()["id"]

        async def user(number: int) -> list[httpx.Response]:
            replies = []
            for attempt in range(requests_per_client):
                body = {"user_id": 1000 * number + attempt + 1, "event_id": event_id, "quantity": 1}
                replies.append(await http.post("/api/v1/book", json=body))
            return replies

        per_user = await asyncio.wait_for(asyncio.gather(*(user(n) for n in range(clients))), timeout=60)
        ready = await http.get("/readyz")

    replies = [reply for replies in per_user for reply in replies]
    statuses = [reply.status_code for reply in replies]
    assert len(replies) == clients * requests_per_client
    assert set(statuses) <= {200, 409, 503}, statuses
    for reply in replies:
        if reply.status_code == 503:
            assert reply.headers.get("retry-after") == "1", reply.text
    assert ready.status_code == 200
    state = event_state(db, cache, event_id)
    assert state.confirmed_quantity == statuses.count(200)
    assert_consistent(state)


# -- slow and oversized requests -------------------------------------------------


def test_slow_body_times_out_with_408(shim: GuardedShim, db) -> None:
    before = db.execute("SELECT count(*) FROM bookings").fetchone()[0]
    sock = open_and_send(shim.port, book_request(1, body_bytes_sent=10))

    reply, elapsed = read_until_closed(sock, timeout=10)

    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert b"connection: close" in reply
    assert reply.endswith(f'{{"error":"body: was not received within {BODY_TIMEOUT_MS} ms"}}'.encode())
    assert BODY_TIMEOUT_MS / 1000 - 0.1 <= elapsed < BODY_TIMEOUT_MS / 1000 + 2
    assert db.execute("SELECT count(*) FROM bookings").fetchone()[0] == before


def test_slow_headers_time_out_with_408(shim: GuardedShim) -> None:
    sock = open_and_send(shim.port, b"GET /api/v1/history HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    reply, elapsed = read_until_closed(sock, timeout=10)

    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert b"headers: not received within" in reply
    assert elapsed < HEADER_TIMEOUT_MS / 1000 + 2


def test_header_drip_does_not_extend_deadline(shim: GuardedShim) -> None:
    sock = open_and_send(shim.port, b"GET /healthz HTTP/1.1\r\n")
    started = time.monotonic()
    closed = False
    # One header byte every 0.2 s would keep the connection open forever
    # if each byte restarted the timer.
    for _ in range(50):
        time.sleep(0.2)
        try:
            sock.sendall(b"X")
        except OSError:
            closed = True
            break
    elapsed = time.monotonic() - started
    sock.close()

    assert closed
    assert elapsed < HEADER_TIMEOUT_MS / 1000 + 2


def test_idle_connection_closed(shim: GuardedShim) -> None:
    sock = open_and_send(shim.port, b"")

    reply, elapsed = read_until_closed(sock, timeout=10)

    assert reply == b""
    assert elapsed < HEADER_TIMEOUT_MS / 1000 + 2


def test_oversized_headers_431(shim: GuardedShim) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"p" * (2 * MAX_HEADER_BYTES) + b"\r\n\r\n"
    sock = open_and_send(shim.port, request)

    reply, _ = read_until_closed(sock, timeout=10)

    assert reply.startswith(b"HTTP/1.1 431 "), reply
    assert f"headers: must be at most {MAX_HEADER_BYTES} bytes".encode() in reply


def test_stalled_connections_leave_slots_free(shim: GuardedShim, http: httpx.Client) -> None:
    stalled = [open_and_send(shim.port, b"GET /api/v1/history HTTP/1.1\r\n") for _ in range(3 * MAX_IN_FLIGHT)]
    try:
        responses = [http.get("/api/v1/history", params={"size": 1}) for _ in range(MAX_IN_FLIGHT + 1)]
    finally:
        for sock in stalled:
            sock.close()

    assert [r.status_code for r in responses] == [200] * (MAX_IN_FLIGHT + 1)


def test_declared_large_body_413_closes(shim: GuardedShim, http: httpx.Client, db) -> None:
    before = db.execute("SELECT count(*) FROM events").fetchone()[0]
    body = '{"name": "' + "x" * MAX_BODY_BYTES + '", "total_tickets": 5}'

    response = http.post("/api/v1/events", content=body, headers=ADMIN)

    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.json()["error"] == f"body: must be at most {MAX_BODY_BYTES} bytes, got {len(body)}"
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == before


def test_streamed_large_body_413(shim: GuardedShim, http: httpx.Client, db) -> None:
    before = db.execute("SELECT count(*) FROM events").fetchone()[0]
    body = ('{"name": "' + "x" * MAX_BODY_BYTES + '", "total_tickets": 5}').encode()

    response = http.post("/api/v1/events", content=iter([body[:1024], body[1024:]]), headers=ADMIN)

    assert response.status_code == 413
    assert response.json()["error"] == f"body: must be at most {MAX_BODY_BYTES} bytes"
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == before


# -- admin token -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "message", "challenge"),
    [
        (None, "Authorization: missing: this route requires a bearer token", 'Bearer realm="booking_monitor admin"'),
        ("Bearer wrong-token", "Authorization: invalid bearer token", 'error="invalid_token"'),
        (f"Bearer {ADMIN_TOKEN}x", "Authorization: invalid bearer token", 'error="invalid_token"'),
        (f"Basic {ADMIN_TOKEN}", "Authorization: invalid bearer token", 'error="invalid_token"'),
        ("Bearer", "Authorization: invalid bearer token", 'error="invalid_token"'),
        ("Bearer caf\u00e9".encode(), "Authorization: invalid bearer token", 'error="invalid_token"'),
    ],
    ids=["missing", "wrong", "longer", "basic scheme", "empty", "non-ASCII"],
)
def test_admin_route_rejects_bad_token(
    http: httpx.Client, db, authorization: str | bytes | None, message: str, challenge: str
) -> None:
    before = db.execute("SELECT count(*) FROM events").fetchone()[0]
    headers: dict[str, str | bytes] = dict(JSON)
    if authorization is not None:
        headers["authorization"] = authorization

    response = http.post("/api/v1/events", json={"name": "unauthorised", "total_tickets": 5}, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": message}
    assert challenge in response.headers["www-authenticate"]
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == before


def test_admin_token_creates_event(http: httpx.Client, event_name: str) -> None:
    response = http.post("/api/v1/events", json={"name": event_name, "total_tickets": 5}, headers=ADMIN)

    assert response.status_code == 201
    booked = http.post("/api/v1/book", json={"user_id": 1, "event_id": response.json()["id"], "quantity": 1})
    assert booked.status_code == 200


def test_admin_token_never_logged(shim: GuardedShim, http: httpx.Client) -> None:
    http.post("/api/v1/events", json={"name": "x", "total_tickets": 5}, headers={**JSON, "authorization": "Bearer nope"})

    log = shim.log_path.read_text(errors="replace")

    assert "admin routes require a bearer token" in log
    assert ADMIN_TOKEN not in log


@pytest.mark.parametrize("value", ["Zq7-secret", "Zq7 secret with a space inside"], ids=["too short", "space"])
def test_admin_token_setting_checked_without_echo(value: str) -> None:
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(SHIM_SETTINGS, {"BOOKING_TARGET": "127.0.0.1:1", "REST_ADMIN_TOKEN": value})
    assert "REST_ADMIN_TOKEN" in str(caught.value)
    assert value not in str(caught.value)


# -- gRPC bounds -------------------------------------------------------------------


async def test_grpc_server_rejects_calls_past_bound() -> None:
    async def wait(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await asyncio.sleep(0.5)
        return b"done"

    server = limits.grpc_server(max_message_bytes=1024, max_in_flight=2)
    handler = grpc.unary_unary_rpc_method_handler(wait)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Slow", {"Wait": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/test.Slow/Wait")
            await channel.channel_ready()
            results = await asyncio.gather(*(call(b"x", timeout=5) for _ in range(6)), return_exceptions=True)
            with pytest.raises(grpc.aio.AioRpcError) as oversized:
                await call(b"x" * 2048, timeout=5)
    finally:
        await server.stop(None)

    codes = [r.code() if isinstance(r, grpc.aio.AioRpcError) else "ok" for r in results]
    assert codes.count("ok") == 2, codes
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 4, codes
    assert oversized.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_grpc_limits_read_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DATABASE_URL": "postgresql://x@127.0.0.1:1/x",
        "INVENTORY_TARGET": "127.0.0.1:1",
        "GRPC_MAX_MESSAGE_BYTES": "2048",
        "INVENTORY_MAX_IN_FLIGHT": "7",
        "BOOKING_MAX_IN_FLIGHT": "9",
    }.items():
        monkeypatch.setenv(key, value)

    inventory = InventoryConfig.from_env()
    booking = BookingConfig.from_env()

    assert (inventory.max_message_bytes, inventory.max_in_flight) == (2048, 7)
    assert (booking.max_message_bytes, booking.max_in_flight) == (2048, 9)
