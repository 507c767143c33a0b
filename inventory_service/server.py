"""Assemble and run the inventory gRPC server."""

from __future__ import annotations

import asyncio
import logging

import grpc
import redis.asyncio as redis
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from redis.asyncio.cluster import RedisCluster

from booking_monitor_pb.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from common import lifecycle, limits, metrics, request_ids
from common.settings import redact_url
from inventory_service.config import InventoryConfig
from inventory_service.redis_pool import RedisCommandLimiter, watch_redis_pool
from inventory_service.servicer import InventoryServicer
from inventory_service.store import StockStore

logger = logging.getLogger(__name__)

SERVICE_NAME = inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name
HEALTH_PROBE_INTERVAL_S = 1.0


def make_redis(config: InventoryConfig) -> redis.Redis | RedisCluster:
    timeout = config.redis_timeout_ms / 1000
    if config.redis_mode == "cluster":
        # The cluster client discovers the other nodes from the one in the
        # URL and keeps a pool of up to max_connections per node. A full node
        # pool raises MaxConnectionsError at once, so the store's
        # RedisCommandLimiter keeps calls waiting before they reach it.
        return RedisCluster.from_url(
            config.redis_url,
            max_connections=config.redis_pool_size,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
        )
    # A blocking pool makes a call wait up to `timeout` for a free
    # connection instead of failing at once when all are busy.
    pool = redis.BlockingConnectionPool.from_url(
        config.redis_url,
        max_connections=config.redis_pool_size,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )
    return redis.Redis(connection_pool=pool)


class InventoryServer:
    """The gRPC server with its Redis client and health status."""

    def __init__(self, config: InventoryConfig) -> None:
        self.config = config
        self.redis = make_redis(config)
        self.limiter = RedisCommandLimiter(
            self.redis, size=config.redis_pool_size, timeout_s=config.redis_timeout_ms / 1000
        )
        self.store = StockStore(self.redis, self.limiter)
        self.health = health.aio.HealthServicer()
        self.server = limits.grpc_server(
            max_message_bytes=config.max_message_bytes,
            max_in_flight=config.max_in_flight,
            interceptors=[metrics.MetricsInterceptor(), request_ids.RequestIdInterceptor()],
        )
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(
            InventoryServicer(self.store, default_hold_ms=config.hold_ms), self.server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        # Reflection lets grpcurl and ghz call the server without the .proto files.
        reflection.enable_server_reflection([SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        self.port = 0
        self._probe_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        metrics.serve_metrics(self.config.host, self.config.metrics_port)
        watch_redis_pool(self.redis, self.limiter)
        self.port = self.server.add_insecure_port(f"{self.config.host}:{self.config.port}")
        await self.server.start()
        self._probe_task = asyncio.create_task(self._probe_redis())
        logger.info(
            "inventory service listening on %s:%d, Redis %s",
            self.config.host, self.port, redact_url(self.config.redis_url),
        )

    async def stop(self) -> None:
        await self._set_serving(False)
        if self._probe_task:
            self._probe_task.cancel()
        await self.server.stop(self.config.shutdown_grace_ms / 1000)
        await self.redis.aclose()

    async def _set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    async def _probe_redis(self) -> None:
        """Keep the health status in step with whether Redis replies to PING."""
        serving: bool | None = None
        while True:
            try:
                ok = await self.store.ping()
            except Exception as exc:  # any failure means not serving
                ok = False
                if serving is not False:
                    logger.warning("Redis health probe failed: %s", exc)
            if ok != serving:
                await self._set_serving(ok)
                if serving is not None:
                    logger.info("inventory service is now %s", "SERVING" if ok else "NOT_SERVING")
                serving = ok
            await asyncio.sleep(HEALTH_PROBE_INTERVAL_S)


async def serve(config: InventoryConfig) -> int:
    """Run the server until SIGTERM or SIGINT; return the process exit status."""
    server = InventoryServer(config)
    return await lifecycle.run_until_signal("inventory service", server.start, server.stop)
