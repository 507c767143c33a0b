"""The booking service's RPCs against real PostgreSQL, Redis and inventory service."""

from __future__ import annotations

import asyncio

import grpc
import psycopg
import pytest
import redis

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients import BookingClient
from tests.helpers import assert_consistent, event_state


async def test_create_event_sets_stock(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 25)

    assert event.id > 0
    assert event.name == event_name
    assert event.total_tickets == 25
    assert event.available_tickets == 25
    state = event_state(db, cache, event.id)
    assert state.redis_total == 25
    assert state.redis_available == 25


async def test_get_event_counts_sold_tickets(booking: BookingClient, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    await booking.book(user_id=1, event_id=event.id, quantity=4)

    fetched = await booking.get_event(event.id)

    assert fetched.id == event.id
    assert fetched.available_tickets == 6
    assert fetched.created_at.seconds == event.created_at.seconds


async def test_get_unknown_event_not_found(booking: BookingClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.get_event(2**62)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert str(2**62) in caught.value.details()


async def test_book_confirms_and_writes_row(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)

    reply = await booking.book(user_id=42, event_id=event.id, quantity=3)

    assert reply.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert reply.booking.status == pb.BOOKING_STATUS_CONFIRMED
    assert (reply.booking.user_id, reply.booking.event_id, reply.booking.quantity) == (42, event.id, 3)
    row = db.execute("SELECT user_id, quantity, status FROM bookings WHERE id = %s", (reply.booking.id,)).fetchone()
    assert row == (42, 3, "confirmed")
    assert_consistent(event_state(db, cache, event.id))


async def test_book_beyond_stock_is_sold_out(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 5)
    await booking.book(user_id=1, event_id=event.id, quantity=4)

    reply = await booking.book(user_id=2, event_id=event.id, quantity=2)

    assert reply.outcome == pb.BOOK_OUTCOME_SOLD_OUT
    assert not reply.HasField("booking")
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == 4
    assert_consistent(state)


async def test_book_unknown_event_not_found(booking: BookingClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.book(user_id=1, event_id=2**62, quantity=1)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_cancel_returns_tickets_once(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    booked = (await booking.book(user_id=7, event_id=event.id, quantity=4)).booking

    results = await asyncio.gather(*(booking.cancel_booking(booked.id) for _ in range(10)))

    assert all(r.status == pb.BOOKING_STATUS_CANCELLED for r in results)
    assert all(r.HasField("cancelled_at") for r in results)
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == 0
    assert state.redis_available == 10
    assert_consistent(state)


async def test_cancelled_tickets_sell_again(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 3)
    booked = (await booking.book(user_id=7, event_id=event.id, quantity=3)).booking
    assert (await booking.book(user_id=8, event_id=event.id, quantity=1)).outcome == pb.BOOK_OUTCOME_SOLD_OUT

    await booking.cancel_booking(booked.id)
    again = await booking.book(user_id=8, event_id=event.id, quantity=3)

    assert again.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert_consistent(event_state(db, cache, event.id))


async def test_cancel_unknown_booking_not_found(booking: BookingClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.cancel_booking(2**62)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_get_booking_returns_row(booking: BookingClient, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    booked = (await booking.book(user_id=9, event_id=event.id, quantity=2)).booking

    fetched = await booking.get_booking(booked.id)

    assert fetched == booked


async def test_get_unknown_booking_not_found(booking: BookingClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.get_booking(2**62)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_list_bookings_pages_and_filters(booking: BookingClient, event_name: str) -> None:
    event = await booking.create_event(event_name, 100)
    ids = [(await booking.book(user_id=77, event_id=event.id, quantity=1)).booking.id for _ in range(5)]
    await booking.cancel_booking(ids[0])

    first_page = await booking.list_bookings(event_id=event.id, page=1, size=2)
    last_page = await booking.list_bookings(event_id=event.id, page=3, size=2)
    cancelled = await booking.list_bookings(event_id=event.id, status=pb.BOOKING_STATUS_CANCELLED)
    confirmed = await booking.list_bookings(event_id=event.id, status=pb.BOOKING_STATUS_CONFIRMED)

    assert first_page.total == 5
    assert (first_page.page, first_page.size) == (1, 2)
    assert [b.id for b in first_page.bookings] == [ids[4], ids[3]]
    assert [b.id for b in last_page.bookings] == [ids[0]]
    assert [b.id for b in cancelled.bookings] == [ids[0]]
    assert confirmed.total == 4


async def test_list_bookings_default_page_size(booking: BookingClient) -> None:
    reply = await booking.list_bookings()
    assert reply.page == 1
    assert reply.size == 20


INVALID_BOOK_REQUESTS = [
    (dict(user_id=0, event_id=1, quantity=1), "user_id"),
    (dict(user_id=-3, event_id=1, quantity=1), "user_id"),
    (dict(user_id=1, event_id=0, quantity=1), "event_id"),
    (dict(user_id=1, event_id=1, quantity=0), "quantity"),
    (dict(user_id=1, event_id=1, quantity=11), "quantity"),
    (dict(user_id=1, event_id=1, quantity=1, idempotency_key="has space"), "idempotency_key"),
]


@pytest.mark.parametrize(("fields", "field"), INVALID_BOOK_REQUESTS)
async def test_book_invalid_request_rejected(booking: BookingClient, db, fields: dict, field: str) -> None:
    before = db.execute("SELECT count(*) FROM bookings").fetchone()[0]

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.book(**fields)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(f"{field}:")
    assert db.execute("SELECT count(*) FROM bookings").fetchone()[0] == before


@pytest.mark.parametrize(
    ("name", "total", "field"),
    [("", 10, "name"), ("x" * 256, 10, "name"), ("bad\nname", 10, "name"), ("ok", 0, "total_tickets"), ("ok", 10**9, "total_tickets")],
)
async def test_create_event_invalid_rejected(booking: BookingClient, db, name: str, total: int, field: str) -> None:
    before = db.execute("SELECT count(*) FROM events").fetchone()[0]

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.create_event(name, total)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(f"{field}:")
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == before


async def test_list_bookings_invalid_size_rejected(booking: BookingClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.list_bookings(size=101)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("size:")


async def test_sold_out_memory_expires_for_returned_stock(
    booking: BookingClient, inventory, db, cache, event_name: str
) -> None:
    # Stock returned behind the booking service's back (as the expiry sweep
    # of another process would) is seen once the sold-out memory expires
    # (SOLD_OUT_MEMORY_MS, 100 ms by default).
    import uuid as uuid_module

    event = await booking.create_event(event_name, 3)
    reservation = str(uuid_module.uuid4())
    await inventory.reserve(event.id, reservation, 3)
    first = await booking.book(user_id=1, event_id=event.id, quantity=1)
    await inventory.release(event.id, reservation)

    await asyncio.sleep(0.3)
    again = await booking.book(user_id=1, event_id=event.id, quantity=1)

    assert first.outcome == pb.BOOK_OUTCOME_SOLD_OUT
    assert first.available_tickets == 0
    assert again.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert_consistent(event_state(db, cache, event.id))


async def test_sold_out_reports_tickets_left(booking: BookingClient, event_name: str) -> None:
    event = await booking.create_event(event_name, 5)
    await booking.book(user_id=1, event_id=event.id, quantity=4)

    reply = await booking.book(user_id=2, event_id=event.id, quantity=3)
    smaller = await booking.book(user_id=2, event_id=event.id, quantity=1)

    assert reply.outcome == pb.BOOK_OUTCOME_SOLD_OUT
    assert reply.available_tickets == 1
    assert smaller.outcome == pb.BOOK_OUTCOME_CONFIRMED
