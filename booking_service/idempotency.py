"""Idempotency keys: a retried Book or CreateEvent with the same key returns the
first result and creates nothing new.

A key is stored with a fingerprint of its request; the same key with a
different request is rejected. Keys expire after a configurable time
(IDEMPOTENCY_KEY_TTL_S, default 24 hours), after which the key may be used
for a new request.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from booking_service.errors import BookingServiceError
from booking_service.models import EventRow
from booking_service.repository import EVENT_COLUMNS


class IdempotencyConflict(BookingServiceError):
    """The key was first used with a different request."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency_key: key {key!r} was already used with a different request; use a new key")
        self.key = key


@dataclass(frozen=True)
class BookingKey:
    fingerprint: str
    reservation_id: uuid.UUID
    outcome: str | None
    booking_id: int | None


def fingerprint(*fields: object) -> str:
    return hashlib.sha256("\x1f".join(str(f) for f in fields).encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, pool: AsyncConnectionPool, *, ttl: timedelta) -> None:
        self._pool = pool
        self._ttl = ttl

    async def claim_booking_key(self, key: str, request_fingerprint: str) -> BookingKey:
        """Return the key's record, creating it with a fresh reservation id on first use.

        Raises IdempotencyConflict when the key belongs to another request.
        """
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE operation = 'book' AND key = %s AND expires_at < now()", (key,)
            )
            cursor = conn.cursor(row_factory=class_row(BookingKey))
            await cursor.execute(
                """
                INSERT INTO idempotency_keys (operation, key, fingerprint, reservation_id, expires_at)
                VALUES ('book', %s, %s, %s, now() + %s)
                ON CONFLICT (operation, key) DO NOTHING
                RETURNING fingerprint, reservation_id, outcome, booking_id
                """,
                (key, request_fingerprint, uuid.uuid4(), self._ttl),
            )
            record = await cursor.fetchone()
            if record is None:
                await cursor.execute(
                    "SELECT fingerprint, reservation_id, outcome, booking_id FROM idempotency_keys"
                    " WHERE operation = 'book' AND key = %s",
                    (key,),
                )
                record = await cursor.fetchone()
        if record is None:
            # Expired and deleted by another request between the two statements.
            return await self.claim_booking_key(key, request_fingerprint)
        if record.fingerprint != request_fingerprint:
            raise IdempotencyConflict(key)
        return record

    async def record_booking_outcome(self, key: str, outcome: str, booking_id: int | None) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE idempotency_keys SET outcome = %s, booking_id = %s"
                " WHERE operation = 'book' AND key = %s AND outcome IS NULL",
                (outcome, booking_id, key),
            )

    async def forget_booking_key(self, key: str, reservation_id: uuid.UUID) -> None:
        """Free a key whose attempt failed with nothing booked, so a retry starts afresh."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE operation = 'book' AND key = %s"
                " AND reservation_id = %s AND outcome IS NULL",
                (key, reservation_id),
            )

    async def create_event_once(self, key: str, request_fingerprint: str, name: str, total: int) -> tuple[EventRow, bool]:
        """Create the event unless this key already did; return (event, created_now).

        The key row and the event are written in one transaction, so a
        racing request with the same key waits for it and then reads its
        event.
        """
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE operation = 'create_event' AND key = %s AND expires_at < now()",
                (key,),
            )
            claimed = await conn.execute(
                """
                INSERT INTO idempotency_keys (operation, key, fingerprint, expires_at)
                VALUES ('create_event', %s, %s, now() + %s)
                ON CONFLICT (operation, key) DO NOTHING
                RETURNING key
                """,
                (key, request_fingerprint, self._ttl),
            )
            events = conn.cursor(row_factory=class_row(EventRow))
            if await claimed.fetchone() is not None:
                await events.execute(
                    f"INSERT INTO events (name, total_tickets) VALUES (%s, %s) RETURNING {EVENT_COLUMNS}", (name, total)
                )
                event = await events.fetchone()
                assert event is not None  # INSERT ... RETURNING always returns the row
                await conn.execute(
                    "UPDATE idempotency_keys SET outcome = 'created', event_id = %s"
                    " WHERE operation = 'create_event' AND key = %s",
                    (event.id, key),
                )
                return event, True

            existing = await conn.execute(
                "SELECT fingerprint, event_id FROM idempotency_keys WHERE operation = 'create_event' AND key = %s",
                (key,),
            )
            stored_fingerprint, event_id = await existing.fetchone()
            if stored_fingerprint != request_fingerprint:
                raise IdempotencyConflict(key)
            await events.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = %s", (event_id,))
            event = await events.fetchone()
            assert event is not None  # events are never deleted
            return event, False

    async def delete_expired(self) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute("DELETE FROM idempotency_keys WHERE expires_at < now()")
            return cursor.rowcount
