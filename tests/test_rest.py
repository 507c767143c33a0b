"""The REST shim's routes and status codes, through the whole stack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from devstack.stack import Stack
from tests.helpers import assert_consistent, event_state


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.rest_url, timeout=10) as client:
        yield client


async def create_event(http: httpx.AsyncClient, name: str, total: int) -> dict:
    response = await http.post("/api/v1/events", json={"name": name, "total_tickets": total})
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_event_returns_201(http: httpx.AsyncClient, event_name: str) -> None:
    response = await http.post("/api/v1/events", json={"name": event_name, "total_tickets": 50})

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["name"] == event_name
    assert body["total_tickets"] == 50
    assert body["available_tickets"] == 50
    assert body["created_at"].endswith("Z")


async def test_get_event_shows_available(http: httpx.AsyncClient, event_name: str) -> None:
    event = await create_event(http, event_name, 10)
    await http.post("/api/v1/book", json={"user_id": 1, "event_id": event["id"], "quantity": 3})

    response = await http.get(f"/api/v1/events/{event['id']}")

    assert response.status_code == 200
    assert response.json()["available_tickets"] == 7


async def test_get_unknown_event_404(http: httpx.AsyncClient) -> None:
    response = await http.get(f"/api/v1/events/{2**62}")
    assert response.status_code == 404
    assert response.json() == {"error": f"event {2**62} not found"}


async def test_book_200_then_409(http: httpx.AsyncClient, db, cache, event_name: str) -> None:
    event = await create_event(http, event_name, 5)

    ok = await http.post("/api/v1/book", json={"user_id": 12, "event_id": event["id"], "quantity": 5})
    sold_out = await http.post("/api/v1/book", json={"user_id": 13, "event_id": event["id"], "quantity": 1})

    assert ok.status_code == 200
    booking = ok.json()
    assert (booking["user_id"], booking["event_id"], booking["quantity"]) == (12, event["id"], 5)
    assert booking["status"] == "confirmed"
    assert booking["cancelled_at"] is None
    assert sold_out.status_code == 409
    assert sold_out.json() == {"error": "sold out"}
    assert_consistent(event_state(db, cache, event["id"]))


async def test_book_unknown_event_404(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v1/book", json={"user_id": 1, "event_id": 2**62, "quantity": 1})
    assert response.status_code == 404


async def test_get_booking_and_cancel(http: httpx.AsyncClient, db, cache, event_name: str) -> None:
    event = await create_event(http, event_name, 5)
    booking = (await http.post("/api/v1/book", json={"user_id": 3, "event_id": event["id"], "quantity": 2})).json()

    fetched = await http.get(f"/api/v1/bookings/{booking['id']}")
    cancelled = await http.post(f"/api/v1/bookings/{booking['id']}/cancel")
    cancelled_again = await http.delete(f"/api/v1/bookings/{booking['id']}")

    assert fetched.status_code == 200
    assert fetched.json() == booking
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelled_at"] is not None
    assert cancelled_again.status_code == 200
    assert cancelled_again.json() == cancelled.json()
    state = event_state(db, cache, event["id"])
    assert state.redis_available == 5
    assert_consistent(state)


async def test_unknown_booking_404(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"/api/v1/bookings/{2**62}")).status_code == 404
    assert (await http.post(f"/api/v1/bookings/{2**62}/cancel")).status_code == 404


async def test_history_has_data_and_meta(http: httpx.AsyncClient, event_name: str) -> None:
    event = await create_event(http, event_name, 20)
    ids = []
    for user in range(3):
        reply = await http.post("/api/v1/book", json={"user_id": 900 + user, "event_id": event["id"], "quantity": 1})
        ids.append(reply.json()["id"])
    await http.post(f"/api/v1/bookings/{ids[0]}/cancel")

    page = await http.get("/api/v1/history", params={"page": 1, "size": 2, "event_id": event["id"]})
    cancelled = await http.get("/api/v1/history", params={"status": "cancelled", "event_id": event["id"]})
    default = await http.get("/api/v1/history")

    assert page.status_code == 200
    assert page.json()["meta"] == {"total": 3, "page": 1, "size": 2}
    assert [b["id"] for b in page.json()["data"]] == [ids[2], ids[1]]
    assert [b["id"] for b in cancelled.json()["data"]] == [ids[0]]
    assert default.json()["meta"]["page"] == 1
    assert default.json()["meta"]["size"] == 20


BAD_BOOK_BODIES = [
    (b'{"user_id": 1, "event_id": 1}', "quantity: is required"),
    (b'{"user_id": true, "event_id": 1, "quantity": 1}', "user_id: must be an integer"),
    (b'{"user_id": 1.5, "event_id": 1, "quantity": 1}', "user_id: must be an integer"),
    (b'{"user_id": "1", "event_id": 1, "quantity": 1}', "user_id: must be an integer"),
    (b'{"user_id": null, "event_id": 1, "quantity": 1}', "user_id: is required"),
    (b'{"user_id": 0, "event_id": 1, "quantity": 1}', "user_id: must be a positive"),
    (b'{"user_id": 1, "event_id": 1, "quantity": 11}', "quantity: must be from 1 to 10"),
    (b'{"user_id": 1, "event_id": 1, "quantity": 1, "extra": 1}', "extra: is not a known field"),
    (b'[1, 2]', "body: must be a JSON object"),
    (b'not json', "body: must be valid JSON"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BOOK_BODIES)
async def test_book_bad_body_400(http: httpx.AsyncClient, db, body: bytes, message: str) -> None:
    before = db.execute("SELECT count(*) FROM bookings").fetchone()[0]

    response = await http.post("/api/v1/book", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert db.execute("SELECT count(*) FROM bookings").fetchone()[0] == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "", "total_tickets": 5}, "name:"),
        ({"name": "ok", "total_tickets": 0}, "total_tickets:"),
        ({"name": "ok"}, "total_tickets: is required"),
        ({"name": 5, "total_tickets": 5}, "name: must be a string"),
    ],
)
async def test_create_event_bad_body_400(http: httpx.AsyncClient, db, body: dict, message: str) -> None:
    before = db.execute("SELECT count(*) FROM events").fetchone()[0]

    response = await http.post("/api/v1/events", json=body)

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == before


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/events/abc", "event_id:"),
        ("/api/v1/events/0", "event_id:"),
        ("/api/v1/bookings/-1", "booking_id:"),
        ("/api/v1/history?page=x", "page:"),
        ("/api/v1/history?size=1000", "size:"),
        ("/api/v1/history?status=paid", "status:"),
    ],
)
async def test_bad_path_or_query_400(http: httpx.AsyncClient, path: str, message: str) -> None:
    response = await http.get(path)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


async def test_health_routes(http: httpx.AsyncClient) -> None:
    live = await http.get("/healthz")
    ready = await http.get("/readyz")

    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_metrics_count_requests(http: httpx.AsyncClient, event_name: str) -> None:
    event = await create_event(http, event_name, 1)
    await http.post("/api/v1/book", json={"user_id": 1, "event_id": event["id"], "quantity": 1})
    await http.post("/api/v1/book", json={"user_id": 1, "event_id": event["id"], "quantity": 1})

    response = await http.get("/metrics")

    assert response.status_code == 200
    text = response.text
    assert 'rest_requests_total{route="book",status="200"}' in text
    assert 'rest_requests_total{route="book",status="409"}' in text


async def test_concurrent_rest_bookings_never_oversell(http: httpx.AsyncClient, db, cache, event_name: str) -> None:
    event = await create_event(http, event_name, 60)

    responses = await asyncio.gather(*(
        http.post("/api/v1/book", json={"user_id": 3000 + i, "event_id": event["id"], "quantity": 1})
        for i in range(200)
    ))

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 60
    assert statuses.count(409) == 140
    assert_consistent(event_state(db, cache, event["id"]))


async def test_sold_out_memory_sees_returned_stock(http: httpx.AsyncClient, stack: Stack, db, cache, event_name: str) -> None:
    import uuid

    from clients import InventoryClient

    event = await create_event(http, event_name, 2)
    reservation = str(uuid.uuid4())
    async with InventoryClient(stack.inventory_target) as inventory:
        await inventory.reserve(event["id"], reservation, 2)
        body = {"user_id": 1, "event_id": event["id"], "quantity": 1}
        sold_out = await http.post("/api/v1/book", json=body)
        remembered = await http.post("/api/v1/book", json=body)
        # Stock returned behind the shim's back is seen once the memories
        # of the shim and the booking service (100 ms each) expire.
        await inventory.release(event["id"], reservation)
    await asyncio.sleep(0.3)
    again = await http.post("/api/v1/book", json=body)

    assert sold_out.status_code == 409
    assert remembered.status_code == 409
    assert again.status_code == 200
    assert_consistent(event_state(db, cache, event["id"]))


async def test_cancel_through_shim_clears_memory(http: httpx.AsyncClient, db, cache, event_name: str) -> None:
    event = await create_event(http, event_name, 1)
    booked = (await http.post("/api/v1/book", json={"user_id": 1, "event_id": event["id"], "quantity": 1})).json()
    sold_out = await http.post("/api/v1/book", json={"user_id": 2, "event_id": event["id"], "quantity": 1})

    await http.post(f"/api/v1/bookings/{booked['id']}/cancel")
    again = await http.post("/api/v1/book", json={"user_id": 2, "event_id": event["id"], "quantity": 1})

    assert sold_out.status_code == 409
    assert again.status_code == 200
    assert_consistent(event_state(db, cache, event["id"]))
