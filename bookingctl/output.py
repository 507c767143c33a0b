"""Text and JSON rendering of events, bookings and pages of bookings.

The JSON shapes are those of the REST API (rest_shim.views), so a script
can read bookingctl's --json output and the HTTP responses alike.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from rest_shim.views import booking_json, event_json


def print_json(payload: object) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


def tickets(count: int) -> str:
    return "1 ticket" if count == 1 else f"{count} tickets"


def _block(title: str, rows: list[tuple[str, object]]) -> str:
    width = max(len(label) for label, _ in rows)
    lines = [title]
    lines += [f"  {label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines)


def format_event(event: pb.Event, title: str | None = None) -> str:
    fields = event_json(event)
    return _block(title or f"event {event.id}", [
        ("name", fields["name"]),
        ("total tickets", fields["total_tickets"]),
        ("available tickets", fields["available_tickets"]),
        ("created at", fields["created_at"]),
    ])


def format_booking(booking: pb.Booking, title: str | None = None) -> str:
    fields = booking_json(booking)
    rows: list[tuple[str, object]] = [
        ("event", fields["event_id"]),
        ("user", fields["user_id"]),
        ("quantity", tickets(fields["quantity"])),
        ("status", fields["status"]),
        ("reservation id", fields["reservation_id"]),
        ("created at", fields["created_at"]),
    ]
    if fields["cancelled_at"]:
        rows.append(("cancelled at", fields["cancelled_at"]))
    return _block(title or f"booking {booking.id}", rows)


def history_json(reply: pb.ListBookingsResponse) -> dict[str, Any]:
    """Return the page in the shape of GET /api/v1/history."""
    return {
        "data": [booking_json(booking) for booking in reply.bookings],
        "meta": {"total": reply.total, "page": reply.page, "size": reply.size},
    }


def format_history(reply: pb.ListBookingsResponse) -> str:
    columns = ("ID", "EVENT", "USER", "QUANTITY", "STATUS", "CREATED AT")
    rows = [
        (str(b["id"]), str(b["event_id"]), str(b["user_id"]), str(b["quantity"]), b["status"], b["created_at"])
        for b in (booking_json(booking) for booking in reply.bookings)
    ]
    pages = max(1, -(-reply.total // reply.size)) if reply.size else 1
    noun = "booking" if reply.total == 1 else "bookings"
    summary = f"page {reply.page} of {pages} ({reply.size} per page), {reply.total} {noun} in total"
    if not rows:
        return f"no bookings on this page\n{summary}"

    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(columns)]
    # Numbers are right-aligned, text left-aligned.
    numeric = (True, True, True, True, False, False)

    def render(cells: tuple[str, ...]) -> str:
        parts = [cell.rjust(w) if right else cell.ljust(w) for cell, w, right in zip(cells, widths, numeric)]
        return "  ".join(parts).rstrip()

    return "\n".join([render(columns), *(render(row) for row in rows), summary])
