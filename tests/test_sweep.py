"""The booking service's expiry sweep and retries of pending releases.

The session stack sweeps every second (SWEEP_INTERVAL_MS default), so these
tests take holds with a one-second lifetime and wait a few seconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from clients import BookingClient, InventoryClient
from inventory_service import keys
from tests.helpers import assert_consistent, event_state

SETTLE_TIMEOUT_S = 10.0


async def wait_until(condition, timeout: float = SETTLE_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.2)
    return condition()


async def test_expired_hold_without_booking_released(
    booking: BookingClient, inventory: InventoryClient, db, cache, event_name: str
) -> None:
    event = await booking.create_event(event_name, 10)
    reservation = str(uuid.uuid4())
    await inventory.reserve(event.id, reservation, 3, hold_ms=1000)
    assert event_state(db, cache, event.id).redis_held == 3

    settled = await wait_until(lambda: event_state(db, cache, event.id).redis_held == 0)

    assert settled, event_state(db, cache, event.id)
    state = event_state(db, cache, event.id)
    assert state.redis_available == 10
    assert cache.hget(keys.holds_key(event.id), reservation) == "R:3"
    assert_consistent(state)


async def test_expired_hold_with_booking_confirmed(
    booking: BookingClient, inventory: InventoryClient, db, cache, event_name: str
) -> None:
    event = await booking.create_event(event_name, 10)
    reservation = uuid.uuid4()
    await inventory.reserve(event.id, str(reservation), 4, hold_ms=1000)
    # The booking service died after its insert committed, before Confirm.
    db.execute(
        "WITH sold AS (UPDATE events SET sold_tickets = sold_tickets + 4 WHERE id = %(e)s)"
        " INSERT INTO bookings (event_id, user_id, quantity, status, reservation_id)"
        " VALUES (%(e)s, 77, 4, 'confirmed', %(r)s)",
        {"e": event.id, "r": reservation},
    )

    settled = await wait_until(lambda: event_state(db, cache, event.id).redis_held == 0)

    assert settled, event_state(db, cache, event.id)
    state = event_state(db, cache, event.id)
    assert state.redis_available == 6
    assert cache.hget(keys.holds_key(event.id), str(reservation)) == "C:4"
    assert_consistent(state)


async def test_hold_before_deadline_untouched(
    booking: BookingClient, inventory: InventoryClient, db, cache, event_name: str
) -> None:
    event = await booking.create_event(event_name, 10)
    reservation = str(uuid.uuid4())
    await inventory.reserve(event.id, reservation, 2, hold_ms=60_000)

    await asyncio.sleep(2.5)

    assert event_state(db, cache, event.id).redis_held == 2
    assert cache.hget(keys.holds_key(event.id), reservation).startswith("H:2:")
    await inventory.release(event.id, reservation)


async def test_expire_holds_skips_confirmed_and_due(
    booking: BookingClient, inventory: InventoryClient, cache, event_name: str
) -> None:
    event = await booking.create_event(event_name, 10)
    confirmed, not_due = str(uuid.uuid4()), str(uuid.uuid4())
    await inventory.reserve(event.id, confirmed, 1, hold_ms=1000)
    await inventory.confirm(event.id, confirmed)
    await inventory.reserve(event.id, not_due, 1, hold_ms=60_000)

    released = await inventory.expire_holds(event.id, [confirmed, not_due, str(uuid.uuid4())])

    assert released == [False, False, False]
    assert (await inventory.get_stock(event.id)).available == 8
    await inventory.release(event.id, not_due)


async def test_pending_release_retried(booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    booked = (await booking.book(user_id=3, event_id=event.id, quantity=5)).booking
    # A cancel whose Release call failed: cancelled in PostgreSQL, still sold in Redis.
    db.execute(
        "WITH c AS (UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = %(b)s"
        " RETURNING reservation_id, event_id, quantity),"
        " s AS (UPDATE events e SET sold_tickets = sold_tickets - c.quantity FROM c WHERE e.id = c.event_id)"
        " INSERT INTO pending_releases (reservation_id, event_id, quantity) SELECT reservation_id, event_id, quantity FROM c",
        {"b": booked.id},
    )
    assert event_state(db, cache, event.id).redis_available == 5

    settled = await wait_until(lambda: event_state(db, cache, event.id).redis_available == 10)

    assert settled, event_state(db, cache, event.id)
    remaining = db.execute(
        "SELECT count(*) FROM pending_releases WHERE reservation_id = %s", (uuid.UUID(booked.reservation_id),)
    ).fetchone()[0]
    assert remaining == 0
    assert_consistent(event_state(db, cache, event.id))


async def test_cancel_leaves_no_pending_release(booking: BookingClient, db, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    booked = (await booking.book(user_id=3, event_id=event.id, quantity=5)).booking

    await booking.cancel_booking(booked.id)

    remaining = db.execute(
        "SELECT count(*) FROM pending_releases WHERE reservation_id = %s", (uuid.UUID(booked.reservation_id),)
    ).fetchone()[0]
    assert remaining == 0
