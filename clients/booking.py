"""Async client for booking.v1.BookingService."""

from __future__ import annotations

import grpc

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from booking_monitor_pb.booking.v1 import booking_pb2_grpc as pb_grpc
from clients.channel import open_channel
from clients.retry import NO_RETRY, Backoff, call_with_retry
from common import request_ids

DEFAULT_TIMEOUT_S = 5.0


class BookingClient:
    """Calls the booking service.

    Reads are retried on UNAVAILABLE. Book and CreateEvent are retried only
    when an idempotency key is given, because only then is a repeat harmless;
    CancelBooking is idempotent and always retried. Each call sends the
    current request id (common.request_ids) as x-request-id metadata.
    """

    def __init__(
        self,
        target: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        backoff: Backoff | None = None,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.target = target
        self._channel = channel or open_channel(target)
        self._stub = pb_grpc.BookingServiceStub(self._channel)
        self._timeout = timeout
        self._backoff = backoff or Backoff()

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> BookingClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def create_event(
        self, name: str, total_tickets: int, *, idempotency_key: str = "", timeout: float | None = None, metadata=None
    ) -> pb.Event:
        request = pb.CreateEventRequest(name=name, total_tickets=total_tickets, idempotency_key=idempotency_key)
        backoff = self._backoff if idempotency_key else NO_RETRY
        return await self._call("CreateEvent", self._stub.CreateEvent, request, timeout, backoff, metadata)

    async def get_event(self, event_id: int, *, timeout: float | None = None, metadata=None) -> pb.Event:
        request = pb.GetEventRequest(event_id=event_id)
        return await self._call("GetEvent", self._stub.GetEvent, request, timeout, self._backoff, metadata, read=True)

    async def book(
        self,
        *,
        user_id: int,
        event_id: int,
        quantity: int,
        idempotency_key: str = "",
        timeout: float | None = None,
        metadata=None,
    ) -> pb.BookResponse:
        request = pb.BookRequest(user_id=user_id, event_id=event_id, quantity=quantity, idempotency_key=idempotency_key)
        backoff = self._backoff if idempotency_key else NO_RETRY
        return await self._call("Book", self._stub.Book, request, timeout, backoff, metadata)

    async def cancel_booking(self, booking_id: int, *, timeout: float | None = None, metadata=None) -> pb.Booking:
        request = pb.CancelBookingRequest(booking_id=booking_id)
        return await self._call("CancelBooking", self._stub.CancelBooking, request, timeout, self._backoff, metadata)

    async def get_booking(self, booking_id: int, *, timeout: float | None = None, metadata=None) -> pb.Booking:
        request = pb.GetBookingRequest(booking_id=booking_id)
        return await self._call("GetBooking", self._stub.GetBooking, request, timeout, self._backoff, metadata, read=True)

    async def list_bookings(
        self,
        *,
        page: int = 1,
        size: int = 0,
        status: int = pb.BOOKING_STATUS_UNSPECIFIED,
        user_id: int = 0,
        event_id: int = 0,
        timeout: float | None = None,
        metadata=None,
    ) -> pb.ListBookingsResponse:
        request = pb.ListBookingsRequest(page=page, size=size, status=status, user_id=user_id, event_id=event_id)
        return await self._call("ListBookings", self._stub.ListBookings, request, timeout, self._backoff, metadata, read=True)

    async def _call(self, method, rpc, request, timeout, backoff, metadata, *, read: bool = False):
        metadata = request_ids.outgoing_metadata(metadata)
        return await call_with_retry(
            method,
            lambda remaining: rpc(request, timeout=remaining, metadata=metadata),
            timeout=self._timeout if timeout is None else timeout,
            backoff=backoff,
            report_cause=read,
        )
