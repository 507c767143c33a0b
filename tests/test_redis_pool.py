"""The inventory service's Redis connection pool: waits, wait timeouts and their metrics.

Each test starts its own inventory service process with a pool of one
connection, so concurrent calls must wait for it.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import redis

from booking_monitor_pb.inventory.v1 import inventory_pb2 as pb
from clients import InventoryClient
from clients.retry import NO_RETRY
from devstack.redis import RedisServer
from devstack.stack import Stack
from tests.inventory_processes import gather_outcomes, pool_exhausted_errors, running_inventory, unexpected_outcomes
from tests.scraping import has_sample, redis_node_label, scrape, value

# Event ids far above what the booking service creates and apart from the
# ids of test_inventory.py and test_redis_cluster.py.
_next_event = iter(range(9_400_000_000, 9_500_000_000))


def new_event_id() -> int:
    return next(_next_event)


def new_reservation() -> str:
    return str(uuid.uuid4())


async def test_pool_of_one_waits(stack: Stack, tmp_path: Path) -> None:
    redis_node = redis_node_label(stack.cache_url)
    event_id = new_event_id()
    calls = 200

    with running_inventory(stack.cache_url, tmp_path / "inventory-pool-1.log", REDIS_POOL_SIZE="1") as service:
        async with InventoryClient(service.target, backoff=NO_RETRY, timeout=30) as inventory:
            await inventory.init_stock(event_id, total=calls, available=calls)
            before = scrape(service.metrics_url)

            replies = await asyncio.gather(
                *(inventory.reserve(event_id, new_reservation(), 1) for _ in range(calls))
            )
            batch = await inventory.reserve_batch(
                [pb.ReserveRequest(event_id=event_id, reservation_id=new_reservation(), quantity=1)]
            )
            stock = await inventory.get_stock(event_id)
        after = scrape(service.metrics_url)

    assert [r.status for r in replies] == [pb.RESERVE_STATUS_RESERVED] * calls
    assert [r.status for r in batch] == [pb.RESERVE_STATUS_SOLD_OUT]
    assert (stock.available, stock.held) == (0, calls)
    waits = value(after, "redis_pool_waits_total", node=redis_node) - value(before, "redis_pool_waits_total", node=redis_node)
    assert waits > 0
    assert value(after, "redis_pool_wait_seconds_count", node=redis_node) == value(
        after, "redis_pool_waits_total", node=redis_node
    )
    assert has_sample(after, "redis_pool_wait_timeouts_total", node=redis_node)
    assert value(after, "redis_pool_wait_timeouts_total", node=redis_node) == 0
    assert value(after, "redis_pool_max_connections", node=redis_node) == 1
    in_use = value(after, "redis_pool_connections_in_use", node=redis_node)
    idle = value(after, "redis_pool_connections_idle", node=redis_node)
    assert in_use + idle == 1


async def test_pool_wait_timeout_is_unavailable(tmp_path: Path) -> None:
    # A private Redis, because the test pauses it.
    server = RedisServer(tmp_path)
    server.start()
    node = redis_node_label(server.url)
    event_id = new_event_id()
    admin = redis.Redis.from_url(server.url)
    try:
        with running_inventory(
            server.url, tmp_path / "inventory-timeout.log", REDIS_POOL_SIZE="1", REDIS_TIMEOUT_MS="300"
        ) as service:
            async with InventoryClient(service.target, backoff=NO_RETRY, timeout=20) as inventory:
                await inventory.init_stock(event_id, total=10, available=10)
                # The first call takes the only connection and blocks on the
                # paused server for more than REDIS_TIMEOUT_MS, so the calls
                # queued behind it give up waiting.
                admin.client_pause(1500, all=True)
                outcomes = await gather_outcomes(inventory.reserve(event_id, new_reservation(), 1) for _ in range(5))
            admin.ping()  # returns once the pause is over
            metrics = scrape(service.metrics_url)
    finally:
        admin.close()
        server.stop()

    assert unexpected_outcomes(outcomes) == []
    exhausted = pool_exhausted_errors(outcomes)
    assert exhausted
    assert "REDIS_POOL_SIZE=1" in exhausted[0].details()
    assert value(metrics, "redis_pool_wait_timeouts_total", node=node) >= len(exhausted)
    assert value(metrics, "redis_pool_waits_total", node=node) >= len(exhausted)


def test_node_names_before_slot_map_loaded() -> None:
    from redis.asyncio.cluster import RedisCluster

    from inventory_service.redis_pool import UNKNOWN_NODE, RedisCommandLimiter

    # The asyncio cluster client loads its slot map on the first command, so
    # a call that waits for a permit before then cannot name its node yet.
    client = RedisCluster(host="127.0.0.1", port=1)
    limiter = RedisCommandLimiter(client, size=1, timeout_s=0.1)

    assert limiter.node_names([5]) == [UNKNOWN_NODE]
