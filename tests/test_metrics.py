"""Prometheus metrics of the gRPC services, scraped after real traffic."""

from __future__ import annotations

import asyncio

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients import BookingClient
from devstack.stack import Stack
from inventory_service.config import SETTINGS as INVENTORY_SETTINGS
from tests.scraping import has_sample, redis_node_label, scrape, value


def inventory_pool_size(stack: Stack) -> int:
    default = next(s.default for s in INVENTORY_SETTINGS if s.env == "REDIS_POOL_SIZE")
    return int(stack.service_env("inventory").get("REDIS_POOL_SIZE", default))


async def test_booking_metrics_count_traffic(stack: Stack, booking: BookingClient, event_name: str) -> None:
    event = await booking.create_event(event_name, 5)
    before = scrape(stack.metrics_url("booking"))

    replies = await asyncio.gather(*(booking.book(user_id=100 + i, event_id=event.id, quantity=1) for i in range(8)))
    after = scrape(stack.metrics_url("booking"))

    confirmed = sum(r.outcome == pb.BOOK_OUTCOME_CONFIRMED for r in replies)
    sold_out = sum(r.outcome == pb.BOOK_OUTCOME_SOLD_OUT for r in replies)
    assert (confirmed, sold_out) == (5, 3)
    calls = value(after, "grpc_server_calls_total", method="Book", code="OK") - value(before, "grpc_server_calls_total", method="Book", code="OK")
    assert calls == 8
    assert value(after, "bookings_total", outcome="confirmed") - value(before, "bookings_total", outcome="confirmed") == 5
    assert value(after, "bookings_total", outcome="sold_out") - value(before, "bookings_total", outcome="sold_out") == 3
    assert value(after, "grpc_server_call_seconds_count", method="Book") - value(before, "grpc_server_call_seconds_count", method="Book") == 8
    assert value(after, "booking_event_available_tickets", event_id=str(event.id)) == 0
    assert value(after, "postgres_pool_pool_size") >= 1


async def test_error_codes_counted(stack: Stack, booking: BookingClient) -> None:
    before = scrape(stack.metrics_url("booking"))

    for _ in range(3):
        try:
            await booking.get_event(2**62)
        except Exception:
            pass
    after = scrape(stack.metrics_url("booking"))

    delta = value(after, "grpc_server_calls_total", method="GetEvent", code="NOT_FOUND") - value(
        before, "grpc_server_calls_total", method="GetEvent", code="NOT_FOUND"
    )
    assert delta == 3


async def test_inventory_metrics_count_batches(stack: Stack, booking: BookingClient, event_name: str) -> None:
    event = await booking.create_event(event_name, 10)
    before = scrape(stack.metrics_url("inventory"))

    await booking.book(user_id=1, event_id=event.id, quantity=1)
    after = scrape(stack.metrics_url("inventory"))

    reserve = value(after, "grpc_server_calls_total", method="ReserveBatch", code="OK") - value(
        before, "grpc_server_calls_total", method="ReserveBatch", code="OK"
    )
    confirm = value(after, "grpc_server_calls_total", method="ConfirmBatch", code="OK") - value(
        before, "grpc_server_calls_total", method="ConfirmBatch", code="OK"
    )
    assert reserve == 1
    assert confirm == 1


async def test_redis_pool_metrics_after_traffic(stack: Stack, booking: BookingClient, event_name: str) -> None:
    event = await booking.create_event(event_name, 5)
    node = redis_node_label(stack.cache_url)
    pool_size = inventory_pool_size(stack)

    await asyncio.gather(*(booking.book(user_id=200 + i, event_id=event.id, quantity=1) for i in range(5)))
    samples = scrape(stack.metrics_url("inventory"))

    for name in (
        "redis_pool_connections_in_use",
        "redis_pool_connections_idle",
        "redis_pool_max_connections",
        "redis_pool_waits_total",
        "redis_pool_wait_seconds_count",
        "redis_pool_wait_timeouts_total",
    ):
        assert has_sample(samples, name, node=node), f"{name}{{node={node!r}}} missing"
    assert value(samples, "redis_pool_max_connections", node=node) == pool_size
    in_use = value(samples, "redis_pool_connections_in_use", node=node)
    idle = value(samples, "redis_pool_connections_idle", node=node)
    assert in_use >= 0
    assert idle >= 0
    assert 1 <= in_use + idle <= pool_size
    waits = value(samples, "redis_pool_waits_total", node=node)
    assert value(samples, "redis_pool_wait_seconds_count", node=node) == waits
    assert value(samples, "redis_pool_wait_timeouts_total", node=node) <= waits
