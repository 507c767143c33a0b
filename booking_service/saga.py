"""The Book saga: reserve in the inventory service, insert in PostgreSQL, confirm.

When the insert fails for sure, the compensating Release returns the held
tickets. When its outcome is unknown (the connection broke), the saga looks
the booking up by reservation id before choosing between confirm and
release. If PostgreSQL cannot tell either, the hold is left to its deadline.

Once a hold is taken, the rest of the saga runs in its own task: a caller
that cancels or times out stops waiting but never interrupts the saga
half-way, so a hold is never abandoned by a cancelled call.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from dataclasses import dataclass

import grpc
import psycopg

from booking_monitor_pb.inventory.v1 import inventory_pb2 as inventory_pb
from booking_service import metrics
from booking_service.errors import DependencyUnavailable, NotFound
from booking_service.events import EventCatalog
from booking_service.models import BookingRow, NewBooking
from booking_service.repository import Repository
from booking_service.writer import GroupCommitWriter, InsertDeadlinePassed, InsertOutcomeUnknown
from clients.batching import BatchingInventoryClient
from clients.inventory import InventoryClient
from common.sold_out import SoldOutMemory

logger = logging.getLogger(__name__)


class BookOutcome(enum.Enum):
    CONFIRMED = "confirmed"
    SOLD_OUT = "sold_out"
    USER_LIMIT_REACHED = "user_limit_reached"


@dataclass(frozen=True)
class BookResult:
    outcome: BookOutcome
    booking: BookingRow | None = None
    # Tickets left when the outcome is SOLD_OUT.
    available: int = 0


class AttemptReleased(DependencyUnavailable):
    """An earlier attempt with this reservation id was released; a retry needs a new id."""

    def __init__(self, reservation_id: uuid.UUID) -> None:
        super().__init__("inventory", f"the hold of reservation {reservation_id} was already released")
        self.reservation_id = reservation_id


class BookingSaga:
    def __init__(
        self,
        *,
        inventory: InventoryClient,
        batched: BatchingInventoryClient,
        writer: GroupCommitWriter,
        repository: Repository,
        catalog: EventCatalog,
        hold_ms: int,
        insert_margin_s: float,
        sold_out_memory: SoldOutMemory,
        max_tickets_per_user: int = 0,
    ) -> None:
        self._inventory = inventory
        self._batched = batched
        self._writer = writer
        self._repository = repository
        self._catalog = catalog
        self._hold_ms = hold_ms
        self._insert_margin_s = insert_margin_s
        self._sold_out = sold_out_memory
        self._max_tickets_per_user = max_tickets_per_user
        self._in_flight: set[asyncio.Task[BookResult]] = set()

    async def book(
        self,
        *,
        user_id: int,
        event_id: int,
        quantity: int,
        reservation_id: uuid.UUID | None = None,
        timeout: float | None = None,
    ) -> BookResult:
        """Book tickets; raise NotFound for an unknown event and DependencyUnavailable
        when Redis, the inventory service or PostgreSQL fails.

        A caller retrying under an idempotency key passes the key's
        reservation id, so every attempt shares one hold and one booking row.
        timeout (seconds) is what is left of the caller's deadline; it bounds
        the Reserve call.
        """
        await self._catalog.require(event_id)
        remembered = self._sold_out.sold_out(event_id, quantity)
        if remembered is not None:
            return BookResult(BookOutcome.SOLD_OUT, available=remembered)
        reservation_id = reservation_id or uuid.uuid4()
        reply = await self._reserve(event_id, reservation_id, quantity, user_id, timeout)
        if reply.status == inventory_pb.RESERVE_STATUS_STOCK_MISSING:
            await self._catalog.rebuild_stock(event_id)
            reply = await self._reserve(event_id, reservation_id, quantity, user_id, timeout)

        metrics.AVAILABLE_TICKETS.labels(str(event_id)).set(reply.available)
        if reply.status == inventory_pb.RESERVE_STATUS_SOLD_OUT:
            self._sold_out.note(event_id, reply.available)
            return BookResult(BookOutcome.SOLD_OUT, available=reply.available)
        if reply.status == inventory_pb.RESERVE_STATUS_CONFIRMED:
            return await self._earlier_booking(event_id, reservation_id)
        if reply.status == inventory_pb.RESERVE_STATUS_RELEASED:
            raise AttemptReleased(reservation_id)
        if reply.status != inventory_pb.RESERVE_STATUS_RESERVED:
            raise DependencyUnavailable(
                "inventory", f"unexpected Reserve status {inventory_pb.ReserveStatus.Name(reply.status)}"
            )

        # The insert must end before the hold's deadline, or the expiry
        # sweep could release tickets of a booking that then commits. The
        # remaining time comes from Redis' own clock, and the margin covers
        # the statement timeout that bounds the insert once started.
        remaining_s = (reply.hold_deadline_ms - reply.server_time_ms) / 1000
        insert_deadline = asyncio.get_running_loop().time() + remaining_s - self._insert_margin_s
        booking = NewBooking(
            event_id=event_id,
            user_id=user_id,
            quantity=quantity,
            reservation_id=reservation_id,
            insert_deadline=insert_deadline,
        )
        task = asyncio.create_task(self._complete(booking))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return await asyncio.shield(task)

    async def drain(self, timeout: float) -> None:
        """Wait up to timeout seconds for sagas past their Reserve to finish."""
        if self._in_flight:
            logger.info("waiting for %d bookings in flight", len(self._in_flight))
            await asyncio.wait(set(self._in_flight), timeout=timeout)

    async def _reserve(
        self, event_id: int, reservation_id: uuid.UUID, quantity: int, user_id: int, timeout: float | None
    ) -> inventory_pb.ReserveResponse:
        try:
            return await self._batched.reserve(
                event_id, str(reservation_id), quantity, user_id=user_id, hold_ms=self._hold_ms, timeout=timeout
            )
        except asyncio.CancelledError:
            # The hold may have been taken after this caller went away.
            self._release_in_background(event_id, reservation_id)
            raise
        except grpc.aio.AioRpcError as exc:
            # Reserve is idempotent per reservation id: a hold that was taken
            # although the reply was lost is released here, and the Release
            # leaves a tombstone should the Reserve still be in flight.
            if exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE):
                self._release_in_background(event_id, reservation_id)
            raise DependencyUnavailable("inventory", f"Reserve failed: {exc.code().name}: {exc.details()}") from exc

    async def _earlier_booking(self, event_id: int, reservation_id: uuid.UUID) -> BookResult:
        row = await self._repository.find_booking_by_reservation(reservation_id)
        if row is None:
            raise DependencyUnavailable(
                "inventory", f"reservation {reservation_id} of event {event_id} is confirmed but has no booking"
            )
        return BookResult(BookOutcome.CONFIRMED, row)

    async def _complete(self, booking: NewBooking) -> BookResult:
        try:
            row = await self._writer.insert(booking)
        except InsertOutcomeUnknown as exc:
            row = await self._resolve_unknown_insert(booking, exc)
        except InsertDeadlinePassed as exc:
            await self._compensate(booking, "its insert could not start before the hold's deadline")
            raise DependencyUnavailable("PostgreSQL", "insert timed out waiting for a connection") from exc
        except psycopg.errors.UniqueViolation:
            # Another attempt with the same reservation id (a retry under
            # the same idempotency key) wrote the booking first.
            row = await self._repository.find_booking_by_reservation(booking.reservation_id)
            if row is None:
                raise
        except psycopg.Error as exc:
            await self._compensate(booking, f"insert failed: {exc}")
            raise DependencyUnavailable("PostgreSQL", f"insert failed: {exc}") from exc

        if row is None:
            if self._max_tickets_per_user and await self._over_user_limit(booking):
                await self._compensate(booking, f"user {booking.user_id} reached the per-user limit")
                return BookResult(BookOutcome.USER_LIMIT_REACHED)
            # PostgreSQL has fewer tickets left than Redis thought: it wins.
            await self._compensate(booking, "PostgreSQL has too few tickets left")
            return BookResult(BookOutcome.SOLD_OUT)

        await self._confirm(booking)
        return BookResult(BookOutcome.CONFIRMED, row)

    async def _over_user_limit(self, booking: NewBooking) -> bool:
        """Tell whether the insert was refused for the per-user limit rather than for stock.

        NOTE: read after the refusal, so a cancel in between can make a
        limit refusal read as sold out; neither answer books anything.
        """
        try:
            owned = await self._repository.user_confirmed_quantity(booking.event_id, booking.user_id)
        except psycopg.Error:
            return False
        return owned + booking.quantity > self._max_tickets_per_user

    async def _resolve_unknown_insert(self, booking: NewBooking, cause: Exception) -> BookingRow | None:
        try:
            row = await self._repository.find_booking_by_reservation(booking.reservation_id)
        except psycopg.Error as exc:
            logger.warning(
                "cannot tell whether reservation %s of event %d was written (%s); its hold is left to expire",
                booking.reservation_id, booking.event_id, exc,
            )
            raise DependencyUnavailable("PostgreSQL", f"insert outcome unknown: {cause}") from exc
        if row is None:
            await self._compensate(booking, f"insert not committed: {cause}")
            raise DependencyUnavailable("PostgreSQL", f"insert failed: {cause}")
        logger.info("reservation %s of event %d was written although the connection failed", booking.reservation_id, booking.event_id)
        return row

    def forget_sold_out(self, event_id: int) -> None:
        """Stop answering sold out from memory for event_id: this process returned stock to it."""
        self._sold_out.forget(event_id)

    async def _compensate(self, booking: NewBooking, reason: str) -> None:
        metrics.COMPENSATIONS.inc()
        self._sold_out.forget(booking.event_id)
        logger.warning(
            "compensating: releasing reservation %s of event %d (%d tickets) because %s",
            booking.reservation_id, booking.event_id, booking.quantity, reason,
        )
        try:
            await self._inventory.release(booking.event_id, str(booking.reservation_id))
        except grpc.aio.AioRpcError as exc:
            logger.error(
                "release of reservation %s of event %d failed (%s: %s); the hold expires on its deadline",
                booking.reservation_id, booking.event_id, exc.code().name, exc.details(),
            )

    async def _confirm(self, booking: NewBooking) -> None:
        try:
            await self._batched.confirm(booking.event_id, str(booking.reservation_id))
        except grpc.aio.AioRpcError as exc:
            # The booking is durable; the expiry sweep finds its row in
            # PostgreSQL and confirms the hold instead of releasing it.
            logger.warning(
                "confirm of reservation %s of event %d failed (%s: %s); left to the expiry sweep",
                booking.reservation_id, booking.event_id, exc.code().name, exc.details(),
            )

    def _release_in_background(self, event_id: int, reservation_id: uuid.UUID) -> None:
        booking = NewBooking(event_id=event_id, user_id=0, quantity=0, reservation_id=reservation_id)
        task = asyncio.create_task(self._compensate(booking, "the Reserve call failed or timed out"))
        self._in_flight.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._in_flight.discard)
