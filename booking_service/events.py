"""Event look-ups for the Book path, and stock rebuilds from PostgreSQL."""

from __future__ import annotations

import logging

import grpc
import psycopg
from psycopg_pool import AsyncConnectionPool

from booking_service.errors import DependencyUnavailable, NotFound
from booking_service.models import EventRow
from booking_service.repository import Repository
from clients.inventory import InventoryClient

logger = logging.getLogger(__name__)


class EventCatalog:
    """Remembers which events exist, since events are never deleted, so a
    booking needs no PostgreSQL round trip to check its event id."""

    def __init__(
        self, pool: AsyncConnectionPool, repository: Repository, inventory: InventoryClient, *, quiet_ms: int
    ) -> None:
        self._pool = pool
        self._repository = repository
        self._inventory = inventory
        self._quiet_ms = quiet_ms
        self._known: set[int] = set()

    def remember(self, event_id: int) -> None:
        self._known.add(event_id)

    async def require(self, event_id: int) -> None:
        if event_id in self._known:
            return
        try:
            event = await self._repository.get_event(event_id)
        except psycopg.Error as exc:
            raise DependencyUnavailable("PostgreSQL", str(exc)) from exc
        if event is None:
            raise NotFound("event", event_id)
        self._known.add(event_id)

    async def init_stock(self, event: EventRow) -> None:
        """Create the event's stock counter in the inventory service, keeping one that exists."""
        await self._inventory.init_stock(event.id, total=event.total_tickets, available=event.available_tickets)

    async def rebuild_stock(self, event_id: int) -> None:
        """Create a missing stock counter from PostgreSQL's sold count.

        A counter that went missing with Redis' data is rebuilt only after a
        quiet period as long as a hold's lifetime. Holds taken before the
        loss may still become bookings until their deadlines pass, and a
        rebuild before then would count those tickets twice. Until then this
        raises DependencyUnavailable with the time to wait.

        Runs under the event's row lock, and InitStock keeps a counter that
        another process created meanwhile, so concurrent rebuilds of one
        event write it once. Cancels whose tickets have not yet gone back to
        Redis are already counted as available here, so their holds get
        tombstones and a late Release of them returns nothing.
        """
        try:
            rebuild = await self._inventory.begin_rebuild(event_id, quiet_ms=self._quiet_ms)
        except grpc.aio.AioRpcError as exc:
            raise DependencyUnavailable("inventory", f"stock rebuild failed: {exc.code().name}: {exc.details()}") from exc
        if rebuild.stock_exists:
            return
        if rebuild.wait_ms > 0:
            raise DependencyUnavailable(
                "inventory",
                f"stock of event {event_id} was lost by Redis and is rebuilt from PostgreSQL in {rebuild.wait_ms} ms; retry then",
            )
        try:
            async with self._pool.connection() as conn, conn.transaction():
                locked = await self._repository.lock_event_stock(conn, event_id)
                if locked is None:
                    raise NotFound("event", event_id)
                event, pending_releases = locked
                reply = await self._inventory.init_stock(
                    event_id,
                    total=event.total_tickets,
                    available=event.available_tickets,
                    released_reservation_ids=[str(r) for r in pending_releases],
                )
        except psycopg.Error as exc:
            raise DependencyUnavailable("PostgreSQL", f"stock rebuild failed: {exc}") from exc
        except grpc.aio.AioRpcError as exc:
            raise DependencyUnavailable("inventory", f"stock rebuild failed: {exc.code().name}: {exc.details()}") from exc
        if reply.initialised:
            logger.warning(
                "rebuilt missing stock of event %d from PostgreSQL: total=%d available=%d",
                event_id, reply.stock.total, reply.stock.available,
            )
