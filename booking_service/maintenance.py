"""Background upkeep of the booking service: the expiry sweep, retries of
pending releases and removal of expired idempotency keys.

The expiry sweep is what keeps a crash from leaking stock. A booking
service that dies between Reserve and insert leaves a hold that nobody
confirms or releases. Once the hold's deadline has passed, the sweep asks
PostgreSQL whether a booking was made from it: if so it confirms the hold,
otherwise it releases it.

Why this is safe against an insert still in flight: the saga never starts
an insert later than (hold deadline - statement timeout - 1 s), and
statement_timeout ends any statement that runs longer. So once the
deadline has passed, no insert for that hold can still commit, and what
PostgreSQL says is final. The inventory service releases a hold only if it
is still held and past its deadline, so a Confirm that lands first wins.
Several booking service processes may sweep at once: each step is
idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

import grpc
import psycopg

from booking_monitor_pb.inventory.v1 import inventory_pb2 as inventory_pb
from booking_service import metrics as booking_metrics
from booking_service.idempotency import IdempotencyStore
from booking_service.repository import Repository
from clients.inventory import InventoryClient

logger = logging.getLogger(__name__)

EXPIRED_HOLDS_PER_CALL = 500
# A cancel releases its own tickets right away; the retry waits this long
# first so it does not race that call.
PENDING_RELEASE_MIN_AGE_S = 2.0
KEY_CLEANUP_INTERVAL_S = 60.0


@dataclass
class SweepStats:
    confirmed: int = 0
    released: int = 0


class Maintenance:
    def __init__(
        self, *, repository: Repository, inventory: InventoryClient, keys: IdempotencyStore, interval_s: float
    ) -> None:
        self._repository = repository
        self._inventory = inventory
        self._keys = keys
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._last_key_cleanup = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="maintenance")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except (psycopg.Error, grpc.aio.AioRpcError, OSError) as exc:
                # PostgreSQL or the inventory service is down; the next
                # round tries again.
                logger.warning("maintenance round failed: %s", _describe(exc))

    async def run_once(self) -> SweepStats:
        stats = await self.sweep_expired_holds()
        await self.retry_pending_releases()
        if time.monotonic() - self._last_key_cleanup > KEY_CLEANUP_INTERVAL_S:
            deleted = await self._keys.delete_expired()
            self._last_key_cleanup = time.monotonic()
            if deleted:
                logger.info("deleted %d expired idempotency keys", deleted)
        return stats

    async def sweep_expired_holds(self) -> SweepStats:
        # NOTE: one ListExpiredHolds call per event and round; with very many
        # events this wants an index of events that have open holds.
        stats = SweepStats()
        for event_id in await self._repository.event_ids():
            holds = await self._inventory.list_expired_holds(event_id, limit=EXPIRED_HOLDS_PER_CALL)
            if holds:
                await self._settle(event_id, holds, stats)
        return stats

    async def _settle(self, event_id: int, holds: list[inventory_pb.Hold], stats: SweepStats) -> None:
        booked = await self._repository.booked_reservations([uuid.UUID(h.reservation_id) for h in holds])
        to_confirm = [h.reservation_id for h in holds if uuid.UUID(h.reservation_id) in booked]
        to_release = [h.reservation_id for h in holds if uuid.UUID(h.reservation_id) not in booked]
        if to_confirm:
            replies = await self._inventory.confirm_batch(
                [inventory_pb.ConfirmRequest(event_id=event_id, reservation_id=r) for r in to_confirm]
            )
            stats.confirmed += sum(reply.confirmed for reply in replies)
            booking_metrics.SWEPT_HOLDS.labels("confirmed").inc(sum(reply.confirmed for reply in replies))
            logger.info("sweep confirmed %d expired holds of event %d that have bookings", len(to_confirm), event_id)
        if to_release:
            released = await self._inventory.expire_holds(event_id, to_release)
            stats.released += sum(released)
            booking_metrics.SWEPT_HOLDS.labels("released").inc(sum(released))
            logger.info(
                "sweep released %d of %d expired holds of event %d without bookings: %s",
                sum(released), len(to_release), event_id, ", ".join(to_release[:10]),
            )

    async def retry_pending_releases(self) -> int:
        done = 0
        for reservation_id, event_id, quantity in await self._repository.pending_releases(PENDING_RELEASE_MIN_AGE_S):
            try:
                await self._inventory.release(event_id, str(reservation_id), quantity_if_unknown=quantity)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    logger.warning(
                        "retry of release of reservation %s (event %d) failed: %s", reservation_id, event_id, _describe(exc)
                    )
                    continue
                # No stock counter: its rebuild from PostgreSQL counts these tickets.
            await self._repository.release_done(reservation_id)
            logger.info("returned %d tickets of cancelled reservation %s (event %d) on retry", quantity, reservation_id, event_id)
            done += 1
        return done


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc)
