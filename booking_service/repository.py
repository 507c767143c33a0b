"""Queries on the events and bookings tables, outside the Book hot path."""

from __future__ import annotations

import uuid

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from booking_service.models import BookingRow, EventRow

BOOKING_COLUMNS = "id, event_id, user_id, quantity, status, reservation_id, created_at, cancelled_at"
EVENT_COLUMNS = "id, name, total_tickets, sold_tickets, created_at"


class Repository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def create_event(self, name: str, total_tickets: int) -> EventRow:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(EventRow))
            await cursor.execute(
                f"INSERT INTO events (name, total_tickets) VALUES (%s, %s) RETURNING {EVENT_COLUMNS}",
                (name, total_tickets),
            )
            row = await cursor.fetchone()
        assert row is not None  # INSERT ... RETURNING always returns the row
        return row

    async def get_event(self, event_id: int) -> EventRow | None:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(EventRow))
            await cursor.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = %s", (event_id,))
            return await cursor.fetchone()

    async def get_booking(self, booking_id: int) -> BookingRow | None:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(BookingRow))
            await cursor.execute(f"SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = %s", (booking_id,))
            return await cursor.fetchone()

    async def find_booking_by_reservation(self, reservation_id: uuid.UUID) -> BookingRow | None:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(BookingRow))
            await cursor.execute(f"SELECT {BOOKING_COLUMNS} FROM bookings WHERE reservation_id = %s", (reservation_id,))
            return await cursor.fetchone()

    async def cancel_booking(self, booking_id: int) -> tuple[BookingRow, bool] | None:
        """Cancel a confirmed booking and give its tickets back to the event's count.

        Returns (booking, changed); changed is False when it was already
        cancelled. One statement, so the status flip and the sold count
        change commit together and only one of several racing cancels wins.
        """
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(BookingRow))
            await cursor.execute(
                f"""
                WITH cancelled AS (
                    UPDATE bookings SET status = 'cancelled', cancelled_at = now()
                    WHERE id = %(id)s AND status = 'confirmed'
                    RETURNING {BOOKING_COLUMNS}
                ), returned AS (
                    UPDATE events e SET sold_tickets = e.sold_tickets - c.quantity
                    FROM cancelled c WHERE e.id = c.event_id
                ), outbox AS (
                    -- Deleted once Redis has the tickets back; retried until then.
                    INSERT INTO pending_releases (reservation_id, event_id, quantity)
                    SELECT reservation_id, event_id, quantity FROM cancelled
                )
                SELECT {BOOKING_COLUMNS} FROM cancelled
                """,
                {"id": booking_id},
            )
            row = await cursor.fetchone()
            if row is not None:
                return row, True
            await cursor.execute(f"SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = %s", (booking_id,))
            existing = await cursor.fetchone()
        return (existing, False) if existing is not None else None

    async def list_bookings(
        self, *, page: int, size: int, status: str | None, user_id: int | None, event_id: int | None
    ) -> tuple[list[BookingRow], int]:
        conditions = []
        params: dict[str, object] = {"limit": size, "offset": (page - 1) * size}
        if status is not None:
            conditions.append("status = %(status)s")
            params["status"] = status
        if user_id is not None:
            conditions.append("user_id = %(user_id)s")
            params["user_id"] = user_id
        if event_id is not None:
            conditions.append("event_id = %(event_id)s")
            params["event_id"] = event_id
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(BookingRow))
            await cursor.execute(
                f"SELECT {BOOKING_COLUMNS} FROM bookings {where} ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s",
                params,
            )
            rows = await cursor.fetchall()
            count = await conn.execute(f"SELECT count(*) FROM bookings {where}", params)
            total_row = await count.fetchone()
        return rows, int(total_row[0]) if total_row else 0

    async def lock_event_stock(self, conn, event_id: int) -> tuple[EventRow, list[uuid.UUID]] | None:
        """Lock the event row for this transaction; return it with its pending releases.

        Every booking insert and cancel updates the event row, so while the
        lock is held its sold count and pending releases cannot change.
        """
        cursor = conn.cursor(row_factory=class_row(EventRow))
        await cursor.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = %s FOR UPDATE", (event_id,))
        event = await cursor.fetchone()
        if event is None:
            return None
        pending = await conn.execute("SELECT reservation_id FROM pending_releases WHERE event_id = %s", (event_id,))
        return event, [row[0] for row in await pending.fetchall()]

    async def release_done(self, reservation_id: uuid.UUID) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM pending_releases WHERE reservation_id = %s", (reservation_id,))

    async def pending_releases(self, older_than_s: float, limit: int = 500) -> list[tuple[uuid.UUID, int, int]]:
        """Return (reservation_id, event_id, quantity) of cancels whose tickets are not yet back in Redis."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT reservation_id, event_id, quantity FROM pending_releases"
                " WHERE created_at < now() - make_interval(secs => %s) ORDER BY created_at LIMIT %s",
                (older_than_s, limit),
            )
            return [tuple(row) for row in await cursor.fetchall()]

    async def event_ids(self) -> list[int]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute("SELECT id FROM events ORDER BY id")
            return [row[0] for row in await cursor.fetchall()]

    async def booked_reservations(self, reservation_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Return which of these reservation ids have a booking row, whatever its status."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT reservation_id FROM bookings WHERE reservation_id = ANY(%s)", (reservation_ids,)
            )
            return {row[0] for row in await cursor.fetchall()}

    async def user_confirmed_quantity(self, event_id: int, user_id: int) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT coalesce(sum(quantity), 0) FROM bookings"
                " WHERE event_id = %s AND user_id = %s AND status = 'confirmed'",
                (event_id, user_id),
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else 0
