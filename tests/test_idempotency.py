"""Idempotency keys on Book and CreateEvent, over gRPC and REST."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients import BookingClient
from devstack.stack import Stack
from tests.helpers import assert_consistent, event_state


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.rest_url, timeout=10) as client:
        yield client


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


async def test_book_retry_returns_same_booking(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    key = new_key()

    first = await booking.book(user_id=5, event_id=event.id, quantity=2, idempotency_key=key)
    second = await booking.book(user_id=5, event_id=event.id, quantity=2, idempotency_key=key)

    assert first.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert second.booking == first.booking
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == 2
    assert_consistent(state)


async def test_book_racing_retries_book_once(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    key = new_key()

    replies = await asyncio.gather(
        *(booking.book(user_id=6, event_id=event.id, quantity=3, idempotency_key=key) for _ in range(20))
    )

    assert all(r.outcome == pb.BOOK_OUTCOME_CONFIRMED for r in replies)
    assert len({r.booking.id for r in replies}) == 1
    rows = db.execute("SELECT count(*) FROM bookings WHERE event_id = %s", (event.id,)).fetchone()[0]
    assert rows == 1
    assert_consistent(event_state(db, cache, event.id))


async def test_book_key_other_body_rejected(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    key = new_key()
    await booking.book(user_id=5, event_id=event.id, quantity=2, idempotency_key=key)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.book(user_id=5, event_id=event.id, quantity=3, idempotency_key=key)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "idempotency_key" in caught.value.details()
    assert event_state(db, cache, event.id).confirmed_quantity == 2


async def test_book_sold_out_result_repeated(booking: BookingClient, event_name: str) -> None:
    event = await booking.create_event(event_name, 1)
    key = new_key()
    await booking.book(user_id=1, event_id=event.id, quantity=1)

    first = await booking.book(user_id=2, event_id=event.id, quantity=1, idempotency_key=key)
    second = await booking.book(user_id=2, event_id=event.id, quantity=1, idempotency_key=key)

    assert first.outcome == second.outcome == pb.BOOK_OUTCOME_SOLD_OUT


async def test_book_key_after_failed_attempt_books(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    key = new_key()
    # An earlier attempt that failed and was compensated: the key's hold is released.
    await booking.book(user_id=8, event_id=event.id, quantity=1, idempotency_key=key)
    reservation_id = db.execute(
        "SELECT reservation_id FROM idempotency_keys WHERE operation = 'book' AND key = %s", (key,)
    ).fetchone()[0]
    db.execute("UPDATE idempotency_keys SET outcome = NULL, booking_id = NULL WHERE key = %s", (key,))
    booking_id = db.execute("SELECT id FROM bookings WHERE reservation_id = %s", (reservation_id,)).fetchone()[0]
    await booking.cancel_booking(booking_id)
    db.execute("DELETE FROM bookings WHERE id = %s", (booking_id,))
    db.execute("DELETE FROM pending_releases WHERE reservation_id = %s", (reservation_id,))

    retry = await booking.book(user_id=8, event_id=event.id, quantity=1, idempotency_key=key)

    assert retry.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert retry.booking.reservation_id != str(reservation_id)
    assert_consistent(event_state(db, cache, event.id))


async def test_create_event_racing_retries_create_once(booking: BookingClient, db) -> None:
    key = new_key()
    name = f"idempotent event {key}"

    events = await asyncio.gather(*(booking.create_event(name, 7, idempotency_key=key) for _ in range(10)))

    assert len({e.id for e in events}) == 1
    assert db.execute("SELECT count(*) FROM events WHERE name = %s", (name,)).fetchone()[0] == 1


async def test_create_event_key_other_body_rejected(booking: BookingClient, db) -> None:
    key = new_key()
    await booking.create_event(f"first {key}", 7, idempotency_key=key)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.create_event(f"second {key}", 7, idempotency_key=key)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert db.execute("SELECT count(*) FROM events WHERE name = %s", (f"second {key}",)).fetchone()[0] == 0


async def test_expired_key_is_new(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    key = new_key()
    first = await booking.book(user_id=9, event_id=event.id, quantity=1, idempotency_key=key)
    db.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = %s", (key,))

    second = await booking.book(user_id=9, event_id=event.id, quantity=1, idempotency_key=key)

    assert second.booking.id != first.booking.id
    assert event_state(db, cache, event.id).confirmed_quantity == 2


async def test_rest_key_retry_and_conflict(http: httpx.AsyncClient, db, cache, event_name: str) -> None:
    key = new_key()
    created = await http.post(
        "/api/v1/events", json={"name": event_name, "total_tickets": 10}, headers={"Idempotency-Key": key}
    )
    created_again = await http.post(
        "/api/v1/events", json={"name": event_name, "total_tickets": 10}, headers={"Idempotency-Key": key}
    )
    event_id = created.json()["id"]
    book_key = new_key()
    body = {"user_id": 4, "event_id": event_id, "quantity": 2}

    booked = await asyncio.gather(*(http.post("/api/v1/book", json=body, headers={"Idempotency-Key": book_key}) for _ in range(10)))
    conflict = await http.post(
        "/api/v1/book", json={**body, "quantity": 3}, headers={"Idempotency-Key": book_key}
    )

    assert created.status_code == created_again.status_code == 201
    assert created_again.json()["id"] == event_id
    assert [r.status_code for r in booked] == [200] * 10
    assert len({r.json()["id"] for r in booked}) == 1
    assert conflict.status_code == 422
    assert "idempotency_key" in conflict.json()["error"]
    state = event_state(db, cache, event_id)
    assert state.confirmed_quantity == 2
    assert_consistent(state)


async def test_rest_invalid_key_rejected(http: httpx.AsyncClient, db) -> None:
    before = db.execute("SELECT count(*) FROM events").fetchone()[0]

    response = await http.post(
        "/api/v1/events", json={"name": "x", "total_tickets": 1}, headers={"Idempotency-Key": "x" * 129}
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("Idempotency-Key:")
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == before
