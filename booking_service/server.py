"""Assemble and run the booking gRPC server."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import grpc
import psycopg
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from psycopg_pool import AsyncConnectionPool

from booking_monitor_pb.booking.v1 import booking_pb2, booking_pb2_grpc
from booking_service.config import BookingConfig
from booking_service.events import EventCatalog
from booking_service.idempotency import IdempotencyStore
from booking_service import metrics as booking_metrics
from booking_service.maintenance import Maintenance
from booking_service.migrate import apply_migrations
from booking_service.repository import Repository
from booking_service.saga import BookingSaga
from booking_service.servicer import BookingServicer
from booking_service.writer import GroupCommitWriter
from clients.batching import BatchingInventoryClient
from clients.inventory import InventoryClient
from common import lifecycle, limits, metrics, request_ids
from common.sold_out import SoldOutMemory
from common.settings import redact_url

logger = logging.getLogger(__name__)

SERVICE_NAME = booking_pb2.DESCRIPTOR.services_by_name["BookingService"].full_name
HEALTH_PROBE_INTERVAL_S = 1.0


class BookingServer:
    """The gRPC server with its PostgreSQL pool, inventory client and health status."""

    def __init__(self, config: BookingConfig) -> None:
        self.config = config
        self.pool = AsyncConnectionPool(
            config.database_url,
            min_size=config.pg_pool_min,
            max_size=config.pg_pool_max,
            kwargs={"autocommit": True, "options": f"-c statement_timeout={config.pg_statement_timeout_ms}"},
            timeout=config.pg_pool_timeout_ms / 1000,
            open=False,
            name="booking",
        )
        self.inventory = InventoryClient(config.inventory_target, timeout=config.inventory_timeout_ms / 1000)
        self.batched_inventory = BatchingInventoryClient(self.inventory, timeout=config.inventory_timeout_ms / 1000)
        self.repository = Repository(self.pool)
        self.catalog = EventCatalog(self.pool, self.repository, self.inventory, quiet_ms=config.hold_ms)
        self.writer = GroupCommitWriter(
            self.pool,
            max_batch=config.group_commit_max_batch,
            workers=config.group_commit_workers,
            max_tickets_per_user=config.max_tickets_per_user,
        )
        self.saga = BookingSaga(
            inventory=self.inventory,
            batched=self.batched_inventory,
            writer=self.writer,
            repository=self.repository,
            catalog=self.catalog,
            hold_ms=config.hold_ms,
            insert_margin_s=config.insert_margin_s,
            sold_out_memory=SoldOutMemory(config.sold_out_memory_ms / 1000),
            max_tickets_per_user=config.max_tickets_per_user,
        )
        self.keys = IdempotencyStore(self.pool, ttl=timedelta(seconds=config.idempotency_key_ttl_s))
        self.maintenance = Maintenance(
            repository=self.repository,
            inventory=self.inventory,
            keys=self.keys,
            interval_s=config.sweep_interval_ms / 1000,
        )
        self.health = health.aio.HealthServicer()
        self.server = limits.grpc_server(
            max_message_bytes=config.max_message_bytes,
            max_in_flight=config.max_in_flight,
            interceptors=[metrics.MetricsInterceptor(), request_ids.RequestIdInterceptor()],
        )
        booking_pb2_grpc.add_BookingServiceServicer_to_server(
            BookingServicer(
                saga=self.saga,
                repository=self.repository,
                catalog=self.catalog,
                inventory=self.inventory,
                keys=self.keys,
            ),
            self.server,
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        # Reflection lets grpcurl and ghz call the server without the .proto files.
        reflection.enable_server_reflection([SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        self.port = 0
        self._probe_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        metrics.serve_metrics(self.config.host, self.config.metrics_port)
        booking_metrics.watch_pool(self.pool)
        applied = await apply_migrations(self.config.database_url)
        logger.info("database schema up to date (%d migrations applied now)", len(applied))
        await self.pool.open(wait=True, timeout=30)
        self.writer.start()
        self.maintenance.start()
        self.port = self.server.add_insecure_port(f"{self.config.host}:{self.config.port}")
        await self.server.start()
        self._probe_task = asyncio.create_task(self._probe_postgres())
        logger.info(
            "booking service listening on %s:%d, PostgreSQL %s, inventory %s",
            self.config.host, self.port, redact_url(self.config.database_url), self.config.inventory_target,
        )

    async def stop(self) -> None:
        grace = self.config.shutdown_grace_ms / 1000
        await self._set_serving(False)
        if self._probe_task:
            self._probe_task.cancel()
        # Stop taking calls, let running ones finish, then let sagas that
        # hold stock finish their insert and confirm or release.
        await self.server.stop(grace)
        await self.saga.drain(grace)
        await self.maintenance.stop()
        await self.writer.stop()
        await self.batched_inventory.close()
        await self.inventory.close()
        await self.pool.close()

    async def _set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    async def _probe_postgres(self) -> None:
        """Keep the health status in step with whether PostgreSQL accepts queries."""
        serving: bool | None = None
        while True:
            try:
                async with self.pool.connection(timeout=2) as conn:
                    await conn.execute("SELECT 1")
                ok = True
            except (psycopg.Error, OSError) as exc:
                ok = False
                if serving is not False:
                    logger.warning("PostgreSQL health probe failed: %s", exc)
            if ok != serving:
                await self._set_serving(ok)
                if serving is not None:
                    logger.info("booking service is now %s", "SERVING" if ok else "NOT_SERVING")
                serving = ok
            await asyncio.sleep(HEALTH_PROBE_INTERVAL_S)


async def serve(config: BookingConfig) -> int:
    """Run the server until SIGTERM or SIGINT; return the process exit status."""
    server = BookingServer(config)
    return await lifecycle.run_until_signal("booking service", server.start, server.stop)
