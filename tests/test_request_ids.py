"""Request ids from the REST shim through both gRPC services into every log line.

A second stack runs here with LOG_LEVEL=debug and LOG_FORMAT=json against
the session's PostgreSQL and Redis, so its log files can be read line by line.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from booking_monitor_pb.booking.v1 import booking_pb2_grpc as pb_grpc
from common import logs, request_ids
from common.rules import InvalidInput
from devstack.stack import Stack

SERVICES = ("rest", "booking", "inventory")


@pytest.fixture(scope="module")
def traced_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    traced = Stack(
        tmp_path_factory.mktemp("traced"),
        database_url=stack.db_url,
        redis_url=stack.cache_url,
        extra_env={"LOG_LEVEL": "debug", "LOG_FORMAT": "json"},
    )
    try:
        traced.start()
        yield traced
    finally:
        traced.stop()


@pytest.fixture
async def http(traced_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=traced_stack.rest_url, timeout=10) as client:
        yield client


def log_lines(stack: Stack, service: str) -> list[dict]:
    path: Path = stack.run_dir / "logs" / f"{service}.log"
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def lines_with(stack: Stack, service: str, request_id: str) -> list[dict]:
    return [line for line in log_lines(stack, service) if line.get("request_id") == request_id]


def lines_mentioning(stack: Stack, service: str, text: str) -> list[dict]:
    return [line for line in log_lines(stack, service) if text in line["message"]]


async def wait_for_line(stack: Stack, service: str, request_id: str, text: str, timeout: float = 5.0) -> None:
    """Wait until the service has logged a line with request_id whose message contains text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line["message"] for line in lines_with(stack, service, request_id)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{service} logged no line with request id {request_id!r} containing {text!r}")


async def create_event(http: httpx.AsyncClient, total: int, request_id: str) -> dict:
    response = await http.post(
        "/api/v1/events",
        json={"name": f"traced {request_id}", "total_tickets": total},
        headers={"X-Request-Id": request_id},
    )
    assert response.status_code == 201, response.text
    return response.json()


# -- through the running stack ---------------------------------------------


