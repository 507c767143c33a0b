"""Every input rule, on the REST shim and on both gRPC services.

Each rejected request must get its status and a message naming the field,
and leave PostgreSQL and Redis as they were. The REST table also runs
against an in-process shim whose booking client records calls, which shows
that a rejected request never reaches gRPC.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import grpc
import httpx
import psycopg
import pytest
import redis

from booking_monitor_pb.booking.v1 import booking_pb2 as bpb
from booking_monitor_pb.booking.v1 import booking_pb2_grpc as bpb_grpc
from booking_monitor_pb.inventory.v1 import inventory_pb2 as ipb
from booking_monitor_pb.inventory.v1 import inventory_pb2_grpc as ipb_grpc
from devstack.stack import Stack
from inventory_service import keys
from rest_shim.app import create_app
from rest_shim.config import ShimConfig

JSON = {"content-type": "application/json"}
EVENTS = "/api/v1/events"
BOOK = "/api/v1/book"
HISTORY = "/api/v1/history"
# Replaced by the id of an event created for each test, so that a request
# that slipped through would change that event's counters.
EVENT = "EVENT"


@dataclass(frozen=True)
class StoreState:
    events: int
    bookings: int
    redis_keys: int
    stock: dict[str, str]
    holds: int


def store_state(db: psycopg.Connection, cache: redis.Redis, event_id: int) -> StoreState:
    return StoreState(
        events=db.execute("SELECT count(*) FROM events").fetchone()[0],
        bookings=db.execute("SELECT count(*) FROM bookings").fetchone()[0],
        redis_keys=cache.dbsize(),
        stock=cache.hgetall(keys.stock_key(event_id)),
        holds=cache.hlen(keys.holds_key(event_id)),
    )


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.rest_url, timeout=10) as client:
        yield client


@pytest.fixture
def event_id(http: httpx.Client, event_name: str) -> int:
    response = http.post(EVENTS, json={"name": event_name, "total_tickets": 20})
    assert response.status_code == 201, response.text
    return response.json()["id"]


# -- REST ---------------------------------------------------------------------


@dataclass(frozen=True)
class RestCase:
    id: str
    method: str
    path: str
    status: int
    message: str
    body: str | bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    # Send the body with chunked transfer encoding, without Content-Length.
    chunked: bool = False

    def prepared_path(self, event_id: int) -> str:
        return self.path.replace(EVENT, str(event_id))

    def prepared_body(self, event_id: int) -> bytes | None:
        if self.body is None:
            return None
        raw = self.body.encode() if isinstance(self.body, str) else self.body
        return raw.replace(EVENT.encode(), str(event_id).encode())


def book(body: str | bytes, status: int = 400, message: str = "", *, id: str, **extra) -> RestCase:
    return RestCase(id, "POST", BOOK, status, message, body, **extra)


def create(body: str | bytes, message: str, *, id: str, status: int = 400, **extra) -> RestCase:
    return RestCase(id, "POST", EVENTS, status, message, body, **extra)


def get(path: str, message: str, *, id: str, status: int = 400) -> RestCase:
    return RestCase(id, "GET", path, status, message, headers={})


def book_json(user_id: str = "1", event_id: str = EVENT, quantity: str = "1") -> str:
    return f'{{"user_id": {user_id}, "event_id": {event_id}, "quantity": {quantity}}}'


def create_json(name: str = '"rule test"', total: str = "5") -> str:
    return f'{{"name": {name}, "total_tickets": {total}}}'


TOO_LARGE = '{"name": "' + "x" * 17_000 + '", "total_tickets": 5}'

REST_CASES = [
    # JSON syntax and shape
    book('{"user_id": 1, "user_id": 2, "event_id": EVENT, "quantity": 1}', message="user_id: must appear only once", id="duplicate key"),
    book('{"user_id": 1, "user\\u005fid": 2, "event_id": EVENT, "quantity": 1}', message="user_id: must appear only once", id="duplicate escaped key"),
    book('{"user_id": {"a": 1, "a": 2}, "event_id": EVENT, "quantity": 1}', message="a: must appear only once", id="duplicate nested key"),
    book(book_json(user_id="[[[[[[[[1]]]]]]]]"), message="body: must be nested at most 8 levels deep", id="nested 9 levels"),
    book("[" * 2000 + "]" * 2000, message="body: must be nested at most 8 levels deep", id="nested 2000 levels"),
    book("user_id=1&event_id=1&quantity=1", message="body: must be valid JSON", id="form body"),
    book("", message="body: must be valid JSON", id="empty body"),
    book(book_json() + " {}", message="body: must be valid JSON", id="trailing data"),
    book(book_json(user_id="NaN"), message="body: must be valid JSON", id="NaN"),
    book(b"\xef\xbb\xbf" + book_json().encode(), message="body: must be valid JSON", id="byte order mark"),
    book("[1, 2]", message="body: must be a JSON object, got array", id="array body"),
    book('"text"', message="body: must be a JSON object, got string", id="string body"),
    create(b'{"name": "caf\xe9", "total_tickets": 5}', "body: must be UTF-8", id="invalid UTF-8"),
    create(create_json(name='"\\ud800"'), "body: must be valid JSON", id="lone surrogate"),
    # Content-Type
    book(book_json(), 415, "Content-Type: must be application/json, got 'text/plain'", headers={"content-type": "text/plain"}, id="text/plain"),
    book(book_json(), 415, "Content-Type: must be application/json", headers={"content-type": "application/x-www-form-urlencoded"}, id="form type"),
    book(book_json(), 415, "Content-Type: must be application/json", headers={"content-type": "application/problem+json"}, id="json suffix type"),
    book(book_json(), 415, "Content-Type: must be application/json, got none", headers={}, id="no Content-Type"),
    book(book_json(), 415, "Content-Type: charset must be utf-8", headers={"content-type": "application/json; charset=iso-8859-1"}, id="latin-1 charset"),
    # Size
    create(TOO_LARGE, f"body: must be at most 16384 bytes, got {len(TOO_LARGE)}", status=413, id="declared too large"),
    create(TOO_LARGE, "body: must be at most 16384 bytes", status=413, chunked=True, id="chunked too large"),
    # Integers
    book(book_json(user_id="true"), message="user_id: must be an integer, got boolean", id="boolean id"),
    book(book_json(user_id="1.5"), message="user_id: must be an integer, got number", id="float id"),
    book(book_json(user_id="1.0"), message="user_id: must be an integer, got number", id="integral float id"),
    book(book_json(user_id='"1"'), message="user_id: must be an integer, got string", id="string id"),
    book(book_json(user_id="null"), message="user_id: is required", id="null id"),
    book('{"event_id": EVENT, "quantity": 1}', message="user_id: is required", id="missing id"),
    book(book_json(user_id="0"), message="user_id: must be a positive 64-bit integer", id="zero id"),
    book(book_json(user_id="-1"), message="user_id: must be a positive 64-bit integer", id="negative id"),
    book(book_json(user_id=str(2**63)), message="user_id: must be a positive 64-bit integer", id="id over int64"),
    book(book_json(user_id=str(2**64)), message="user_id: must be an integer, got number", id="id over uint64"),
    book(book_json(event_id="0"), message="event_id: must be a positive 64-bit integer", id="zero event id"),
    book(book_json(quantity="0"), message="quantity: must be from 1 to 10, got 0", id="quantity 0"),
    book(book_json(quantity="11"), message="quantity: must be from 1 to 10, got 11", id="quantity 11"),
    book(book_json(quantity="-1"), message="quantity: must be from 1 to 10", id="negative quantity"),
    book(book_json(quantity='"2"'), message="quantity: must be an integer, got string", id="string quantity"),
    book('{"user_id": 1, "event_id": EVENT, "quantity": 1, "price": 0}', message="price: is not a known field", id="unknown field"),
    book(book_json(), message="Idempotency-Key: must contain printable ASCII", headers={**JSON, "idempotency-key": "has space"}, id="key with space"),
    book(book_json(), message="Idempotency-Key: must be at most 128", headers={**JSON, "idempotency-key": "k" * 129}, id="key too long"),
    # Event fields
    create(create_json(name='""'), "name: must be 1 to 255 characters, got 0", id="empty name"),
    create(create_json(name='"' + "n" * 256 + '"'), "name: must be 1 to 255 characters, got 256", id="name 256 characters"),
    create(create_json(name='"a\\nb"'), "name: must not contain control characters", id="newline in name"),
    create(create_json(name='"a\\u0000b"'), "name: must not contain control characters", id="NUL in name"),
    create(create_json(name='"a\\u007f"'), "name: must not contain control characters", id="DEL in name"),
    create(create_json(name='"a\\u0085"'), "name: must not contain control characters", id="C1 control in name"),
    create(create_json(name="5"), "name: must be a string, got integer", id="number name"),
    create(create_json(name="null"), "name: is required", id="null name"),
    create(create_json(total="0"), "total_tickets: must be from 1 to 10000000, got 0", id="zero total"),
    create(create_json(total="10000001"), "total_tickets: must be from 1 to 10000000, got 10000001", id="total over maximum"),
    create(create_json(total="-5"), "total_tickets: must be from 1 to 10000000", id="negative total"),
    create(create_json(total='"5"'), "total_tickets: must be an integer, got string", id="string total"),
    create(create_json(total="true"), "total_tickets: must be an integer, got boolean", id="boolean total"),
    create(create_json(total="5.5"), "total_tickets: must be an integer, got number", id="float total"),
    create('{"name": "a", "total_tickets": 5, "price": 1}', "price: is not a known field", id="unknown event field"),
    create('{"name": "a", "name": "b", "total_tickets": 5}', "name: must appear only once", id="duplicate name"),
    # Query strings
    get(HISTORY + "?page=1&page=2", "page: must appear only once", id="repeated page"),
    get(HISTORY + "?page=x", "page: must be a decimal integer from 1 to 1000000, got 'x'", id="page not a number"),
    get(HISTORY + "?page=", "page: must be a decimal integer from 1 to 1000000, got ''", id="empty page"),
    get(HISTORY + "?page=-1", "page: must be a decimal integer", id="negative page"),
    get(HISTORY + "?page=%2B1", "page: must be a decimal integer", id="page with plus sign"),
    get(HISTORY + "?page=1e3", "page: must be a decimal integer", id="page in exponent form"),
    get(HISTORY + "?page=%EF%BC%91", "page: must be a decimal integer", id="fullwidth digit page"),
    get(HISTORY + "?page=0", "page: must be from 1 to 1000000, got 0", id="page 0"),
    get(HISTORY + "?page=1000001", "page: must be from 1 to 1000000, got 1000001", id="page over maximum"),
    get(HISTORY + "?size=0", "size: must be from 1 to 100, got 0", id="size 0"),
    get(HISTORY + "?size=101", "size: must be from 1 to 100, got 101", id="size 101"),
    get(HISTORY + "?user_id=0", "user_id: must be from 1 to 9223372036854775807, got 0", id="filter id 0"),
    get(HISTORY + f"?event_id={2**63}", "event_id: must be from 1 to 9223372036854775807", id="filter id over int64"),
    get(HISTORY + "?event_id=" + "9" * 20, "event_id: must be a decimal integer", id="filter id of 20 digits"),
    get(HISTORY + "?status=paid", "status: must be confirmed or cancelled, got 'paid'", id="unknown status"),
    get(HISTORY + "?status=", "status: must be confirmed or cancelled, got ''", id="empty status"),
    get(HISTORY + "?sort=id", "sort: is not a known query parameter (allowed: event_id, page, size, status, user_id)", id="unknown parameter"),
    get(HISTORY + "?page", "query: must be name=value pairs", id="parameter without value"),
    get(HISTORY + "?page=%FF", "query: must be name=value pairs", id="invalid UTF-8 in query"),
    get(HISTORY + "?" + "&".join(f"p{i}=1" for i in range(20)), "query: must be name=value pairs", id="too many parameters"),
    RestCase("query on book", "POST", BOOK + "?debug=1", 400, "debug: is not a known query parameter (this route takes none)", book_json()),
    get(f"/api/v1/events/{EVENT}?fields=all", "fields: is not a known query parameter", id="query on get event"),
    # Path ids
    get("/api/v1/events/abc", "event_id: must be a positive 64-bit integer, got 'abc'", id="event id not a number"),
    get("/api/v1/events/0", "event_id: must be a positive 64-bit integer", id="event id 0"),
    get("/api/v1/events/-1", "event_id: must be a positive 64-bit integer", id="negative event id"),
    get("/api/v1/events/1.5", "event_id: must be a positive 64-bit integer", id="fractional event id"),
    get(f"/api/v1/events/{2**63}", "event_id: must be a positive 64-bit integer", id="event id over int64"),
    get("/api/v1/events/%EF%BC%91", "event_id: must be a positive 64-bit integer", id="fullwidth event id"),
    get("/api/v1/bookings/abc", "booking_id: must be a positive 64-bit integer", id="booking id not a number"),
    RestCase("cancel id 0", "POST", "/api/v1/bookings/0/cancel", 400, "booking_id: must be a positive 64-bit integer", headers={}),
    RestCase("delete negative id", "DELETE", "/api/v1/bookings/-1", 400, "booking_id: must be a positive 64-bit integer", headers={}),
    # Routing
    get("/api/v1/nothing", "Not Found", status=404, id="unknown path"),
    RestCase("wrong method", "PUT", BOOK, 405, "Method Not Allowed", book_json()),
]


def chunks(data: bytes, size: int = 4096) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def send(client: httpx.Client, case: RestCase, event_id: int) -> httpx.Response:
    content = case.prepared_body(event_id)
    if case.chunked and content is not None:
        return client.request(case.method, case.prepared_path(event_id), content=iter(chunks(content)), headers=case.headers)
    return client.request(case.method, case.prepared_path(event_id), content=content, headers=case.headers)


async def send_async(client: httpx.AsyncClient, case: RestCase, event_id: int) -> httpx.Response:
    content = case.prepared_body(event_id)
    if case.chunked and content is not None:
        async def stream(parts: list[bytes] = chunks(content)) -> AsyncIterator[bytes]:
            for part in parts:
                yield part

        return await client.request(case.method, case.prepared_path(event_id), content=stream(), headers=case.headers)
    return await client.request(case.method, case.prepared_path(event_id), content=content, headers=case.headers)


def check_rejection(response: httpx.Response, case: RestCase) -> None:
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"].startswith(case.message), response.json()


@pytest.mark.parametrize("case", REST_CASES, ids=[case.id for case in REST_CASES])
def test_rest_rule_rejected(http: httpx.Client, db, cache, event_id: int, case: RestCase) -> None:
    before = store_state(db, cache, event_id)

    response = send(http, case, event_id)

    check_rejection(response, case)
    assert store_state(db, cache, event_id) == before


class RecordingBookingClient:
    """Stands in for the booking client and records every call that would have gone to gRPC."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def create_event(self, *args, **kwargs) -> bpb.Event:
        self.calls.append("CreateEvent")
        return bpb.Event(id=1, name="x", total_tickets=1)

    async def get_event(self, *args, **kwargs) -> bpb.Event:
        self.calls.append("GetEvent")
        return bpb.Event(id=1, name="x", total_tickets=1)

    async def book(self, *args, **kwargs) -> bpb.BookResponse:
        self.calls.append("Book")
        return bpb.BookResponse(outcome=bpb.BOOK_OUTCOME_SOLD_OUT)

    async def get_booking(self, *args, **kwargs) -> bpb.Booking:
        self.calls.append("GetBooking")
        return bpb.Booking(id=1)

    async def cancel_booking(self, *args, **kwargs) -> bpb.Booking:
        self.calls.append("CancelBooking")
        return bpb.Booking(id=1)

    async def list_bookings(self, *args, **kwargs) -> bpb.ListBookingsResponse:
        self.calls.append("ListBookings")
        return bpb.ListBookingsResponse()

    async def close(self) -> None:
        pass


