"""Bound the store's concurrent Redis calls to the connection pool size, and
export the Redis connection pool as Prometheus metrics.

redis-py's cluster client keeps a pool of up to REDIS_POOL_SIZE connections
per node and raises MaxConnectionsError at once when a node's pool is full.
RedisCommandLimiter makes such a call wait up to REDIS_TIMEOUT_MS instead, in
both Redis modes, and counts the waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence

import redis.asyncio as redis
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import MaxConnectionsError, RedisClusterException, RedisError
from redis.observability.attributes import DB_CLIENT_CONNECTION_STATE, ConnectionState

from inventory_service import keys

logger = logging.getLogger(__name__)

# The first timed-out wait is logged at once, later ones at most once per interval.
TIMEOUT_LOG_INTERVAL_S = 10.0

WAIT_BUCKETS_S = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

# Label value for a node that the cluster client cannot name yet, because its
# slot map is not loaded or does not cover the key.
UNKNOWN_NODE = "unknown"


class RedisPoolExhausted(MaxConnectionsError):
    """No Redis connection became free within REDIS_TIMEOUT_MS."""


class RedisCommandLimiter:
    """Let at most `size` store calls use Redis at once, and make the others wait up to `timeout_s`.

    A store call uses at most one connection of each node at a time: a script
    call or a command runs on one connection, and a cluster pipeline sends to
    each node it touches over one connection. So with size equal to
    REDIS_POOL_SIZE, a call that holds a permit finds a free connection on
    its node. The exception is a released connection that redis-py marked for
    reconnect (after a topology change or a maintenance notification): the
    cluster node disconnects it in a background task and counts it as in use
    until then. In standalone mode the BlockingConnectionPool would wait too,
    and the limiter adds the metrics.
    """

    def __init__(self, client: redis.Redis | RedisCluster, *, size: int, timeout_s: float) -> None:
        self.size = size
        self.timeout_s = timeout_s
        self._client = client
        self._semaphore = asyncio.Semaphore(size)
        self._timeouts_not_logged = 0
        self._last_timeout_log = float("-inf")
        # Not registered with the global registry, because RedisPoolCollector
        # reports them after it creates the zero series of every node.
        self.waits = Counter(
            "redis_pool_waits",
            "Redis calls that waited for a free connection because REDIS_POOL_SIZE calls were in progress, "
            "by the node the call goes to. A batch that touches several nodes counts once for each.",
            ["node"],
            registry=None,
        )
        self.wait_seconds = Histogram(
            "redis_pool_wait_seconds",
            "Time Redis calls waited for a free connection, including waits that timed out, by node",
            ["node"],
            buckets=WAIT_BUCKETS_S,
            registry=None,
        )
        self.wait_timeouts = Counter(
            "redis_pool_wait_timeouts",
            "Redis calls that failed because no connection became free within REDIS_TIMEOUT_MS, by node",
            ["node"],
            registry=None,
        )

    def permit(self, *event_ids: int) -> _Permit:
        """Return an async context manager that holds one permit for a call on these events' keys.

        The event ids only name the nodes in the wait metrics. No ids means a
        keyless call such as PING, which the cluster client sends to its default
        node.
        """
        return _Permit(self, event_ids)

    def node_names(self, event_ids: Sequence[int] = ()) -> list[str]:
        """Return the "host:port" names of the nodes that serve the events' keys (the default node when empty)."""
        if not isinstance(self._client, RedisCluster):
            return [standalone_node_name(self._client.connection_pool)]
        if not event_ids:
            default_node = self._client.get_default_node()
            return [default_node.name if default_node else UNKNOWN_NODE]
        names = set()
        for event_id in event_ids:
            try:
                names.add(self._client.get_node_from_key(keys.stock_key(event_id)).name)
            except (RedisError, RedisClusterException):
                # SlotNotCoveredError, raised before the first command loaded
                # the slot map, is a RedisClusterException, not a RedisError.
                names.add(UNKNOWN_NODE)
        return sorted(names)

    async def _acquire(self, event_ids: Sequence[int]) -> None:
        if not self._semaphore.locked():
            await self._semaphore.acquire()  # returns without suspending
            return

        nodes = self.node_names(event_ids)
        for node in nodes:
            self.waits.labels(node).inc()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._semaphore.acquire()
        except TimeoutError:
            for node in nodes:
                self.wait_timeouts.labels(node).inc()
            self._log_timeout(nodes)
            raise RedisPoolExhausted(
                f"Redis connection pool exhausted: no connection became free within {self.timeout_s * 1000:.0f} ms "
                f"(REDIS_POOL_SIZE={self.size}, node {', '.join(nodes)}); "
                "raise REDIS_POOL_SIZE or REDIS_TIMEOUT_MS, or lower the load"
            ) from None
        finally:
            waited = time.perf_counter() - started
            for node in nodes:
                self.wait_seconds.labels(node).observe(waited)

    def _release(self) -> None:
        self._semaphore.release()

    def _log_timeout(self, nodes: list[str]) -> None:
        self._timeouts_not_logged += 1
        now = time.monotonic()
        if now - self._last_timeout_log < TIMEOUT_LOG_INTERVAL_S:
            return
        logger.warning(
            "Redis connection pool exhausted: %d call(s) found no free connection within %.0f ms since the "
            "previous warning (REDIS_POOL_SIZE=%d, latest on node %s); raise REDIS_POOL_SIZE or REDIS_TIMEOUT_MS, "
            "or lower the load",
            self._timeouts_not_logged, self.timeout_s * 1000, self.size, ", ".join(nodes),
        )
        self._timeouts_not_logged = 0
        self._last_timeout_log = now


