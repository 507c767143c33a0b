"""Property-based tests: random Book/Cancel sequences keep the stock invariants,
and the JSON duplicate-key check agrees with a plain reference."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients import BookingClient
from common.rules import InvalidInput
from devstack.stack import Stack
from rest_shim import body as parse
from tests.helpers import assert_consistent, event_state

# Each example creates an event and runs its calls against the session
# stack, so the example counts stay small.
STACK_SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

book_operation = st.tuples(st.just("book"), st.integers(1, 4), st.integers(1, 10))
# A cancel names one of the bookings made so far by its position, modulo their number.
cancel_operation = st.tuples(st.just("cancel"), st.integers(0, 50))
operations = st.lists(st.one_of(book_operation, cancel_operation), min_size=1, max_size=14)


async def run_sequence(stack: Stack, total: int, steps: list[tuple]) -> tuple[int, int]:
    """Run the steps one at a time, check each reply against a model, and return (event id, tickets left)."""
    async with BookingClient(stack.booking_target) as booking:
        event = await booking.create_event(f"property {uuid.uuid4()}", total)
        available = total
        bookings: list[tuple[int, int]] = []  # (booking id, quantity)
        cancelled: set[int] = set()
        for step in steps:
            if step[0] == "book":
                _, user_id, quantity = step
                reply = await booking.book(user_id=user_id, event_id=event.id, quantity=quantity)
                if quantity <= available:
                    assert reply.outcome == pb.BOOK_OUTCOME_CONFIRMED, (step, available)
                    available -= quantity
                    bookings.append((reply.booking.id, quantity))
                else:
                    assert reply.outcome == pb.BOOK_OUTCOME_SOLD_OUT, (step, available)
            elif bookings:
                booking_id, quantity = bookings[step[1] % len(bookings)]
                reply = await booking.cancel_booking(booking_id)
                assert reply.status == pb.BOOKING_STATUS_CANCELLED
                if booking_id not in cancelled:
                    cancelled.add(booking_id)
                    available += quantity
        return event.id, available


@STACK_SETTINGS
@given(total=st.integers(1, 12), steps=operations)
def test_sequential_book_cancel_match_model(stack: Stack, db, cache, total: int, steps: list[tuple]) -> None:
    event_id, available = asyncio.run(run_sequence(stack, total, steps))

    state = event_state(db, cache, event_id)
    assert_consistent(state)
    assert state.redis_available == available
    assert state.confirmed_quantity == total - available


async def run_rounds(stack: Stack, total: int, rounds: list[list[tuple]]) -> tuple[int, int]:
    """Send each round's steps at once through the REST shim, and return (event id, bookings confirmed)."""
    async with httpx.AsyncClient(base_url=stack.rest_url, timeout=10) as http:
        created = await http.post("/api/v1/events", json={"name": f"property {uuid.uuid4()}", "total_tickets": total})
        assert created.status_code == 201, created.text
        event_id = created.json()["id"]
        bookings: list[tuple[int, int]] = []

        async def run_step(step: tuple) -> httpx.Response | None:
            if step[0] == "book":
                _, user_id, quantity = step
                return await http.post("/api/v1/book", json={"user_id": user_id, "event_id": event_id, "quantity": quantity})
            if not bookings:
                return None
            booking_id, _ = bookings[step[1] % len(bookings)]
            return await http.post(f"/api/v1/bookings/{booking_id}/cancel")

        for steps in rounds:
            replies = await asyncio.gather(*(run_step(step) for step in steps))
            for step, reply in zip(steps, replies):
                if reply is None:
                    continue
                assert reply.status_code in (200, 409), (step, reply.text)
                if step[0] == "book" and reply.status_code == 200:
                    bookings.append((reply.json()["id"], step[2]))
        return event_id, len(bookings)


@STACK_SETTINGS
@given(total=st.integers(1, 12), rounds=st.lists(operations, min_size=1, max_size=4))
def test_concurrent_book_cancel_keep_invariants(stack: Stack, db, cache, total: int, rounds: list[list[tuple]]) -> None:
    event_id, _ = asyncio.run(run_rounds(stack, total, rounds))

    state = event_state(db, cache, event_id)
    assert state.confirmed_quantity <= total
    assert_consistent(state)


# -- JSON duplicate keys -------------------------------------------------------------

keys = st.sampled_from(["a", "b", "user_id", 'q"uote', "back\\slash", "caf\u00e9", "\U0001f3ab"])
scalars = st.one_of(
    st.integers(-(2**63), 2**63), st.booleans(), st.none(), st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False)
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6)
members = st.lists(st.tuples(keys, values, st.booleans(), st.sampled_from(["", " ", "\n\t"])), max_size=6)


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    return 0


def encode_object(pairs: list[tuple]) -> bytes:
    """Write members in order, keeping duplicates, with ASCII escapes or raw UTF-8 and some whitespace."""
    parts = [
        f"{space}{json.dumps(key, ensure_ascii=escape)}{space}:{space}{json.dumps(value, ensure_ascii=escape)}"
        for key, value, escape, space in pairs
    ]
    return ("{" + ",".join(parts) + "}").encode()


@settings(max_examples=300, deadline=None)
@given(pairs=members)
def test_duplicate_keys_found_exactly(pairs: list[tuple]) -> None:
    # Deeper input is rejected for its depth before keys are compared.
    assume(all(depth(value) < parse.MAX_JSON_DEPTH for _, value, _, _ in pairs))
    body = encode_object(pairs)
    names = [key for key, _, _, _ in pairs]

    if len(set(names)) < len(names):
        with pytest.raises(InvalidInput) as caught:
            parse.parse_object(body)
        assert caught.value.rule == "must appear only once"
        assert caught.value.field in names
    else:
        assert parse.parse_object(body) == json.loads(body)
