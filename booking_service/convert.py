"""Conversions from rows to booking.v1 messages."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from booking_service.models import BookingRow, EventRow

STATUS_TO_PROTO = {"confirmed": pb.BOOKING_STATUS_CONFIRMED, "cancelled": pb.BOOKING_STATUS_CANCELLED}
STATUS_FROM_PROTO = {value: key for key, value in STATUS_TO_PROTO.items()}


def _timestamp(value) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def event_message(row: EventRow) -> pb.Event:
    return pb.Event(
        id=row.id,
        name=row.name,
        total_tickets=row.total_tickets,
        available_tickets=row.available_tickets,
        created_at=_timestamp(row.created_at),
    )


def booking_message(row: BookingRow) -> pb.Booking:
    return pb.Booking(
        id=row.id,
        event_id=row.event_id,
        user_id=row.user_id,
        quantity=row.quantity,
        status=STATUS_TO_PROTO[row.status],
        reservation_id=str(row.reservation_id),
        created_at=_timestamp(row.created_at),
        cancelled_at=_timestamp(row.cancelled_at),
    )
