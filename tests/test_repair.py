"""`bookingctl audit --repair`: Redis stock set from PostgreSQL while bookings run."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from booking_monitor_pb.inventory.v1 import inventory_pb2 as inventory_pb
from bookingctl.repair import (
    SCRIPT_DEADLINE_S,
    EventRepair,
    RepairIncomplete,
    StockCounts,
    StockRepairer,
    connect_redis,
    load_repair_script,
    repair_events,
)
from clients import BookingClient, InventoryClient
from devstack.stack import Stack
from inventory_service import keys
from tests.helpers import assert_consistent, event_state

REPO_ROOT = Path(__file__).resolve().parent.parent
HOLD_MS = 60_000


def repair_one(stack: Stack, event_id: int) -> EventRepair:
    run = repair_events(stack.db_url, stack.cache_url, [event_id])
    assert run.missing_events == []
    assert run.incomplete == {}
    assert len(run.repairs) == 1
    return run.repairs[0]


def insert_booking(db: psycopg.Connection, event_id: int, reservation_id: str, quantity: int, user_id: int = 1) -> None:
    """Commit a booking row and its sold_tickets change as the booking service's insert does."""
    with db.transaction():
        db.execute(
            "INSERT INTO bookings (event_id, user_id, quantity, status, reservation_id)"
            " VALUES (%s, %s, %s, 'confirmed', %s)",
            (event_id, user_id, quantity, reservation_id),
        )
        db.execute("UPDATE events SET sold_tickets = sold_tickets + %s WHERE id = %s", (quantity, event_id))