@pytest.fixture
async def recorded_shim() -> AsyncIterator[tuple[httpx.AsyncClient, RecordingBookingClient]]:
    """An in-process shim whose booking client records calls instead of making them."""
    # Nothing listens on port 1, and the recording client replaces the real one.
    config = ShimConfig(
        host="127.0.0.1", port=8080, workers=1, server="uvicorn", backlog=128,
        booking_target="127.0.0.1:1", booking_timeout_ms=1000, log_level="info", log_format="text",
    )
    app = create_app(config)
    recorder = RecordingBookingClient()
    async with app.router.lifespan_context(app):
        real_client = app.state.routes.booking
        app.state.routes.booking = recorder
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shim") as client:
            yield client, recorder
        app.state.routes.booking = real_client


@pytest.mark.parametrize("case", REST_CASES, ids=[case.id for case in REST_CASES])
async def test_rest_rule_checked_before_grpc(
    recorded_shim: tuple[httpx.AsyncClient, RecordingBookingClient], case: RestCase
) -> None:
    client, recorder = recorded_shim

    response = await send_async(client, case, event_id=1)

    check_rejection(response, case)
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "call"),
    [
        ("POST", BOOK, book_json(event_id="1", quantity="10"), JSON, "Book"),
        ("POST", BOOK, book_json(event_id="1"), {"content-type": "application/json; charset=UTF-8"}, "Book"),
        ("POST", BOOK, book_json(user_id=str(2**63 - 1), event_id="1"), {"content-type": "Application/JSON"}, "Book"),
        ("POST", EVENTS, create_json(name='"' + "n" * 255 + '"', total="10000000"), JSON, "CreateEvent"),
        ("POST", EVENTS, create_json(name='"caf\\u00e9 \\ud83c\\udfab"', total="1"), JSON, "CreateEvent"),
        ("GET", HISTORY + "?page=1000000&size=100&status=cancelled&user_id=1&event_id=1", None, {}, "ListBookings"),
        ("GET", f"/api/v1/events/{2**63 - 1}", None, {}, "GetEvent"),
    ],
    ids=["quantity 10", "charset utf-8", "largest id", "largest event", "non-ASCII name", "history at limits", "largest path id"],
)
async def test_rest_limits_accepted(
    recorded_shim: tuple[httpx.AsyncClient, RecordingBookingClient], method: str, path: str, body: str | None,
    headers: dict[str, str], call: str,
) -> None:
    client, recorder = recorded_shim

    response = await client.request(method, path, content=body, headers=headers)

    assert response.status_code in (200, 201, 409), response.text
    assert recorder.calls == [call]