class _Permit:
    __slots__ = ("_limiter", "_event_ids")

    def __init__(self, limiter: RedisCommandLimiter, event_ids: Sequence[int]) -> None:
        self._limiter = limiter
        self._event_ids = event_ids

    async def __aenter__(self) -> None:
        await self._limiter._acquire(self._event_ids)

    async def __aexit__(self, *exc_info: object) -> None:
        self._limiter._release()


def standalone_node_name(pool: redis.ConnectionPool) -> str:
    """Return "host:port" of the pool's server, or the socket path for a Unix socket URL."""
    kwargs = pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


class RedisPoolCollector(Collector):
    """Report the Redis connection pool per node at scrape time, with the limiter's wait metrics.

    collect() runs on the metrics server's thread. It only copies the node
    list and reads lengths of the pools' containers, which the GIL keeps
    consistent, though the figures of one node may be a moment apart.
    """

    def __init__(self, client: redis.Redis | RedisCluster, limiter: RedisCommandLimiter) -> None:
        self._client = client
        self._limiter = limiter

    def collect(self) -> Iterator[Metric]:
        in_use = GaugeMetricFamily(
            "redis_pool_connections_in_use", "Redis connections lent to a call, by node", labels=["node"]
        )
        idle = GaugeMetricFamily(
            "redis_pool_connections_idle", "Pooled Redis connections not in use, by node", labels=["node"]
        )
        maximum = GaugeMetricFamily(
            "redis_pool_max_connections", "Maximum Redis connections per node (REDIS_POOL_SIZE)", labels=["node"]
        )
        for node, node_in_use, node_idle, node_max in self._pool_counts():
            maximum.add_metric([node], node_max)
            if node_in_use is not None and node_idle is not None:
                in_use.add_metric([node], node_in_use)
                idle.add_metric([node], node_idle)
            # Show zero waits for each node rather than no series at all.
            self._limiter.waits.labels(node)
            self._limiter.wait_seconds.labels(node)
            self._limiter.wait_timeouts.labels(node)
        yield in_use
        yield idle
        yield maximum
        yield from self._limiter.waits.collect()
        yield from self._limiter.wait_seconds.collect()
        yield from self._limiter.wait_timeouts.collect()

    def _pool_counts(self) -> list[tuple[str, int | None, int | None, int]]:
        """Return (node, in use, idle, max) for each node of the client, with None where redis-py hides a count."""
        if not isinstance(self._client, RedisCluster):
            pool = self._client.connection_pool
            counts = {
                attributes.get(DB_CLIENT_CONNECTION_STATE): count for count, attributes in pool.get_connection_count()
            }
            return [(
                standalone_node_name(pool),
                counts.get(ConnectionState.USED.value, 0),
                counts.get(ConnectionState.IDLE.value, 0),
                pool.max_connections,
            )]

        rows = []
        for node in self._client.get_nodes():
            # NOTE: redis-py 8.2's ClusterNode has no public connection count,
            # so this reads its private lists: _connections contains every
            # connection the node opened and _free the ones not in use. If a
            # later redis-py drops them, in-use and idle go missing, not zero.
            opened = getattr(node, "_connections", None)
            free = getattr(node, "_free", None)
            if opened is None or free is None:
                rows.append((node.name, None, None, node.max_connections))
            else:
                rows.append((node.name, len(opened) - len(free), len(free), node.max_connections))
        return sorted(rows, key=lambda row: row[0])


def watch_redis_pool(client: redis.Redis | RedisCluster, limiter: RedisCommandLimiter) -> None:
    """Register the Redis pool metrics with the default Prometheus registry (once per process)."""
    REGISTRY.register(RedisPoolCollector(client, limiter))
