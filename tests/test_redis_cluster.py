"""The inventory service's RPCs against a three-node Redis Cluster (REDIS_MODE=cluster)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.cluster import RedisCluster as SyncRedisCluster

from booking_monitor_pb.inventory.v1 import inventory_pb2 as pb
from clients import InventoryClient
from clients.retry import NO_RETRY
from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess
from devstack.redis_cluster import LocalRedisCluster
from inventory_service import keys
from tests.scraping import has_sample, scrape, value
from tests.inventory_processes import gather_outcomes, pool_exhausted_errors, running_inventory, unexpected_outcomes

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Event ids far above what the booking service creates and apart from the
# ids that test_inventory.py uses.
_next_event = iter(range(9_200_000_000, 9_300_000_000))


def new_event_id() -> int:
    return next(_next_event)


def new_reservation() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    running = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def cluster_inventory_target(cluster: LocalRedisCluster) -> Iterator[str]:
    """Start a second inventory service in cluster mode and yield its gRPC target."""
    port = free_port()
    env = {
        **os.environ,
        "REDIS_MODE": "cluster",
        "REDIS_URL": cluster.url,
        "INVENTORY_HOST": "127.0.0.1",
        "INVENTORY_PORT": str(port),
        "LOG_LEVEL": "info",
    }
    process = ManagedProcess(
        "inventory-cluster",
        [sys.executable, "-m", "inventory_service"],
        log_path=cluster.run_dir / "logs" / "inventory-cluster.log",
        env=env,
        cwd=PROJECT_ROOT,
    )
    process.start()
    try:
        wait_for_port("127.0.0.1", port, 30, alive=process.alive)
        yield f"127.0.0.1:{port}"
    finally:
        process.stop(signal.SIGTERM, timeout=15)


@pytest.fixture(scope="module")
def cluster_cache(cluster: LocalRedisCluster) -> Iterator[SyncRedisCluster]:
    """A direct cluster connection for checking where keys live."""
    client = SyncRedisCluster.from_url(cluster.url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
async def inventory(cluster_inventory_target: str) -> AsyncIterator[InventoryClient]:
    async with InventoryClient(cluster_inventory_target) as client:
        yield client


def node_port_of(cache: SyncRedisCluster, event_id: int) -> int:
    """Return the port of the primary that serves the event's hash slot."""
    return cache.get_node_from_key(keys.stock_key(event_id)).port


def events_on_distinct_nodes(cache: SyncRedisCluster, count: int) -> list[int]:
    """Return `count` new event ids whose keys live on `count` different nodes."""
    chosen: dict[int, int] = {}
    while len(chosen) < count:
        event_id = new_event_id()
        chosen.setdefault(node_port_of(cache, event_id), event_id)
    return list(chosen.values())


def test_event_keys_share_one_slot(cluster: LocalRedisCluster) -> None:
    event_id = new_event_id()

    slots = {cluster.cli(cluster.ports[0], "CLUSTER", "KEYSLOT", key).strip() for key in keys.event_keys(event_id)}

    assert len(slots) == 1


def test_events_spread_over_nodes(cluster_cache: SyncRedisCluster, cluster: LocalRedisCluster) -> None:
    events = events_on_distinct_nodes(cluster_cache, 3)

    ports = {node_port_of(cluster_cache, event_id) for event_id in events}

    assert ports == set(cluster.ports)