def test_rest_largest_name_creates_event(http: httpx.Client, db) -> None:
    name = "n" * 254 + "\u00e9"

    response = http.post(EVENTS, json={"name": name, "total_tickets": 1})

    assert response.status_code == 201, response.text
    stored = db.execute("SELECT name FROM events WHERE id = %s", (response.json()["id"],)).fetchone()[0]
    assert stored == name


# -- gRPC ---------------------------------------------------------------------


@pytest.fixture
async def booking_stub(stack: Stack) -> AsyncIterator[bpb_grpc.BookingServiceStub]:
    async with grpc.aio.insecure_channel(stack.booking_target) as channel:
        yield bpb_grpc.BookingServiceStub(channel)


@pytest.fixture
async def inventory_stub(stack: Stack) -> AsyncIterator[ipb_grpc.InventoryServiceStub]:
    async with grpc.aio.insecure_channel(stack.inventory_target) as channel:
        yield ipb_grpc.InventoryServiceStub(channel)


@dataclass(frozen=True)
class GrpcCase:
    id: str
    service: str
    method: str
    # Builds the request from the id of the test's event.
    request: object
    field: str


def booking_case(id: str, method: str, request, field: str) -> GrpcCase:
    return GrpcCase(id, "booking", method, request, field)


def inventory_case(id: str, method: str, request, field: str) -> GrpcCase:
    return GrpcCase(id, "inventory", method, request, field)


