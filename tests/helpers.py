"""Checks on PostgreSQL and Redis state shared by the tests."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import redis

from inventory_service import keys


@dataclass(frozen=True)
class EventState:
    total: int
    sold_counter: int
    confirmed_quantity: int
    redis_total: int | None
    redis_available: int | None
    redis_held: int | None


def event_state(db: psycopg.Connection, cache: redis.Redis, event_id: int) -> EventState:
    total, sold = db.execute("SELECT total_tickets, sold_tickets FROM events WHERE id = %s", (event_id,)).fetchone()
    confirmed = db.execute(
        "SELECT coalesce(sum(quantity), 0) FROM bookings WHERE event_id = %s AND status = 'confirmed'", (event_id,)
    ).fetchone()[0]
    stock = cache.hgetall(keys.stock_key(event_id))
    return EventState(
        total=total,
        sold_counter=sold,
        confirmed_quantity=int(confirmed),
        redis_total=int(stock["total"]) if stock else None,
        redis_available=int(stock["available"]) if stock else None,
        redis_held=int(stock["held"]) if stock else None,
    )


def assert_consistent(state: EventState) -> None:
    """Invariants once holds have settled: no oversell, PostgreSQL agrees with itself and with Redis."""
    assert state.confirmed_quantity <= state.total, f"oversold: {state}"
    assert state.sold_counter == state.confirmed_quantity, f"sold_tickets differs from the bookings: {state}"
    assert state.redis_held == 0, f"holds not settled: {state}"
    assert state.redis_available + state.confirmed_quantity == state.total, f"Redis and PostgreSQL disagree: {state}"
