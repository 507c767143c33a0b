"""Group commit: concurrent booking inserts written by one statement per batch.

Callers hand a NewBooking to ``insert`` and wait. A few worker tasks each take
every booking queued at that moment (up to a maximum), write them with one
INSERT statement in its own transaction, and resolve each caller's future
only once the transaction has committed. So no caller learns of a booking
that is not yet durable. While one batch commits, the next one fills up, which is what makes
this faster than one transaction per booking under load.

The statement only inserts bookings that fit in the event's remaining
tickets, and the CHECK constraint on events.sold_tickets refuses an
oversell even if that logic were wrong.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool

from booking_service.models import BookingRow, NewBooking
from common import request_ids

logger = logging.getLogger(__name__)

# The bookings of a batch, with their position in the queue.
_REQUEST_CTE = """
request AS (
    SELECT r.event_id, r.user_id, r.quantity, r.reservation_id, r.position
    FROM unnest(%(event_ids)s::bigint[], %(user_ids)s::bigint[], %(quantities)s::int[], %(reservation_ids)s::uuid[])
         WITH ORDINALITY AS r(event_id, user_id, quantity, reservation_id, position)
)"""

# The stock rule, applied to the bookings of the CTE named {source}: locks
# their events in id order (so two batches cannot deadlock), keeps, per event
# and in queue order, the bookings whose running total fits in the remaining
# tickets, adds them to sold_tickets and inserts them.
_STOCK_RULE = """
locked AS (
    SELECT e.id, e.total_tickets - e.sold_tickets AS remaining
    FROM events e
    WHERE e.id IN (SELECT event_id FROM {source})
    ORDER BY e.id
    FOR UPDATE
), fitting AS (
    SELECT ranked.*
    FROM (
        SELECT r.*, l.remaining,
               sum(r.quantity) OVER (PARTITION BY r.event_id ORDER BY r.position) AS running_total
        FROM {source} r JOIN locked l ON l.id = r.event_id
    ) ranked
    WHERE ranked.running_total <= ranked.remaining
), sold AS (
    UPDATE events e SET sold_tickets = e.sold_tickets + f.quantity
    FROM (SELECT event_id, sum(quantity)::int AS quantity FROM fitting GROUP BY event_id) f
    WHERE e.id = f.event_id
)
INSERT INTO bookings (event_id, user_id, quantity, status, reservation_id)
SELECT event_id, user_id, quantity, 'confirmed', reservation_id FROM fitting ORDER BY position
RETURNING id, event_id, user_id, quantity, status, reservation_id, created_at, cancelled_at
"""

# Drops the bookings that would take their user past %(cap)s tickets of the
# event, counting confirmed bookings and earlier ones of this batch.
_USER_CAP_CTES = """
owned AS (
    SELECT b.event_id, b.user_id, sum(b.quantity) AS quantity
    FROM bookings b
    JOIN (SELECT DISTINCT event_id, user_id FROM request) u USING (event_id, user_id)
    WHERE b.status = 'confirmed'
    GROUP BY b.event_id, b.user_id
), within_cap AS (
    SELECT capped.event_id, capped.user_id, capped.quantity, capped.reservation_id, capped.position
    FROM (
        SELECT r.*, coalesce(o.quantity, 0)
               + sum(r.quantity) OVER (PARTITION BY r.event_id, r.user_id ORDER BY r.position) AS user_total
        FROM request r LEFT JOIN owned o USING (event_id, user_id)
    ) capped
    WHERE capped.user_total <= %(cap)s
)"""

INSERT_BATCH_SQL = f"WITH {_REQUEST_CTE}, {_STOCK_RULE.format(source='request')}"

# With a per-user cap, the cap is applied first and the stock rule to the
# rest. This statement runs after the event rows are locked by a separate
# statement in the same transaction. So its snapshot already contains every
# booking committed for these events, because none can commit while the
# locks are held.
INSERT_BATCH_CAPPED_SQL = f"WITH {_REQUEST_CTE}, {_USER_CAP_CTES}, {_STOCK_RULE.format(source='within_cap')}"


class InsertOutcomeUnknown(Exception):
    """The connection failed while the transaction may have committed."""


class InsertDeadlinePassed(Exception):
    """The booking waited so long that its hold could expire before the insert ends; nothing was written."""


@dataclass
class _Pending:
    booking: NewBooking
    future: asyncio.Future[BookingRow | None]
    # The request id of the caller, for log lines about this booking: the
    # writer's tasks serve many requests and have none of their own.
    request_id: str


@dataclass
class WriterStats:
    batches: int = 0
    bookings: int = 0
    max_batch: int = 0


class GroupCommitWriter:
    """Write bookings in batches.

    ``insert`` returns the row, or None when PostgreSQL has too few tickets
    left for it or when it would take its user past the per-user cap.
    """

    def __init__(
        self, pool: AsyncConnectionPool, *, max_batch: int = 256, workers: int = 2, max_tickets_per_user: int = 0
    ) -> None:
        self._pool = pool
        self._cap = max_tickets_per_user
        self._max_batch = max_batch
        self._workers = workers
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = WriterStats()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"group-commit-{i}") for i in range(self._workers)]

    async def stop(self) -> None:
        """Stop the workers; a booking still queued is failed, not written."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("booking writer stopped before the insert"))

    async def insert(self, booking: NewBooking) -> BookingRow | None:
        future: asyncio.Future[BookingRow | None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(booking, future, request_ids.current.get()))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            # A caller that gave up before its booking was sent is skipped,
            # so no booking is written without a caller waiting for it.
            batch = [p for p in batch if not p.future.done()]
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            rows = await self._insert_batch(batch)
        except asyncio.CancelledError:
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(InsertOutcomeUnknown("booking writer stopped during the insert"))
            raise
        except psycopg.OperationalError as exc:
            # The connection broke; the transaction may or may not have
            # committed, so each caller must check before compensating.
            logger.warning(
                "batch insert of %d bookings failed, outcome unknown (requests %s): %s",
                len(batch), request_ids.summary(p.request_id for p in batch), exc,
            )
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(InsertOutcomeUnknown(str(exc)))
            return
        except psycopg.Error as exc:
            if len(batch) == 1:
                logger.warning(
                    "insert of reservation %s for event %d failed: %s",
                    batch[0].booking.reservation_id, batch[0].booking.event_id, exc,
                    extra=request_ids.log_extra(batch[0].request_id),
                )
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return
            # One bad booking fails the whole statement: write each one alone
            # so only that one fails.
            logger.warning(
                "batch insert of %d bookings failed, retrying one by one (requests %s): %s",
                len(batch), request_ids.summary(p.request_id for p in batch), exc,
            )
            for pending in batch:
                await self._write([pending])
            return

        self.stats.batches += 1
        self.stats.bookings += len(rows)
        self.stats.max_batch = max(self.stats.max_batch, len(batch))
        by_reservation = {row.reservation_id: row for row in rows}
        for pending in batch:
            if not pending.future.done():
                pending.future.set_result(by_reservation.get(pending.booking.reservation_id))

    async def _insert_batch(self, batch: list[_Pending]) -> list[BookingRow]:
        async with self._pool.connection() as conn:
            # Checked once the connection is ours, right before the
            # statement, whose run time statement_timeout bounds.
            now = asyncio.get_running_loop().time()
            late = [p for p in batch if p.booking.insert_deadline <= now]
            for pending in late:
                logger.warning(
                    "reservation %s of event %d not inserted: its insert deadline passed",
                    pending.booking.reservation_id, pending.booking.event_id,
                    extra=request_ids.log_extra(pending.request_id),
                )
                if not pending.future.done():
                    pending.future.set_exception(InsertDeadlinePassed(str(pending.booking.reservation_id)))
            bookings = [p.booking for p in batch if p.booking.insert_deadline > now]
            if not bookings:
                return []
            return await self._execute_insert(conn, bookings)

    async def _execute_insert(self, conn, bookings: list[NewBooking]) -> list[BookingRow]:
        params = {
            "event_ids": [b.event_id for b in bookings],
            "user_ids": [b.user_id for b in bookings],
            "quantities": [b.quantity for b in bookings],
            "reservation_ids": [b.reservation_id for b in bookings],
        }
        if self._cap:
            async with conn.transaction():
                await conn.execute(
                    "SELECT 1 FROM events WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (params["event_ids"],)
                )
                cursor = await conn.execute(INSERT_BATCH_CAPPED_SQL, {**params, "cap": self._cap})
                records = await cursor.fetchall()
            return [BookingRow(*record) for record in records]
        # The pool's connections are in autocommit mode, so this single
        # statement is its own transaction and commits before it returns.
        cursor = await conn.execute(INSERT_BATCH_SQL, params)
        records = await cursor.fetchall()
        return [BookingRow(*record) for record in records]