def run_cli(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bookingctl", "audit", "--env-file", str(env_file), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_repair_lowers_counter_set_too_high(stack: Stack, booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    await booking.book(user_id=1, event_id=event.id, quantity=3)
    cache.hset(keys.stock_key(event.id), "available", 20)

    repair = repair_one(stack, event.id)

    assert repair.before == StockCounts(total=10, available=20, held=0)
    assert repair.after == StockCounts(total=10, available=7, held=0)
    assert repair.changed
    assert repair.ok
    assert_consistent(event_state(db, cache, event.id))


async def test_repair_raises_counter_set_too_low(stack: Stack, booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    await booking.book(user_id=1, event_id=event.id, quantity=3)
    cache.hset(keys.stock_key(event.id), mapping={"available": 1, "held": 4})

    repair = repair_one(stack, event.id)

    assert repair.before == StockCounts(total=10, available=1, held=4)
    assert repair.after == StockCounts(total=10, available=7, held=0)
    assert_consistent(event_state(db, cache, event.id))
    reply = await booking.book(user_id=2, event_id=event.id, quantity=7)
    assert reply.outcome == pb.BOOK_OUTCOME_CONFIRMED


async def test_repair_creates_missing_counter(stack: Stack, booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    await booking.book(user_id=1, event_id=event.id, quantity=4)
    cache.delete(keys.stock_key(event.id))

    repair = repair_one(stack, event.id)

    assert repair.before is None
    assert repair.after == StockCounts(total=10, available=6, held=0)
    assert cache.hgetall(keys.stock_key(event.id)) == {"total": "10", "available": "6", "held": "0"}
    assert_consistent(event_state(db, cache, event.id))


async def test_repair_unchanged_when_consistent(stack: Stack, booking: BookingClient, db, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    await booking.book(user_id=1, event_id=event.id, quantity=2)

    repair = repair_one(stack, event.id)

    assert repair.before == repair.after == StockCounts(total=10, available=8, held=0)
    assert not repair.changed


async def test_repair_confirms_committed_open_hold(
    stack: Stack, booking: BookingClient, inventory: InventoryClient, db, cache, event_name: str
) -> None:
    event = await booking.create_event(event_name, 10)
    await booking.book(user_id=1, event_id=event.id, quantity=2)
    committed = str(uuid.uuid4())
    pending = str(uuid.uuid4())
    await inventory.reserve(event.id, committed, 3, hold_ms=HOLD_MS)
    await inventory.reserve(event.id, pending, 1, hold_ms=HOLD_MS)
    # The booking of `committed` is written, but its Confirm has not reached Redis.
    insert_booking(db, event.id, committed, 3)

    repair = repair_one(stack, event.id)

    assert repair.sold == 5
    assert repair.before == StockCounts(total=10, available=4, held=4)
    assert repair.after == StockCounts(total=10, available=4, held=1)
    assert repair.marked_confirmed == 1
    assert cache.hget(keys.holds_key(event.id), committed) == "C:3"
    assert cache.zrange(keys.expiry_key(event.id), 0, -1) == [pending]

    late_confirm = await inventory.confirm(event.id, committed)
    assert late_confirm.previous_state == inventory_pb.HOLD_STATE_CONFIRMED
    await inventory.release(event.id, pending)
    assert_consistent(event_state(db, cache, event.id))


async def test_repair_releases_cancel_without_release(
    stack: Stack, booking: BookingClient, inventory: InventoryClient, db, cache, event_name: str
) -> None:
    event = await booking.create_event(event_name, 10)
    reply = await booking.book(user_id=1, event_id=event.id, quantity=4)
    reservation_id = reply.booking.reservation_id
    # The cancel has committed in PostgreSQL, but its Release has not reached Redis.
    with db.transaction():
        db.execute("UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = %s", (reply.booking.id,))
        db.execute("UPDATE events SET sold_tickets = sold_tickets - 4 WHERE id = %s", (event.id,))

    repair = repair_one(stack, event.id)

    assert repair.after == StockCounts(total=10, available=10, held=0)
    assert repair.marked_released == 1
    assert cache.hget(keys.holds_key(event.id), reservation_id) == "R:4"

    late_release = await inventory.release(event.id, reservation_id, quantity_if_unknown=4)
    assert not late_release.released
    assert_consistent(event_state(db, cache, event.id))


async def test_repair_removes_expiry_entry_without_hold(
    stack: Stack, booking: BookingClient, inventory: InventoryClient, db, cache, event_name: str
) -> None:
    event = await booking.create_event(event_name, 10)
    confirmed = await booking.book(user_id=1, event_id=event.id, quantity=2)
    cache.zadd(keys.expiry_key(event.id), {confirmed.booking.reservation_id: 1})

    repair = repair_one(stack, event.id)

    assert repair.removed_from_expiry == 1
    assert repair.after == StockCounts(total=10, available=8, held=0)
    assert cache.zcard(keys.expiry_key(event.id)) == 0
    assert_consistent(event_state(db, cache, event.id))


async def test_repair_script_past_deadline_changes_nothing(booking: BookingClient, cache, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    cache.hset(keys.stock_key(event.id), "available", 20)
    script = load_repair_script(cache)

    reply = script(keys=keys.event_keys(event.id), args=[1, 10, 0, 0])

    assert reply == [-1]
    assert cache.hget(keys.stock_key(event.id), "available") == "20"


async def test_repair_holds_lock_past_deadline_on_timeout(
    stack: Stack, booking: BookingClient, cache, event_name: str
) -> None:
    event = await booking.create_event(event_name, 10)
    cache.hset(keys.stock_key(event.id), "available", 20)

    def lost_reply(**_: object) -> None:
        raise redis.TimeoutError("simulated: no reply within the socket timeout")

    client = connect_redis(stack.cache_url)
    try:
        with psycopg.connect(stack.db_url, autocommit=True) as conn:
            repairer = StockRepairer(conn, client)
            repairer._script = lost_reply
            started = time.monotonic()
            with pytest.raises(RepairIncomplete):
                repairer.repair(event.id)
            elapsed = time.monotonic() - started
    finally:
        client.close()

    # Only after the script's deadline may the lock go, or a script still
    # queued in Redis could run once bookings have moved on.
    assert elapsed >= SCRIPT_DEADLINE_S
    assert cache.hget(keys.stock_key(event.id), "available") == "20"


async def test_repair_during_concurrent_bookings(
    stack: Stack, booking: BookingClient, db, cache, event_name: str
) -> None:
    total = 150
    requests = 200
    event = await booking.create_event(event_name, total)
    # Redis starts with 20 tickets too many, so only the repairs can make
    # the end state consistent.
    cache.hset(keys.stock_key(event.id), "available", total + 20)

    repairs: list[EventRepair] = []
    stop = threading.Event()

    def repair_until_third_sold() -> None:
        # The loop ends while bookings are still in flight, so no repair runs
        # on a quiet event at the end and hides an error of an earlier one.
        client = connect_redis(stack.cache_url)
        try:
            with psycopg.connect(stack.db_url, autocommit=True) as conn:
                repairer = StockRepairer(conn, client)
                while not stop.is_set():
                    repair = repairer.repair(event.id)
                    assert repair is not None
                    repairs.append(repair)
                    if repair.sold >= total // 3:
                        return
                    time.sleep(0.001)
        finally:
            client.close()

    rng = random.Random(4321)
    quantities = [rng.randint(1, 2) for _ in range(requests)]
    # Arrivals spread over a second give many small insert batches, so the
    # repairs run between them and not only before or after one large batch.
    delays = [rng.uniform(0, 1.0) for _ in range(requests)]

    async def book(index: int) -> pb.BookResponse:
        await asyncio.sleep(delays[index])
        return await booking.book(user_id=30_000 + index, event_id=event.id, quantity=quantities[index], timeout=30)

    repair_loop = asyncio.create_task(asyncio.to_thread(repair_until_third_sold))
    try:
        results = await asyncio.gather(*(book(i) for i in range(requests)), return_exceptions=True)
    finally:
        stop.set()
        await repair_loop

    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    confirmed = [r.booking for r in results if r.outcome == pb.BOOK_OUTCOME_CONFIRMED]
    sold_out = [r for r in results if r.outcome == pb.BOOK_OUTCOME_SOLD_OUT]
    assert len(confirmed) + len(sold_out) == requests
    assert len(repairs) >= 2
    assert all(r.ok for r in repairs)
    state = event_state(db, cache, event.id)
    # The last repair ran before the sale ended, not after it.
    assert repairs[-1].sold < state.confirmed_quantity
    assert state.confirmed_quantity == sum(b.quantity for b in confirmed)
    assert state.confirmed_quantity >= total - 1
    assert_consistent(state)


async def test_cli_exit_codes_before_and_after_repair(
    stack: Stack, booking: BookingClient, db, cache, tmp_path: Path, event_name: str
) -> None:
    drifted = await booking.create_event(event_name + " drifted", 10)
    missing = await booking.create_event(event_name + " missing", 10)
    await booking.book(user_id=1, event_id=drifted.id, quantity=3)
    cache.hset(keys.stock_key(drifted.id), "available", 9)
    cache.delete(keys.stock_key(missing.id))
    env_file = tmp_path / "stack.env"
    env_file.write_text(f"DATABASE_URL={stack.db_url}\nREDIS_URL={stack.cache_url}\n")
    events = ["--event", str(drifted.id), "--event", str(missing.id)]

    before = run_cli(env_file, *events)
    repaired = run_cli(env_file, *events, "--repair")
    after = run_cli(env_file, *events)
    repeated = run_cli(env_file, *events, "--repair", "--json")

    assert before.returncode == 1, before.stdout + before.stderr
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"event {drifted.id}: available 9 -> 7, held 0 -> 0" in repaired.stdout
    assert f"event {missing.id}: stock missing, created with available 10, held 0" in repaired.stdout
    assert "2 events checked, 2 repaired, 0 failed" in repaired.stdout
    assert after.returncode == 0, after.stdout + after.stderr
    assert repeated.returncode == 0, repeated.stdout + repeated.stderr
    report = json.loads(repeated.stdout)
    assert report["ok"] is True
    assert report["repaired"] == 0
    assert [e["event_id"] for e in report["events"]] == [drifted.id, missing.id]
    assert_consistent(event_state(db, cache, drifted.id))
    assert_consistent(event_state(db, cache, missing.id))


async def test_cli_repair_exits_1_on_oversell(
    stack: Stack, booking: BookingClient, db, cache, tmp_path: Path, event_name: str
) -> None:
    event = await booking.create_event(event_name, 2)
    reservation_id = str(uuid.uuid4())
    # A booking beyond the total, written without the sold_tickets guard.
    db.execute(
        "INSERT INTO bookings (event_id, user_id, quantity, status, reservation_id) VALUES (%s, 1, 3, 'confirmed', %s)",
        (event.id, reservation_id),
    )
    env_file = tmp_path / "stack.env"
    env_file.write_text(f"DATABASE_URL={stack.db_url}\nREDIS_URL={stack.cache_url}\n")
    try:
        result = run_cli(env_file, "--event", str(event.id), "--repair")
    finally:
        # Other tests share the database, so leave no oversold event behind.
        db.execute("DELETE FROM bookings WHERE reservation_id = %s", (reservation_id,))
        repair_one(stack, event.id)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "oversold by 1 (3 sold of 2)" in result.stdout
    assert "1 event checked, 1 repaired, 1 failed" in result.stdout


async def test_cli_repair_exits_1_on_unknown_event(stack: Stack, tmp_path: Path) -> None:
    env_file = tmp_path / "stack.env"
    env_file.write_text(f"DATABASE_URL={stack.db_url}\nREDIS_URL={stack.cache_url}\n")
    unknown = 2**62

    result = run_cli(env_file, "--event", str(unknown), "--repair")

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"event {unknown}: FAIL: not found in PostgreSQL" in result.stdout