async def test_reserve_repeat_takes_once(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()

    first = await inventory.reserve(event_id, reservation, 4)
    second = await inventory.reserve(event_id, reservation, 4)
    racing = await asyncio.gather(*(inventory.reserve(event_id, reservation, 4) for _ in range(20)))

    assert first.status == second.status == pb.RESERVE_STATUS_RESERVED
    assert second.hold_deadline_ms == first.hold_deadline_ms
    assert all(r.status == pb.RESERVE_STATUS_RESERVED for r in racing)
    stock = await inventory.get_stock(event_id)
    assert (stock.available, stock.held) == (6, 4)


async def test_reserve_racing_repeats_take_once(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()

    replies = await asyncio.gather(*(inventory.reserve(event_id, reservation, 2) for _ in range(20)))

    assert all(r.status == pb.RESERVE_STATUS_RESERVED for r in replies)
    assert (await inventory.get_stock(event_id)).available == 8


async def test_release_repeat_returns_once(inventory: InventoryClient) -> None:
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


async def test_release_racing_repeats_return_once(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=10, available=10)
    reservation = new_reservation()
    await inventory.reserve(event_id, reservation, 5)

    replies = await asyncio.gather(*(inventory.release(event_id, reservation) for _ in range(20)))

    assert sum(r.released for r in replies) == 1
    assert (await inventory.get_stock(event_id)).available == 10


async def test_reserve_batch_across_nodes(inventory: InventoryClient, cluster_cache: SyncRedisCluster) -> None:
    events = events_on_distinct_nodes(cluster_cache, 3)
    for event_id in events:
        await inventory.init_stock(event_id, total=3, available=3)
    first, second, third = events
    repeated = new_reservation()
    items = [
        pb.ReserveRequest(event_id=first, reservation_id=repeated, quantity=2),
        pb.ReserveRequest(event_id=second, reservation_id=new_reservation(), quantity=3),
        pb.ReserveRequest(event_id=third, reservation_id=new_reservation(), quantity=1),
        pb.ReserveRequest(event_id=second, reservation_id=new_reservation(), quantity=1),
        pb.ReserveRequest(event_id=first, reservation_id=repeated, quantity=2),
        pb.ReserveRequest(event_id=first, reservation_id=repeated, quantity=1),
        pb.ReserveRequest(event_id=new_event_id(), reservation_id=new_reservation(), quantity=1),
    ]

    replies = await inventory.reserve_batch(items)

    assert [r.status for r in replies] == [
        pb.RESERVE_STATUS_RESERVED,
        pb.RESERVE_STATUS_RESERVED,
        pb.RESERVE_STATUS_RESERVED,
        pb.RESERVE_STATUS_SOLD_OUT,
        pb.RESERVE_STATUS_RESERVED,
        pb.RESERVE_STATUS_CONFLICT,
        pb.RESERVE_STATUS_STOCK_MISSING,
    ]
    available = [(await inventory.get_stock(event_id)).available for event_id in events]
    assert available == [1, 0, 2]


async def test_confirm_batch_across_nodes(inventory: InventoryClient, cluster_cache: SyncRedisCluster) -> None:
    events = events_on_distinct_nodes(cluster_cache, 3)
    holds = []
    for event_id in events:
        await inventory.init_stock(event_id, total=5, available=5)
        reservation = new_reservation()
        await inventory.reserve(event_id, reservation, 2)
        holds.append((event_id, reservation))
    released_event, released = events[1], new_reservation()
    await inventory.reserve(released_event, released, 1)
    await inventory.release(released_event, released)

    replies = await inventory.confirm_batch([
        *(pb.ConfirmRequest(event_id=event_id, reservation_id=reservation) for event_id, reservation in holds),
        pb.ConfirmRequest(event_id=released_event, reservation_id=released),
        pb.ConfirmRequest(event_id=events[2], reservation_id=new_reservation()),
    ])

    assert [(r.confirmed, r.previous_state) for r in replies] == [
        (True, pb.HOLD_STATE_HELD),
        (True, pb.HOLD_STATE_HELD),
        (True, pb.HOLD_STATE_HELD),
        (False, pb.HOLD_STATE_RELEASED),
        (False, pb.HOLD_STATE_UNKNOWN),
    ]
    for event_id in events:
        stock = await inventory.get_stock(event_id)
        assert (stock.available, stock.held) == (3, 0)


async def test_batch_after_script_flush(inventory: InventoryClient, cluster: LocalRedisCluster,
                                        cluster_cache: SyncRedisCluster) -> None:
    events = events_on_distinct_nodes(cluster_cache, 3)
    for event_id in events:
        await inventory.init_stock(event_id, total=5, available=5)
    for port in cluster.ports:
        cluster.cli(port, "SCRIPT", "FLUSH")

    replies = await inventory.reserve_batch(
        [pb.ReserveRequest(event_id=event_id, reservation_id=new_reservation(), quantity=1) for event_id in events]
    )

    assert [r.status for r in replies] == [pb.RESERVE_STATUS_RESERVED] * 3
    for event_id in events:
        assert (await inventory.get_stock(event_id)).available == 4


async def test_concurrent_reserves_never_oversell(inventory: InventoryClient) -> None:
    event_id = new_event_id()
    await inventory.init_stock(event_id, total=100, available=100)

    replies = await asyncio.gather(*(inventory.reserve(event_id, new_reservation(), 1) for _ in range(300)))

    statuses = [r.status for r in replies]
    assert statuses.count(pb.RESERVE_STATUS_RESERVED) == 100
    assert statuses.count(pb.RESERVE_STATUS_SOLD_OUT) == 200
    stock = await inventory.get_stock(event_id)
    assert (stock.available, stock.held) == (0, 100)


async def test_pool_of_one_waits_on_every_node(cluster: LocalRedisCluster, cluster_cache: SyncRedisCluster) -> None:
    events = events_on_distinct_nodes(cluster_cache, 3)
    nodes = [f"127.0.0.1:{node_port_of(cluster_cache, event_id)}" for event_id in events]
    per_event = 60
    batch_count = 3

    log_path = cluster.run_dir / "logs" / "inventory-cluster-pool-1.log"
    with running_inventory(cluster.url, log_path, REDIS_MODE="cluster", REDIS_POOL_SIZE="1") as service:
        async with InventoryClient(service.target, backoff=NO_RETRY, timeout=30) as client:
            for event_id in events:
                await client.init_stock(event_id, total=per_event + batch_count, available=per_event + batch_count)
            singles = [client.reserve(event_id, new_reservation(), 1) for event_id in events for _ in range(per_event)]
            # Each batch sends to all three nodes at once.
            batches = [
                client.reserve_batch([
                    pb.ReserveRequest(event_id=event_id, reservation_id=new_reservation(), quantity=1)
                    for event_id in events
                ])
                for _ in range(batch_count)
            ]
            outcomes = await gather_outcomes([*singles, *batches])
            available = [(await client.get_stock(event_id)).available for event_id in events]
        metrics = scrape(service.metrics_url)

    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    single_replies, batch_replies = outcomes[: len(singles)], outcomes[len(singles):]
    assert all(r.status == pb.RESERVE_STATUS_RESERVED for r in single_replies)
    assert all(r.status == pb.RESERVE_STATUS_RESERVED for reply in batch_replies for r in reply)
    assert available == [0, 0, 0]
    for node in nodes:
        assert value(metrics, "redis_pool_max_connections", node=node) == 1
        in_use = value(metrics, "redis_pool_connections_in_use", node=node)
        idle = value(metrics, "redis_pool_connections_idle", node=node)
        assert in_use + idle == 1, node
        assert value(metrics, "redis_pool_waits_total", node=node) > 0, node
        assert has_sample(metrics, "redis_pool_wait_timeouts_total", node=node), node
        assert value(metrics, "redis_pool_wait_timeouts_total", node=node) == 0, node


async def test_pool_wait_timeout_is_unavailable(cluster: LocalRedisCluster, cluster_cache: SyncRedisCluster) -> None:
    event_id = new_event_id()
    port = node_port_of(cluster_cache, event_id)
    node = f"127.0.0.1:{port}"

    log_path = cluster.run_dir / "logs" / "inventory-cluster-timeout.log"
    with running_inventory(
        cluster.url, log_path, REDIS_MODE="cluster", REDIS_POOL_SIZE="1", REDIS_TIMEOUT_MS="300"
    ) as service:
        async with InventoryClient(service.target, backoff=NO_RETRY, timeout=20) as client:
            await client.init_stock(event_id, total=10, available=10)
            # The first call takes the only permit and blocks on the paused
            # node for more than REDIS_TIMEOUT_MS, so the calls queued behind
            # it give up waiting.
            cluster.cli(port, "CLIENT", "PAUSE", "1500", "ALL")
            outcomes = await gather_outcomes(client.reserve(event_id, new_reservation(), 1) for _ in range(5))
        cluster.cli(port, "PING")  # returns once the pause is over
        metrics = scrape(service.metrics_url)

    assert unexpected_outcomes(outcomes) == []
    exhausted = pool_exhausted_errors(outcomes)
    assert exhausted
    assert "REDIS_POOL_SIZE=1" in exhausted[0].details()
    assert node in exhausted[0].details()
    assert value(metrics, "redis_pool_wait_timeouts_total", node=node) >= len(exhausted)