def new_id() -> str:
    return str(uuid.uuid4())


GRPC_CASES = [
    booking_case("empty name", "CreateEvent", lambda e: bpb.CreateEventRequest(name="", total_tickets=5), "name"),
    booking_case("name 256 characters", "CreateEvent", lambda e: bpb.CreateEventRequest(name="n" * 256, total_tickets=5), "name"),
    booking_case("NUL in name", "CreateEvent", lambda e: bpb.CreateEventRequest(name="a\x00b", total_tickets=5), "name"),
    booking_case("C1 control in name", "CreateEvent", lambda e: bpb.CreateEventRequest(name="a\x85", total_tickets=5), "name"),
    booking_case("zero total", "CreateEvent", lambda e: bpb.CreateEventRequest(name="a", total_tickets=0), "total_tickets"),
    booking_case("negative total", "CreateEvent", lambda e: bpb.CreateEventRequest(name="a", total_tickets=-1), "total_tickets"),
    booking_case("total over maximum", "CreateEvent", lambda e: bpb.CreateEventRequest(name="a", total_tickets=10_000_001), "total_tickets"),
    booking_case("idempotency key with space", "CreateEvent", lambda e: bpb.CreateEventRequest(name="a", total_tickets=5, idempotency_key="a b"), "idempotency_key"),
    booking_case("idempotency key too long", "CreateEvent", lambda e: bpb.CreateEventRequest(name="a", total_tickets=5, idempotency_key="k" * 129), "idempotency_key"),
    booking_case("event id 0", "GetEvent", lambda e: bpb.GetEventRequest(event_id=0), "event_id"),
    booking_case("negative event id", "GetEvent", lambda e: bpb.GetEventRequest(event_id=-5), "event_id"),
    booking_case("user id 0", "Book", lambda e: bpb.BookRequest(user_id=0, event_id=e, quantity=1), "user_id"),
    booking_case("negative user id", "Book", lambda e: bpb.BookRequest(user_id=-1, event_id=e, quantity=1), "user_id"),
    booking_case("book event id 0", "Book", lambda e: bpb.BookRequest(user_id=1, event_id=0, quantity=1), "event_id"),
    booking_case("quantity 0", "Book", lambda e: bpb.BookRequest(user_id=1, event_id=e, quantity=0), "quantity"),
    booking_case("quantity 11", "Book", lambda e: bpb.BookRequest(user_id=1, event_id=e, quantity=11), "quantity"),
    booking_case("negative quantity", "Book", lambda e: bpb.BookRequest(user_id=1, event_id=e, quantity=-1), "quantity"),
    booking_case("book idempotency key", "Book", lambda e: bpb.BookRequest(user_id=1, event_id=e, quantity=1, idempotency_key="\u00e9"), "idempotency_key"),
    booking_case("cancel id 0", "CancelBooking", lambda e: bpb.CancelBookingRequest(booking_id=0), "booking_id"),
    booking_case("negative cancel id", "CancelBooking", lambda e: bpb.CancelBookingRequest(booking_id=-1), "booking_id"),
    booking_case("booking id 0", "GetBooking", lambda e: bpb.GetBookingRequest(booking_id=0), "booking_id"),
    booking_case("negative page", "ListBookings", lambda e: bpb.ListBookingsRequest(page=-1), "page"),
    booking_case("page over maximum", "ListBookings", lambda e: bpb.ListBookingsRequest(page=1_000_001), "page"),
    booking_case("negative size", "ListBookings", lambda e: bpb.ListBookingsRequest(size=-1), "size"),
    booking_case("size 101", "ListBookings", lambda e: bpb.ListBookingsRequest(size=101), "size"),
    booking_case("unknown status", "ListBookings", lambda e: bpb.ListBookingsRequest(status=99), "status"),
    booking_case("negative user filter", "ListBookings", lambda e: bpb.ListBookingsRequest(user_id=-1), "user_id"),
    booking_case("negative event filter", "ListBookings", lambda e: bpb.ListBookingsRequest(event_id=-1), "event_id"),
    inventory_case("init event id 0", "InitStock", lambda e: ipb.InitStockRequest(event_id=0, total=5, available=5), "event_id"),
    inventory_case("init total 0", "InitStock", lambda e: ipb.InitStockRequest(event_id=e, total=0, replace=True), "total"),
    inventory_case("init total over maximum", "InitStock", lambda e: ipb.InitStockRequest(event_id=e, total=10_000_001, replace=True), "total"),
    inventory_case("negative available", "InitStock", lambda e: ipb.InitStockRequest(event_id=e, total=5, available=-1, replace=True), "available"),
    inventory_case("available over total", "InitStock", lambda e: ipb.InitStockRequest(event_id=e, total=5, available=6, replace=True), "available"),
    inventory_case("stock event id 0", "GetStock", lambda e: ipb.GetStockRequest(event_id=0), "event_id"),
    inventory_case("reserve event id 0", "Reserve", lambda e: ipb.ReserveRequest(event_id=0, reservation_id=new_id(), quantity=1), "event_id"),
    inventory_case("reservation id not a UUID", "Reserve", lambda e: ipb.ReserveRequest(event_id=e, reservation_id="nope", quantity=1), "reservation_id"),
    inventory_case("reserve quantity 0", "Reserve", lambda e: ipb.ReserveRequest(event_id=e, reservation_id=new_id(), quantity=0), "quantity"),
    inventory_case("reserve quantity 11", "Reserve", lambda e: ipb.ReserveRequest(event_id=e, reservation_id=new_id(), quantity=11), "quantity"),
    inventory_case("reserve negative user", "Reserve", lambda e: ipb.ReserveRequest(event_id=e, reservation_id=new_id(), quantity=1, user_id=-1), "user_id"),
    inventory_case("hold over a day", "Reserve", lambda e: ipb.ReserveRequest(event_id=e, reservation_id=new_id(), quantity=1, hold_ms=2**32 - 1), "hold_ms"),
    inventory_case("release event id 0", "Release", lambda e: ipb.ReleaseRequest(event_id=0, reservation_id=new_id()), "event_id"),
    inventory_case("release id not a UUID", "Release", lambda e: ipb.ReleaseRequest(event_id=e, reservation_id="x"), "reservation_id"),
    inventory_case("release quantity 11", "Release", lambda e: ipb.ReleaseRequest(event_id=e, reservation_id=new_id(), quantity_if_unknown=11), "quantity"),
    inventory_case("release negative quantity", "Release", lambda e: ipb.ReleaseRequest(event_id=e, reservation_id=new_id(), quantity_if_unknown=-1), "quantity"),
    inventory_case("confirm negative event id", "Confirm", lambda e: ipb.ConfirmRequest(event_id=-1, reservation_id=new_id()), "event_id"),
    inventory_case("confirm empty id", "Confirm", lambda e: ipb.ConfirmRequest(event_id=e, reservation_id=""), "reservation_id"),
    inventory_case("batch item quantity 0", "ReserveBatch", lambda e: ipb.ReserveBatchRequest(items=[
        ipb.ReserveRequest(event_id=e, reservation_id=new_id(), quantity=1),
        ipb.ReserveRequest(event_id=e, reservation_id=new_id(), quantity=0),
    ]), "items[1].quantity"),
    inventory_case("confirm batch bad id", "ConfirmBatch", lambda e: ipb.ConfirmBatchRequest(items=[
        ipb.ConfirmRequest(event_id=e, reservation_id="bad"),
    ]), "items[0].reservation_id"),
    inventory_case("list event id 0", "ListExpiredHolds", lambda e: ipb.ListExpiredHoldsRequest(event_id=0), "event_id"),
    inventory_case("list negative limit", "ListExpiredHolds", lambda e: ipb.ListExpiredHoldsRequest(event_id=e, limit=-1), "limit"),
    inventory_case("list limit 1001", "ListExpiredHolds", lambda e: ipb.ListExpiredHoldsRequest(event_id=e, limit=1001), "limit"),
    inventory_case("expire bad id", "ExpireHolds", lambda e: ipb.ExpireHoldsRequest(event_id=e, reservation_ids=[new_id(), "bad"]), "reservation_ids[1]"),
]


