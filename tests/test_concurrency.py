"""Hundreds of concurrent bookings against an event with fewer tickets."""

from __future__ import annotations

import asyncio
import random

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients import BookingClient
from devstack.stack import Stack
from tests.helpers import assert_consistent, event_state

CLIENTS = 4
REQUESTS = 400
TICKETS = 150


async def test_concurrent_bookings_sell_exactly_total(stack: Stack, db, cache, event_name: str) -> None:
    clients = [BookingClient(stack.booking_target, timeout=30) for _ in range(CLIENTS)]
    try:
        event = await clients[0].create_event(event_name, TICKETS)
        rng = random.Random(1234)
        quantities = [rng.randint(1, 3) for _ in range(REQUESTS)]
        start = asyncio.Event()

        async def book(index: int) -> pb.BookResponse:
            await start.wait()
            client = clients[index % CLIENTS]
            return await client.book(user_id=10_000 + index, event_id=event.id, quantity=quantities[index])

        tasks = [asyncio.create_task(book(i)) for i in range(REQUESTS)]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(c.close() for c in clients))

    confirmed = [r.booking for r in results if r.outcome == pb.BOOK_OUTCOME_CONFIRMED]
    sold_out = [r for r in results if r.outcome == pb.BOOK_OUTCOME_SOLD_OUT]
    sold = sum(b.quantity for b in confirmed)
    assert len(confirmed) + len(sold_out) == REQUESTS
    # Requests of 1 to 3 tickets: once fewer than 3 remain, some sell and
    # some do not, but the event must end within 2 tickets of sold out and
    # never beyond it.
    assert TICKETS - 2 <= sold <= TICKETS
    assert len({b.id for b in confirmed}) == len(confirmed)
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == sold
    assert_consistent(state)


async def test_concurrent_single_tickets_sell_exactly_total(stack: Stack, db, cache, event_name: str) -> None:
    clients = [BookingClient(stack.booking_target, timeout=30) for _ in range(CLIENTS)]
    try:
        event = await clients[0].create_event(event_name, TICKETS)
        results = await asyncio.gather(*(
            clients[i % CLIENTS].book(user_id=20_000 + i, event_id=event.id, quantity=1) for i in range(REQUESTS)
        ))
    finally:
        await asyncio.gather(*(c.close() for c in clients))

    confirmed = [r for r in results if r.outcome == pb.BOOK_OUTCOME_CONFIRMED]
    sold_out = [r for r in results if r.outcome == pb.BOOK_OUTCOME_SOLD_OUT]
    assert len(confirmed) == TICKETS
    assert len(sold_out) == REQUESTS - TICKETS
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == TICKETS
    assert state.redis_available == 0
    assert_consistent(state)
