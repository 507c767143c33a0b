"""Rows of the events and bookings tables."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class EventRow:
    id: int
    name: str
    total_tickets: int
    sold_tickets: int
    created_at: datetime

    @property
    def available_tickets(self) -> int:
        return self.total_tickets - self.sold_tickets


@dataclass(frozen=True)
class BookingRow:
    id: int
    event_id: int
    user_id: int
    quantity: int
    status: str
    reservation_id: uuid.UUID
    created_at: datetime
    cancelled_at: datetime | None


@dataclass(frozen=True)
class NewBooking:
    """A booking whose tickets are held in the inventory service, waiting to be written."""

    event_id: int
    user_id: int
    quantity: int
    reservation_id: uuid.UUID
    # Event-loop time (seconds) after which the insert must not start, so
    # that it has ended, one way or the other, before the hold's deadline.
    insert_deadline: float = float("inf")
