"""The Book saga's compensation and PostgreSQL's own oversell guard."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import psycopg
import pytest

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients import BookingClient, InventoryClient
from tests.helpers import assert_consistent, event_state

FAILING_USER = 666_000_001


@pytest.fixture
def insert_failure(db: psycopg.Connection):
    """Make PostgreSQL reject every booking insert for FAILING_USER."""
    db.execute(
        """
        CREATE OR REPLACE FUNCTION test_reject_booking() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.user_id = %s THEN
                RAISE EXCEPTION 'insert rejected by test trigger';
            END IF;
            RETURN NEW;
        END $$
        """ % FAILING_USER
    )
    db.execute(
        "CREATE TRIGGER test_reject_booking BEFORE INSERT ON bookings "
        "FOR EACH ROW EXECUTE FUNCTION test_reject_booking()"
    )
    yield
    db.execute("DROP TRIGGER test_reject_booking ON bookings")
    db.execute("DROP FUNCTION test_reject_booking()")


async def test_failed_insert_releases_hold(booking: BookingClient, db, cache, event_name: str, insert_failure) -> None:
    event = await booking.create_event(event_name, 10)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.book(user_id=FAILING_USER, event_id=event.id, quantity=3)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "insert failed" in caught.value.details()
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == 0
    assert state.redis_available == 10
    assert state.redis_held == 0
    assert_consistent(state)


async def test_failed_insert_spares_batch_neighbours(
    booking: BookingClient, db, cache, event_name: str, insert_failure
) -> None:
    event = await booking.create_event(event_name, 100)
    users = [FAILING_USER if i % 5 == 0 else 1000 + i for i in range(40)]

    results = await asyncio.gather(
        *(booking.book(user_id=user, event_id=event.id, quantity=1) for user in users), return_exceptions=True
    )

    failed = [user for user, result in zip(users, results) if isinstance(result, Exception)]
    confirmed = [r for r in results if not isinstance(r, Exception) and r.outcome == pb.BOOK_OUTCOME_CONFIRMED]
    assert failed == [u for u in users if u == FAILING_USER]
    assert len(confirmed) == 32
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == 32
    assert_consistent(state)


async def test_postgres_refuses_oversell_with_wrong_counter(
    booking: BookingClient, inventory: InventoryClient, db, cache, event_name: str
) -> None:
    event = await booking.create_event(event_name, 10)
    # Corrupt Redis: claim 50 tickets are available for a 10-ticket event.
    await inventory.init_stock(event.id, total=50, available=50, replace=True)

    results = await asyncio.gather(*(booking.book(user_id=500 + i, event_id=event.id, quantity=1) for i in range(30)))

    confirmed = sum(r.outcome == pb.BOOK_OUTCOME_CONFIRMED for r in results)
    sold_out = sum(r.outcome == pb.BOOK_OUTCOME_SOLD_OUT for r in results)
    assert confirmed == 10
    assert sold_out == 20
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == 10
    assert state.sold_counter == 10
    assert state.redis_held == 0


def test_check_constraint_rejects_oversell(db: psycopg.Connection) -> None:
    event_id = db.execute("INSERT INTO events (name, total_tickets) VALUES ('constraint', 5) RETURNING id").fetchone()[0]

    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE events SET sold_tickets = 6 WHERE id = %s", (event_id,))

    assert db.execute("SELECT sold_tickets FROM events WHERE id = %s", (event_id,)).fetchone()[0] == 0


async def test_missing_counter_rebuilt_after_quiet_period(
    booking: BookingClient, db, cache, event_name: str
) -> None:
    from inventory_service import keys

    event = await booking.create_event(event_name, 10)
    await booking.book(user_id=1, event_id=event.id, quantity=4)
    cache.delete(*keys.event_keys(event.id))

    with pytest.raises(grpc.aio.AioRpcError) as waiting:
        await booking.book(user_id=2, event_id=event.id, quantity=6)
    marker = int(cache.get(keys.rebuild_marker_key(event.id)))
    # Let the quiet period (one hold lifetime, 30 s here) pass at once.
    cache.set(keys.rebuild_marker_key(event.id), marker - 60_000)
    reply = await booking.book(user_id=2, event_id=event.id, quantity=6)
    sold_out = await booking.book(user_id=3, event_id=event.id, quantity=1)

    assert waiting.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "rebuilt from PostgreSQL in" in waiting.value.details()
    assert event_state(db, cache, event.id).confirmed_quantity == 10
    assert reply.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert sold_out.outcome == pb.BOOK_OUTCOME_SOLD_OUT
    assert_consistent(event_state(db, cache, event.id))


async def test_rebuild_waits_for_holds_taken_before_loss(
    booking: BookingClient, inventory: InventoryClient, db, cache, event_name: str
) -> None:
    from inventory_service import keys

    event = await booking.create_event(event_name, 10)
    cache.delete(*keys.event_keys(event.id))
    first = await inventory.begin_rebuild(event.id, quiet_ms=5000)
    # A hold from before the loss commits during the quiet period.
    db.execute(
        "WITH sold AS (UPDATE events SET sold_tickets = sold_tickets + 3 WHERE id = %(e)s)"
        " INSERT INTO bookings (event_id, user_id, quantity, status, reservation_id)"
        " VALUES (%(e)s, 5, 3, 'confirmed', gen_random_uuid())",
        {"e": event.id},
    )
    second = await inventory.begin_rebuild(event.id, quiet_ms=5000)
    cache.set(keys.rebuild_marker_key(event.id), 0)
    reply = await booking.book(user_id=6, event_id=event.id, quantity=7)

    assert not first.stock_exists
    assert 4000 < first.wait_ms <= 5000
    assert 0 < second.wait_ms <= first.wait_ms
    assert reply.outcome == pb.BOOK_OUTCOME_CONFIRMED
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == 10
    assert state.redis_available == 0
    assert_consistent(state)


async def test_rebuild_counts_pending_release_once(
    booking: BookingClient, db, cache, event_name: str
) -> None:
    from inventory_service import keys

    event = await booking.create_event(event_name, 10)
    booked = (await booking.book(user_id=4, event_id=event.id, quantity=4)).booking
    # A cancel whose Release failed, then Redis loses the event's data.
    db.execute(
        "WITH c AS (UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = %(b)s"
        " RETURNING reservation_id, event_id, quantity),"
        " s AS (UPDATE events e SET sold_tickets = sold_tickets - c.quantity FROM c WHERE e.id = c.event_id)"
        " INSERT INTO pending_releases (reservation_id, event_id, quantity) SELECT reservation_id, event_id, quantity FROM c",
        {"b": booked.id},
    )
    cache.delete(*keys.event_keys(event.id))
    cache.set(keys.rebuild_marker_key(event.id), 0)

    reply = await booking.book(user_id=5, event_id=event.id, quantity=1)
    tombstone = cache.hget(keys.holds_key(event.id), booked.reservation_id)
    # The maintenance loop retries the pending release (after 2 s) and must
    # find the tombstone instead of returning the 4 tickets a second time.
    for _ in range(50):
        if not db.execute("SELECT 1 FROM pending_releases WHERE reservation_id = %s", (uuid.UUID(booked.reservation_id),)).fetchone():
            break
        await asyncio.sleep(0.2)

    assert reply.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert tombstone == "R:0"
    state = event_state(db, cache, event.id)
    assert state.confirmed_quantity == 1
    assert state.redis_available == 9
    assert_consistent(state)
