"""JSON shapes of booking.v1 messages as the REST API returns them."""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from booking_monitor_pb.booking.v1 import booking_pb2 as pb

STATUS_NAMES = {pb.BOOKING_STATUS_CONFIRMED: "confirmed", pb.BOOKING_STATUS_CANCELLED: "cancelled"}
STATUS_VALUES = {name: value for value, name in STATUS_NAMES.items()}


def _time(stamp: Timestamp, present: bool = True) -> str | None:
    if not present:
        return None
    return stamp.ToJsonString()


def event_json(event: pb.Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "total_tickets": event.total_tickets,
        "available_tickets": event.available_tickets,
        "created_at": _time(event.created_at),
    }


def booking_json(booking: pb.Booking) -> dict[str, Any]:
    return {
        "id": booking.id,
        "event_id": booking.event_id,
        "user_id": booking.user_id,
        "quantity": booking.quantity,
        "status": STATUS_NAMES.get(booking.status, "unknown"),
        "reservation_id": booking.reservation_id,
        "created_at": _time(booking.created_at),
        "cancelled_at": _time(booking.cancelled_at, booking.HasField("cancelled_at")),
    }