def stub_method(case: GrpcCase, booking_stub, inventory_stub):
    stub = booking_stub if case.service == "booking" else inventory_stub
    return getattr(stub, case.method)


@pytest.mark.parametrize("case", GRPC_CASES, ids=[f"{case.service} {case.id}" for case in GRPC_CASES])
async def test_grpc_rule_rejected(booking_stub, inventory_stub, db, cache, event_id: int, case: GrpcCase) -> None:
    before = store_state(db, cache, event_id)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub_method(case, booking_stub, inventory_stub)(case.request(event_id), timeout=5)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(f"{case.field}: "), caught.value.details()
    assert store_state(db, cache, event_id) == before


NOT_FOUND_CASES = [
    booking_case("unknown event", "GetEvent", lambda e: bpb.GetEventRequest(event_id=2**62), ""),
    booking_case("book unknown event", "Book", lambda e: bpb.BookRequest(user_id=1, event_id=2**62, quantity=1), ""),
    booking_case("cancel unknown booking", "CancelBooking", lambda e: bpb.CancelBookingRequest(booking_id=2**62), ""),
    booking_case("unknown booking", "GetBooking", lambda e: bpb.GetBookingRequest(booking_id=2**62), ""),
    inventory_case("stock of unknown event", "GetStock", lambda e: ipb.GetStockRequest(event_id=2**62), ""),
    inventory_case("release on unknown event", "Release", lambda e: ipb.ReleaseRequest(event_id=2**62, reservation_id=new_id()), ""),
]


