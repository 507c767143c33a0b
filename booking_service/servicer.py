"""gRPC servicer for booking.v1.BookingService: validate, run the use case, map errors."""

from __future__ import annotations

import logging
import uuid

import grpc
import psycopg

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from booking_monitor_pb.booking.v1 import booking_pb2_grpc as pb_grpc
from booking_service import metrics
from booking_service.convert import STATUS_FROM_PROTO, booking_message, event_message
from booking_service.errors import DependencyUnavailable, NotFound
from booking_service.events import EventCatalog
from booking_service.idempotency import IdempotencyConflict, IdempotencyStore, fingerprint
from booking_service.repository import Repository
from booking_service.saga import AttemptReleased, BookingSaga, BookOutcome, BookResult
from clients.inventory import InventoryClient
from common import rules

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 20


class BookingServicer(pb_grpc.BookingServiceServicer):
    def __init__(
        self,
        *,
        saga: BookingSaga,
        repository: Repository,
        catalog: EventCatalog,
        inventory: InventoryClient,
        keys: IdempotencyStore,
    ) -> None:
        self._saga = saga
        self._repository = repository
        self._catalog = catalog
        self._inventory = inventory
        self._keys = keys

    async def CreateEvent(self, request: pb.CreateEventRequest, context: grpc.aio.ServicerContext) -> pb.Event:
        async with _ErrorsMapped(context, "CreateEvent"):
            name = rules.event_name(request.name)
            total = rules.total_tickets(request.total_tickets)
            idempotency_key = rules.idempotency_key(request.idempotency_key)
            if idempotency_key:
                event, created = await self._keys.create_event_once(idempotency_key, fingerprint(name, total), name, total)
                if not created:
                    logger.info("CreateEvent with idempotency key %r returned existing event %d", idempotency_key, event.id)
                    return event_message(event)
            else:
                event = await self._repository.create_event(name, total)
            self._catalog.remember(event.id)
            logger.info("created event %d %r with %d tickets", event.id, event.name, event.total_tickets)
            try:
                await self._catalog.init_stock(event)
            except grpc.aio.AioRpcError as exc:
                # The event exists; its stock is rebuilt from PostgreSQL on
                # the first booking that finds it missing.
                logger.warning(
                    "stock of new event %d not initialised (%s: %s); it is rebuilt on first use",
                    event.id, exc.code().name, exc.details(),
                )
            return event_message(event)

    async def GetEvent(self, request: pb.GetEventRequest, context: grpc.aio.ServicerContext) -> pb.Event:
        async with _ErrorsMapped(context, "GetEvent", f"event {request.event_id}"):
            event_id = rules.positive_id("event_id", request.event_id)
            event = await self._repository.get_event(event_id)
            if event is None:
                raise NotFound("event", event_id)
            return event_message(event)

    async def Book(self, request: pb.BookRequest, context: grpc.aio.ServicerContext) -> pb.BookResponse:
        async with _ErrorsMapped(context, "Book", f"event {request.event_id} user {request.user_id}"):
            user_id = rules.positive_id("user_id", request.user_id)
            event_id = rules.positive_id("event_id", request.event_id)
            quantity = rules.quantity(request.quantity)
            idempotency_key = rules.idempotency_key(request.idempotency_key)
            # What is left of the caller's deadline bounds the Reserve call.
            timeout = context.time_remaining()
            if idempotency_key:
                result = await self._book_once(idempotency_key, user_id, event_id, quantity, timeout)
            else:
                result = await self._saga.book(user_id=user_id, event_id=event_id, quantity=quantity, timeout=timeout)
            metrics.BOOKINGS.labels(result.outcome.value).inc()
            if result.outcome is BookOutcome.SOLD_OUT:
                return pb.BookResponse(outcome=pb.BOOK_OUTCOME_SOLD_OUT, available_tickets=result.available)
            if result.outcome is BookOutcome.USER_LIMIT_REACHED:
                return pb.BookResponse(outcome=pb.BOOK_OUTCOME_USER_LIMIT_REACHED)
            assert result.booking is not None  # a confirmed outcome always carries its row
            return pb.BookResponse(outcome=pb.BOOK_OUTCOME_CONFIRMED, booking=booking_message(result.booking))

    async def CancelBooking(self, request: pb.CancelBookingRequest, context: grpc.aio.ServicerContext) -> pb.Booking:
        async with _ErrorsMapped(context, "CancelBooking", f"booking {request.booking_id}"):
            booking_id = rules.positive_id("booking_id", request.booking_id)
            outcome = await self._repository.cancel_booking(booking_id)
            if outcome is None:
                raise NotFound("booking", booking_id)
            booking, changed = outcome
            if changed:
                logger.info("cancelled booking %d of event %d, returning %d tickets", booking.id, booking.event_id, booking.quantity)
                await self._return_tickets(booking.event_id, str(booking.reservation_id), booking.quantity, booking.id)
                self._saga.forget_sold_out(booking.event_id)
            return booking_message(booking)

    async def GetBooking(self, request: pb.GetBookingRequest, context: grpc.aio.ServicerContext) -> pb.Booking:
        async with _ErrorsMapped(context, "GetBooking", f"booking {request.booking_id}"):
            booking_id = rules.positive_id("booking_id", request.booking_id)
            booking = await self._repository.get_booking(booking_id)
            if booking is None:
                raise NotFound("booking", booking_id)
            return booking_message(booking)

    async def ListBookings(
        self, request: pb.ListBookingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBookingsResponse:
        async with _ErrorsMapped(context, "ListBookings"):
            page = rules.page(request.page)
            size = rules.page_size(request.size, DEFAULT_PAGE_SIZE)
            status = None
            if request.status != pb.BOOKING_STATUS_UNSPECIFIED:
                if request.status not in STATUS_FROM_PROTO:
                    raise rules.InvalidInput("status", f"must be CONFIRMED or CANCELLED, got {request.status}")
                status = STATUS_FROM_PROTO[request.status]
            user_id = rules.positive_id("user_id", request.user_id) if request.user_id else None
            event_id = rules.positive_id("event_id", request.event_id) if request.event_id else None
            rows, total = await self._repository.list_bookings(
                page=page, size=size, status=status, user_id=user_id, event_id=event_id
            )
            return pb.ListBookingsResponse(
                bookings=[booking_message(row) for row in rows], total=total, page=page, size=size
            )

    async def _book_once(
        self, idempotency_key: str, user_id: int, event_id: int, quantity: int, timeout: float | None
    ) -> BookResult:
        """Book under an idempotency key: every attempt with the key shares one reservation id."""
        request_fingerprint = fingerprint(user_id, event_id, quantity)
        for attempt in range(2):
            key = await self._keys.claim_booking_key(idempotency_key, request_fingerprint)
            if key.outcome == "confirmed" and key.booking_id is not None:
                booking = await self._repository.get_booking(key.booking_id)
                if booking is not None:
                    return BookResult(BookOutcome.CONFIRMED, booking)
            if key.outcome == "sold_out":
                return BookResult(BookOutcome.SOLD_OUT)
            try:
                result = await self._saga.book(
                    user_id=user_id,
                    event_id=event_id,
                    quantity=quantity,
                    reservation_id=key.reservation_id,
                    timeout=timeout,
                )
            except AttemptReleased:
                # An earlier attempt with this key failed and returned its
                # tickets, so nothing was booked: start over with a new hold.
                await self._keys.forget_booking_key(idempotency_key, key.reservation_id)
                if attempt == 0:
                    logger.info("idempotency key %r: earlier attempt was released, retrying with a new hold", idempotency_key)
                    continue
                raise
            if result.outcome is BookOutcome.USER_LIMIT_REACHED:
                # Not remembered: the user may cancel and then retry with this key.
                await self._keys.forget_booking_key(idempotency_key, key.reservation_id)
                return result
            outcome = "confirmed" if result.outcome is BookOutcome.CONFIRMED else "sold_out"
            await self._keys.record_booking_outcome(idempotency_key, outcome, result.booking.id if result.booking else None)
            return result
        raise AssertionError("unreachable: the loop returns or raises")

    async def _return_tickets(self, event_id: int, reservation_id: str, quantity: int, booking_id: int) -> None:
        try:
            await self._inventory.release(event_id, reservation_id, quantity_if_unknown=quantity)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                # The pending_releases row written with the cancel stays,
                # and the maintenance loop retries it.
                logger.warning(
                    "returning %d tickets of cancelled booking %d (event %d, reservation %s) failed, will retry: %s: %s",
                    quantity, booking_id, event_id, reservation_id, exc.code().name, exc.details(),
                )
                return
            # No stock counter: its rebuild from PostgreSQL counts these tickets.
        await self._repository.release_done(uuid.UUID(reservation_id))


class _ErrorsMapped:
    """Map the service's exceptions to gRPC status codes, logging what is caught."""

    def __init__(self, context: grpc.aio.ServicerContext, method: str, ids: str = "") -> None:
        self._context = context
        self._method = method
        self._ids = ids

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            return False
        if isinstance(exc, rules.InvalidInput):
            await self._context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if isinstance(exc, NotFound):
            await self._context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        if isinstance(exc, IdempotencyConflict):
            await self._context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        if self._method == "Book" and not isinstance(exc, (rules.InvalidInput, NotFound, IdempotencyConflict)):
            metrics.BOOKINGS.labels("failed").inc()
        if isinstance(exc, DependencyUnavailable):
            logger.warning("%s %s failed: %s", self._method, self._ids, exc)
            await self._context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        if isinstance(exc, psycopg.Error):
            logger.warning("%s %s failed: PostgreSQL error: %s", self._method, self._ids, exc)
            await self._context.abort(grpc.StatusCode.UNAVAILABLE, f"PostgreSQL unavailable: {exc}")
        if isinstance(exc, grpc.aio.AioRpcError):
            logger.warning("%s %s failed: inventory call failed: %s %s", self._method, self._ids, exc.code().name, exc.details())
            await self._context.abort(grpc.StatusCode.UNAVAILABLE, f"inventory unavailable: {exc.code().name}: {exc.details()}")
        return False