async def test_book_request_id_reaches_every_service(http: httpx.AsyncClient, traced_stack: Stack) -> None:
    event = await create_event(http, 10, "trace-create-1")

    response = await http.post(
        "/api/v1/book",
        json={"user_id": 1, "event_id": event["id"], "quantity": 2},
        headers={"X-Request-Id": "trace-book-1"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "trace-book-1"
    reservation_id = response.json()["reservation_id"]

    await wait_for_line(traced_stack, "rest", "trace-book-1", "POST /api/v1/book 200")
    await wait_for_line(traced_stack, "booking", "trace-book-1", "Book OK")
    await wait_for_line(traced_stack, "inventory", "trace-book-1", f"reserve {reservation_id}")
    await wait_for_line(traced_stack, "inventory", "trace-book-1", f"confirmed reservation {reservation_id}")


async def test_lines_about_booking_carry_its_id(http: httpx.AsyncClient, traced_stack: Stack) -> None:
    event = await create_event(http, 10, "trace-create-2")
    book = await http.post(
        "/api/v1/book",
        json={"user_id": 2, "event_id": event["id"], "quantity": 1},
        headers={"X-Request-Id": "trace-book-2"},
    )
    booking = book.json()
    cancel = await http.delete(f"/api/v1/bookings/{booking['id']}", headers={"X-Request-Id": "trace-cancel-2"})
    assert cancel.status_code == 200, cancel.text
    assert cancel.headers["x-request-id"] == "trace-cancel-2"

    await wait_for_line(traced_stack, "booking", "trace-cancel-2", f"cancelled booking {booking['id']}")
    await wait_for_line(traced_stack, "inventory", "trace-cancel-2", f"released reservation {booking['reservation_id']}")
    for service in SERVICES:
        for line in lines_mentioning(traced_stack, service, booking["reservation_id"]):
            assert line.get("request_id") in {"trace-book-2", "trace-cancel-2"}, (service, line)
    event_lines = lines_mentioning(traced_stack, "booking", f"event {event['id']} ")
    assert event_lines
    for line in event_lines:
        assert line.get("request_id") in {"trace-create-2", "trace-book-2", "trace-cancel-2"}, line


async def test_batched_items_keep_their_own_ids(http: httpx.AsyncClient, traced_stack: Stack) -> None:
    event = await create_event(http, 100, "trace-create-3")

    async def book(index: int) -> tuple[str, str]:
        request_id = f"trace-batch-{index}"
        response = await http.post(
            "/api/v1/book",
            json={"user_id": 100 + index, "event_id": event["id"], "quantity": 1},
            headers={"X-Request-Id": request_id},
        )
        assert response.status_code == 200, response.text
        return request_id, response.json()["reservation_id"]

    booked = await asyncio.gather(*(book(i) for i in range(40)))

    for request_id, reservation_id in booked:
        await wait_for_line(traced_stack, "inventory", request_id, f"reserve {reservation_id}")
    batch_calls = [
        line for line in log_lines(traced_stack, "inventory")
        if line["logger"] == "booking_monitor.grpc_access" and line["message"].startswith("ReserveBatch OK")
    ]
    assert batch_calls
    for line in batch_calls:
        assert not line["request_id"].startswith("trace-batch-"), line
    # The booking service logs each batch under the id it sent, with the ids of its items.
    batch_ids = {line["request_id"] for line in batch_calls}
    sent = [
        line for line in log_lines(traced_stack, "booking")
        if line["message"].startswith("reserve batch of") and line.get("request_id") in batch_ids
    ]
    assert sent
    assert any("trace-batch-" in line["message"] for line in sent)


async def test_request_id_made_when_absent(http: httpx.AsyncClient) -> None:
    first = await http.get("/healthz")
    second = await http.get("/healthz")

    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("header", ["has space", "x" * 129, "semi;colon", ""])
async def test_malformed_header_rejected(http: httpx.AsyncClient, traced_stack: Stack, header: str) -> None:
    event = await create_event(http, 5, f"trace-create-bad-{len(header)}")

    response = await http.post(
        "/api/v1/book",
        json={"user_id": 3, "event_id": event["id"], "quantity": 1},
        headers={"X-Request-Id": header},
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("X-Request-Id: must be 1 to 128 characters")
    after = await http.get(f"/api/v1/events/{event['id']}")
    assert after.json()["available_tickets"] == 5


async def test_grpc_metadata_id_logged(traced_stack: Stack) -> None:
    async with grpc.aio.insecure_channel(traced_stack.booking_target) as channel:
        stub = pb_grpc.BookingServiceStub(channel)
        event = await stub.CreateEvent(
            pb.CreateEventRequest(name="traced grpc", total_tickets=3), metadata=(("x-request-id", "trace-grpc-1"),)
        )

    await wait_for_line(traced_stack, "booking", "trace-grpc-1", f"created event {event.id}")
    await wait_for_line(traced_stack, "inventory", "trace-grpc-1", "InitStock OK")


async def test_grpc_malformed_metadata_rejected(traced_stack: Stack) -> None:
    async with grpc.aio.insecure_channel(traced_stack.booking_target) as channel:
        stub = pb_grpc.BookingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateEvent(
                pb.CreateEventRequest(name="traced bad", total_tickets=3), metadata=(("x-request-id", "a b"),)
            )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("x-request-id metadata: must be 1 to 128 characters")
    assert not lines_mentioning(traced_stack, "booking", "'traced bad'")


# -- units without I/O ------------------------------------------------------


def test_check_accepts_and_rejects() -> None:
    assert request_ids.check("X-Request-Id", "abc-DEF_1.2:3") == "abc-DEF_1.2:3"
    with pytest.raises(InvalidInput) as caught:
        request_ids.check("X-Request-Id", "é")
    assert caught.value.field == "X-Request-Id"


def test_outgoing_metadata_adds_current_id() -> None:
    assert request_ids.outgoing_metadata() is None
    with request_ids.bound("abc"):
        assert request_ids.outgoing_metadata() == (("x-request-id", "abc"),)
        assert request_ids.outgoing_metadata((("k", "v"),)) == (("k", "v"), ("x-request-id", "abc"))
    assert request_ids.current.get() == ""


def test_summary_shortens_long_batches() -> None:
    assert request_ids.summary(["a", "", "c"]) == "a, -, c"
    assert request_ids.summary([str(i) for i in range(12)], shown=3) == "0, 1, 2 and 9 more"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_line_carries_current_id(fmt: str) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("info", fmt)
        stream = io.StringIO()
        root.handlers[0].setStream(stream)
        logger = logging.getLogger("tests.request_ids")
        with request_ids.bound("trace-unit"):
            logger.info("inside")
        logger.info("outside")
        logger.info("item", extra={"request_id": "trace-item"})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)

    inside, outside, item = stream.getvalue().splitlines()
    if fmt == "text":
        assert "[trace-unit]: inside" in inside
        assert "[-]: outside" in outside
        assert "[trace-item]: item" in item
    else:
        assert json.loads(inside)["request_id"] == "trace-unit"
        assert "request_id" not in json.loads(outside)
        assert json.loads(item)["request_id"] == "trace-item"


# -- unexpected errors -----------------------------------------------------


class _RecordHandler(logging.Handler):
    """Collect records after the request id filter ran, as the handler of logs.configure receives them."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(request_ids.LogFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    handler = _RecordHandler()
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)


async def test_shim_unexpected_error_keeps_id(records: list[logging.LogRecord]) -> None:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Route

    from rest_shim.request_id import RequestIdMiddleware

    async def broken(request):
        raise RuntimeError("boom")

    app = Starlette(routes=[Route("/broken", broken)], middleware=[Middleware(RequestIdMiddleware)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shim") as client:
        response = await client.get("/broken", headers={"X-Request-Id": "trace-boom"})

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-boom"
    assert response.json()["error"] == "internal error; request id trace-boom"
    failures = [r for r in records if r.levelno == logging.ERROR]
    assert [r.request_id for r in failures] == ["trace-boom"]
    assert failures[0].exc_info is not None


async def test_grpc_failed_call_logged_with_id(records: list[logging.LogRecord]) -> None:
    from common.metrics import MetricsInterceptor

    async def broken(request: bytes, context) -> bytes:
        raise RuntimeError("boom")

    async def slow(request: bytes, context) -> bytes:
        await asyncio.sleep(5)
        return b""

    handlers = grpc.method_handlers_generic_handler("test.Broken", {
        "Fail": grpc.unary_unary_rpc_method_handler(broken),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
    })
    server = grpc.aio.server(interceptors=[MetricsInterceptor(), request_ids.RequestIdInterceptor()])
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await channel.unary_unary("/test.Broken/Fail")(b"", metadata=(("x-request-id", "trace-fail"),))
            with pytest.raises(grpc.aio.AioRpcError) as late:
                await channel.unary_unary("/test.Broken/Slow")(b"", timeout=0.2, metadata=(("x-request-id", "trace-slow"),))
            await asyncio.sleep(0.5)
    finally:
        await server.stop(0)

    assert failed.value.code() == grpc.StatusCode.UNKNOWN
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    access = {r.request_id: r.getMessage() for r in records if r.name == "booking_monitor.grpc_access"}
    assert access["trace-fail"].startswith("Fail UNKNOWN in ")
    assert access["trace-slow"].startswith("Slow DEADLINE_EXCEEDED in ")
    # grpcio logs the handler's exception itself, after the handler returned.
    errors = [r for r in records if r.levelno >= logging.ERROR and "boom" in r.getMessage() + str(r.exc_info)]
    assert errors
    assert {r.request_id for r in errors} == {"trace-fail"}