@pytest.mark.parametrize("case", NOT_FOUND_CASES, ids=[f"{case.service} {case.id}" for case in NOT_FOUND_CASES])
async def test_grpc_unknown_id_not_found(booking_stub, inventory_stub, db, cache, event_id: int, case: GrpcCase) -> None:
    before = store_state(db, cache, event_id)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub_method(case, booking_stub, inventory_stub)(case.request(event_id), timeout=5)

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert str(2**62) in caught.value.details()
    assert store_state(db, cache, event_id) == before


OVERSIZED_CASES = [
    booking_case("oversized name", "CreateEvent", lambda e: bpb.CreateEventRequest(name="n" * 70_000, total_tickets=5), ""),
    inventory_case("oversized id list", "ExpireHolds", lambda e: ipb.ExpireHoldsRequest(
        event_id=e, reservation_ids=[new_id() for _ in range(2000)]), ""),
]


@pytest.mark.parametrize("case", OVERSIZED_CASES, ids=[f"{case.service} {case.id}" for case in OVERSIZED_CASES])
async def test_grpc_oversized_message_rejected(booking_stub, inventory_stub, db, cache, event_id: int, case: GrpcCase) -> None:
    before = store_state(db, cache, event_id)
    request = case.request(event_id)
    assert request.ByteSize() > 64 * 1024

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub_method(case, booking_stub, inventory_stub)(request, timeout=5)

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in caught.value.details()
    assert store_state(db, cache, event_id) == before


async def test_grpc_message_under_limit_accepted(inventory_stub, event_id: int) -> None:
    request = ipb.ExpireHoldsRequest(event_id=event_id, reservation_ids=[new_id() for _ in range(1000)])
    assert 32 * 1024 < request.ByteSize() < 64 * 1024

    reply = await inventory_stub.ExpireHolds(request, timeout=5)

    assert list(reply.released) == [False] * 1000
