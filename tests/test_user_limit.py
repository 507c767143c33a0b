"""The per-user ticket limit (MAX_TICKETS_PER_USER), on a second booking service process."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients import BookingClient
from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess
from devstack.stack import REPO_ROOT, Stack
from tests.helpers import assert_consistent, event_state

LIMIT = 4


@pytest.fixture(scope="module")
def limited_target(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A booking service with MAX_TICKETS_PER_USER=4 beside the session stack's, sharing its databases."""
    port = free_port()
    env = stack.service_env("booking")
    env.update({"BOOKING_PORT": str(port), "BOOKING_METRICS_PORT": "0", "MAX_TICKETS_PER_USER": str(LIMIT)})
    process = ManagedProcess(
        "booking-limited",
        [sys.executable, "-m", "booking_service"],
        log_path=tmp_path_factory.mktemp("limited") / "booking.log",
        env=env,
        cwd=REPO_ROOT,
    )
    process.start()
    try:
        wait_for_port("127.0.0.1", port, 30, alive=process.alive)
        yield f"127.0.0.1:{port}"
    finally:
        process.stop(signal.SIGTERM)


@pytest.fixture
async def limited(limited_target: str) -> AsyncIterator[BookingClient]:
    async with BookingClient(limited_target) as client:
        yield client


async def test_limit_caps_one_user(limited: BookingClient, db, cache, event_name: str) -> None:
    event = await limited.create_event(event_name, 100)

    first = await limited.book(user_id=1, event_id=event.id, quantity=3)
    over = await limited.book(user_id=1, event_id=event.id, quantity=2)
    fits = await limited.book(user_id=1, event_id=event.id, quantity=1)
    other_user = await limited.book(user_id=2, event_id=event.id, quantity=4)

    assert first.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert over.outcome == pb.BOOK_OUTCOME_USER_LIMIT_REACHED
    assert fits.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert other_user.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert_consistent(event_state(db, cache, event.id))


async def test_limit_holds_under_concurrency(limited: BookingClient, db, cache, event_name: str) -> None:
    event = await limited.create_event(event_name, 100)

    replies = await asyncio.gather(*(limited.book(user_id=7, event_id=event.id, quantity=1) for _ in range(30)))

    outcomes = [r.outcome for r in replies]
    assert outcomes.count(pb.BOOK_OUTCOME_CONFIRMED) == LIMIT
    assert outcomes.count(pb.BOOK_OUTCOME_USER_LIMIT_REACHED) == 30 - LIMIT
    owned = db.execute(
        "SELECT sum(quantity) FROM bookings WHERE event_id = %s AND user_id = 7 AND status = 'confirmed'", (event.id,)
    ).fetchone()[0]
    assert owned == LIMIT
    assert_consistent(event_state(db, cache, event.id))


async def test_cancel_frees_user_limit(limited: BookingClient, db, cache, event_name: str) -> None:
    event = await limited.create_event(event_name, 100)
    booked = (await limited.book(user_id=9, event_id=event.id, quantity=4)).booking

    refused = await limited.book(user_id=9, event_id=event.id, quantity=1)
    await limited.cancel_booking(booked.id)
    again = await limited.book(user_id=9, event_id=event.id, quantity=4)

    assert refused.outcome == pb.BOOK_OUTCOME_USER_LIMIT_REACHED
    assert again.outcome == pb.BOOK_OUTCOME_CONFIRMED
    assert_consistent(event_state(db, cache, event.id))


async def test_limit_off_by_default(booking: BookingClient, event_name: str) -> None:
    event = await booking.create_event(event_name, 100)

    replies = [await booking.book(user_id=11, event_id=event.id, quantity=10) for _ in range(3)]

    assert all(r.outcome == pb.BOOK_OUTCOME_CONFIRMED for r in replies)
