"""The inventory service's RPCs against a real Redis."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
import redis

from booking_monitor_pb.inventory.v1 import inventory_pb2 as pb
from clients import InventoryClient
from inventory_service import keys

# Event ids far above what the booking service creates, so these tests
# never touch a real event's counters.
_next_event = iter(range(9_000_000_000, 9_100_000_000))


def new_event_id() -> int:
    return next(_next_event)


def new_reservation() -> str:
    return str(uuid.uuid4())


async def test_init_stock_creates_then_keeps(inventory: InventoryClient) -> None:
    event_id = new_event_id()

    first = await inventory.init_stock(event_id, total=10, available=10)
    second = await inventory.init_stock(event_id, total=99, available=99)

    assert first.initialised
    assert not second.initialised
    assert second.stock.total == 10
    assert second.stock.available == 10


async def test_init_stock_replace_overwrites(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)

    reply = await inventory.init_stock(event_id, total=10, available=4, replace=True)

    assert reply.initialised
    assert (await inventory.get_stock(event_id)).available == 4


async def test_get_stock_of_unknown_event_is_not_found(inventory: InventoryClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await inventory.get_stock(new_event_id())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reserve_takes_stock_and_sets_deadline(inventory: InventoryClient, cache: redis.Redis) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()

    reply = await inventory.reserve(event_id, reservation, 3, hold_ms=60_000)

    assert reply.status == pb.RESERVE_STATUS_RESERVED
    assert reply.available == 7
    stock = await inventory.get_stock(event_id)
    assert (stock.available, stock.held) == (7, 3)
    deadline = cache.zscore(keys.expiry_key(event_id), reservation)
    assert deadline == reply.hold_deadline_ms
    now_ms = int(cache.time()[0]) * 1000
    assert 50_000 <= reply.hold_deadline_ms - now_ms <= 61_000


async def test_reserve_repeat_takes_nothing(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()

    first = await inventory.reserve(event_id, reservation, 4)
    second = await inventory.reserve(event_id, reservation, 4)

    assert first.status == second.status == pb.RESERVE_STATUS_RESERVED
    assert second.hold_deadline_ms == first.hold_deadline_ms
    assert (await inventory.get_stock(event_id)).available == 6


async def test_reserve_concurrent_repeats_take_once(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()

    replies = await asyncio.gather(*(inventory.reserve(event_id, reservation, 2) for _ in range(20)))

    assert all(r.status == pb.RESERVE_STATUS_RESERVED for r in replies)
    assert (await inventory.get_stock(event_id)).available == 8


async def test_reserve_same_id_other_quantity_rejected(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()
    await inventory.reserve(event_id, reservation, 2)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await inventory.reserve(event_id, reservation, 3)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "reservation_id" in caught.value.details()
    assert (await inventory.get_stock(event_id)).available == 8


async def test_reserve_beyond_stock_is_sold_out(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=5, available=5)
    await inventory.reserve(event_id, new_reservation(), 4)

    reply = await inventory.reserve(event_id, new_reservation(), 2)

    assert reply.status == pb.RESERVE_STATUS_SOLD_OUT
    assert reply.available == 1
    assert (await inventory.get_stock(event_id)).available == 1


async def test_reserve_without_counter_reports_missing(inventory: InventoryClient, cache: redis.Redis) -> None:
    event_id = new_event_id()

    reply = await inventory.reserve(event_id, new_reservation(), 1)

    assert reply.status == pb.RESERVE_STATUS_STOCK_MISSING
    assert not cache.exists(keys.stock_key(event_id))


async def test_release_returns_stock_once(inventory: InventoryClient, cache: redis.Redis) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()
    await inventory.reserve(event_id, reservation, 3)

    first = await inventory.release(event_id, reservation)
    second = await inventory.release(event_id, reservation)

    assert first.released
    assert first.previous_state == pb.HOLD_STATE_HELD
    assert not second.released
    assert second.previous_state == pb.HOLD_STATE_RELEASED
    stock = await inventory.get_stock(event_id)
    assert (stock.available, stock.held) == (10, 0)
    assert cache.zscore(keys.expiry_key(event_id), reservation) is None


async def test_release_concurrent_repeats_return_once(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()
    await inventory.reserve(event_id, reservation, 5)

    replies = await asyncio.gather(*(inventory.release(event_id, reservation) for _ in range(20)))

    assert sum(r.released for r in replies) == 1
    assert (await inventory.get_stock(event_id)).available == 10


async def test_release_before_reserve_blocks_late_reserve(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()

    release = await inventory.release(event_id, reservation)
    late = await inventory.reserve(event_id, reservation, 2)

    assert not release.released
    assert release.previous_state == pb.HOLD_STATE_UNKNOWN
    assert late.status == pb.RESERVE_STATUS_RELEASED
    assert (await inventory.get_stock(event_id)).available == 10


async def test_release_unknown_with_quantity_returns_it(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=7)
    reservation = new_reservation()

    first = await inventory.release(event_id, reservation, quantity_if_unknown=3)
    second = await inventory.release(event_id, reservation, quantity_if_unknown=3)

    assert first.released
    assert not second.released
    assert (await inventory.get_stock(event_id)).available == 10


async def test_release_without_counter_changes_nothing(inventory: InventoryClient, cache: redis.Redis) -> None:
    event_id = new_event_id()

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await inventory.release(event_id, new_reservation(), quantity_if_unknown=2)

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert not cache.exists(keys.stock_key(event_id))


async def test_confirm_keeps_tickets_sold(inventory: InventoryClient, cache: redis.Redis) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()
    await inventory.reserve(event_id, reservation, 2)

    first = await inventory.confirm(event_id, reservation)
    second = await inventory.confirm(event_id, reservation)
    repeat_reserve = await inventory.reserve(event_id, reservation, 2)

    assert first.confirmed and first.previous_state == pb.HOLD_STATE_HELD
    assert second.confirmed and second.previous_state == pb.HOLD_STATE_CONFIRMED
    assert repeat_reserve.status == pb.RESERVE_STATUS_CONFIRMED
    stock = await inventory.get_stock(event_id)
    assert (stock.available, stock.held) == (8, 0)
    assert cache.zscore(keys.expiry_key(event_id), reservation) is None


async def test_release_after_confirm_returns_tickets(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()
    await inventory.reserve(event_id, reservation, 2)
    await inventory.confirm(event_id, reservation)

    reply = await inventory.release(event_id, reservation)

    assert reply.released
    assert reply.previous_state == pb.HOLD_STATE_CONFIRMED
    assert (await inventory.get_stock(event_id)).available == 10


async def test_confirm_after_release_is_refused(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()
    await inventory.reserve(event_id, reservation, 2)
    await inventory.release(event_id, reservation)

    reply = await inventory.confirm(event_id, reservation)

    assert not reply.confirmed
    assert reply.previous_state == pb.HOLD_STATE_RELEASED
    assert (await inventory.get_stock(event_id)).available == 10


async def test_scripts_reload_after_script_flush(inventory: InventoryClient, cache: redis.Redis) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    cache.script_flush()

    reply = await inventory.reserve(event_id, new_reservation(), 1)

    assert reply.status == pb.RESERVE_STATUS_RESERVED


def _stub_call(inventory: InventoryClient, name: str, request):
    return getattr(inventory._stub, name)(request, timeout=5)


INVALID_REQUESTS = [
    ("Reserve", pb.ReserveRequest(event_id=0, reservation_id=str(uuid.uuid4()), quantity=1), "event_id"),
    ("Reserve", pb.ReserveRequest(event_id=-5, reservation_id=str(uuid.uuid4()), quantity=1), "event_id"),
    ("Reserve", pb.ReserveRequest(event_id=1, reservation_id="not-a-uuid", quantity=1), "reservation_id"),
    ("Reserve", pb.ReserveRequest(event_id=1, reservation_id=str(uuid.uuid4()), quantity=0), "quantity"),
    ("Reserve", pb.ReserveRequest(event_id=1, reservation_id=str(uuid.uuid4()), quantity=11), "quantity"),
    ("Reserve", pb.ReserveRequest(event_id=1, reservation_id=str(uuid.uuid4()), quantity=1, user_id=-1), "user_id"),
    ("Release", pb.ReleaseRequest(event_id=1, reservation_id=""), "reservation_id"),
    ("Release", pb.ReleaseRequest(event_id=1, reservation_id=str(uuid.uuid4()), quantity_if_unknown=99), "quantity"),
    ("Confirm", pb.ConfirmRequest(event_id=0, reservation_id=str(uuid.uuid4())), "event_id"),
    ("InitStock", pb.InitStockRequest(event_id=1, total=0, available=0), "total"),
    ("InitStock", pb.InitStockRequest(event_id=1, total=5, available=6), "available"),
    ("GetStock", pb.GetStockRequest(event_id=0), "event_id"),
]


@pytest.mark.parametrize(("method", "request_message", "field"), INVALID_REQUESTS)
async def test_invalid_request_rejected(inventory: InventoryClient, method: str, request_message, field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _stub_call(inventory, method, request_message)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(f"{field}:")


async def test_reserve_batch_answers_in_order(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=5, available=5)
    repeated = new_reservation()
    items = [
        pb.ReserveRequest(event_id=event_id, reservation_id=repeated, quantity=2),
        pb.ReserveRequest(event_id=event_id, reservation_id=new_reservation(), quantity=3),
        pb.ReserveRequest(event_id=event_id, reservation_id=new_reservation(), quantity=1),
        pb.ReserveRequest(event_id=event_id, reservation_id=repeated, quantity=2),
        pb.ReserveRequest(event_id=event_id, reservation_id=repeated, quantity=4),
        pb.ReserveRequest(event_id=new_event_id(), reservation_id=new_reservation(), quantity=1),
    ]

    replies = await inventory.reserve_batch(items)

    assert [r.status for r in replies] == [
        pb.RESERVE_STATUS_RESERVED,
        pb.RESERVE_STATUS_RESERVED,
        pb.RESERVE_STATUS_SOLD_OUT,
        pb.RESERVE_STATUS_RESERVED,
        pb.RESERVE_STATUS_CONFLICT,
        pb.RESERVE_STATUS_STOCK_MISSING,
    ]
    stock = await inventory.get_stock(event_id)
    assert (stock.available, stock.held) == (0, 5)


async def test_reserve_batch_invalid_item_named(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=5, available=5)
    items = [
        pb.ReserveRequest(event_id=event_id, reservation_id=new_reservation(), quantity=1),
        pb.ReserveRequest(event_id=event_id, reservation_id=new_reservation(), quantity=0),
    ]

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await inventory.reserve_batch(items)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("items[1].quantity:")
    assert (await inventory.get_stock(event_id)).available == 5


async def test_confirm_batch_answers_in_order(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=5, available=5)
    held, released, unknown = new_reservation(), new_reservation(), new_reservation()
    await inventory.reserve(event_id, held, 2)
    await inventory.reserve(event_id, released, 1)
    await inventory.release(event_id, released)

    replies = await inventory.confirm_batch([
        pb.ConfirmRequest(event_id=event_id, reservation_id=held),
        pb.ConfirmRequest(event_id=event_id, reservation_id=released),
        pb.ConfirmRequest(event_id=event_id, reservation_id=unknown),
    ])

    assert [(r.confirmed, r.previous_state) for r in replies] == [
        (True, pb.HOLD_STATE_HELD),
        (False, pb.HOLD_STATE_RELEASED),
        (False, pb.HOLD_STATE_UNKNOWN),
    ]
    stock = await inventory.get_stock(event_id)
    assert (stock.available, stock.held) == (3, 0)


async def test_init_stock_tombstones_released_ids(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    cancelled = new_reservation()

    await inventory.init_stock(event_id, total=10, available=10, released_reservation_ids=[cancelled])
    late = await inventory.release(event_id, cancelled, quantity_if_unknown=4)

    assert not late.released
    assert late.previous_state == pb.HOLD_STATE_RELEASED
    assert (await inventory.get_stock(event_id)).available == 10
