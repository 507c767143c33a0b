"""Booking load for the fault tests: concurrent workers that book tickets and cancel a few bookings.

Every Book request carries a user id of its own, so each booking row in
PostgreSQL can be traced back to the one request that made it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass

import grpc

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients import BookingClient

CONFIRMED = "CONFIRMED"
SOLD_OUT = "SOLD_OUT"
# Outcome of a call that the client itself cancelled (asyncio cancellation).
CLIENT_CANCELLED = "CANCELLED"
# Outcome of a CancelBooking call that returned the booking.
CANCEL_OK = "OK"

BOOK_TIMEOUT_S = 2.0
TINY_DEADLINE_S = (0.001, 0.050)


@dataclass(frozen=True)
class BookAttempt:
    """One Book request and its outcome as the client saw it. Times are time.monotonic() seconds."""

    user_id: int
    event_id: int
    quantity: int
    started: float
    ended: float
    outcome: str
    booking_id: int | None = None
    detail: str = ""

    @property
    def answered(self) -> bool:
        """Whether the service returned a response (confirmed or sold out) rather than an error."""
        return self.outcome in (CONFIRMED, SOLD_OUT)


@dataclass(frozen=True)
class CancelAttempt:
    booking_id: int
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class LoadLimits:
    workers: int = 40
    max_requests: int = 20_000
    max_seconds: float = 20.0
    cancel_share: float = 0.05
    # Pause after an error, so workers do not spin while a service is down.
    error_pause_s: tuple[float, float] = (0.02, 0.1)


class BookingLoad:
    """Run workers that book 1..3 tickets of random events until stopped or a limit is hit.

    Use as an async context manager: the workers start on entry and stop on
    exit, after finishing the call each one has in flight.
    """

    def __init__(self, target: str, event_ids: list[int], *, user_id_base: int, limits: LoadLimits, seed: int) -> None:
        self.target = target
        self.event_ids = list(event_ids)
        self.limits = limits
        self.attempts: list[BookAttempt] = []
        self.cancels: list[CancelAttempt] = []
        # While set, every Book call gets a deadline of 1 to 50 ms, or is
        # cancelled by the client after that long.
        self.tiny_deadlines = False
        self._user_ids = itertools.count(user_id_base)
        self._seed = seed
        self._stop = asyncio.Event()
        self._client: BookingClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = 0.0

    async def __aenter__(self) -> BookingLoad:
        self._client = BookingClient(self.target, timeout=BOOK_TIMEOUT_S)
        self._started = time.monotonic()
        self._tasks = [asyncio.create_task(self._work(i), name=f"load-{i}") for i in range(self.limits.workers)]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop_workers()
        assert self._client is not None
        await self._client.close()

    async def stop_workers(self) -> None:
        """Stop the workers and wait for their calls in flight. book_once still works afterwards."""
        self._stop.set()
        await asyncio.gather(*self._tasks)

    # -- results -------------------------------------------------------------

    def outcome_counts(self) -> Counter[str]:
        return Counter(attempt.outcome for attempt in self.attempts)

    def confirmed(self) -> list[BookAttempt]:
        return [attempt for attempt in self.attempts if attempt.outcome == CONFIRMED]

    def cancelled_ids(self) -> set[int]:
        """Bookings whose CancelBooking call returned them."""
        return {cancel.booking_id for cancel in self.cancels if cancel.outcome == CANCEL_OK}

    def cancel_unknown_ids(self) -> set[int]:
        """Bookings whose CancelBooking call failed, so they may or may not be cancelled."""
        return {cancel.booking_id for cancel in self.cancels if cancel.outcome != CANCEL_OK} - self.cancelled_ids()

    # -- waiting on the load ---------------------------------------------------

    def stopped(self) -> bool:
        return (
            self._stop.is_set()
            or len(self.attempts) >= self.limits.max_requests
            or time.monotonic() - self._started >= self.limits.max_seconds
        )

    async def wait_for_confirmed(self, count: int, timeout: float) -> bool:
        """Wait until the load has seen count confirmed bookings."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopped():
            if sum(1 for attempt in self.attempts if attempt.outcome == CONFIRMED) >= count:
                return True
            await asyncio.sleep(0.05)
        return False

    async def wait_for_answer(self, started_after: float, ended_after: float, timeout: float) -> BookAttempt | None:
        """Wait for the first Book that returned a response (confirmed or sold out), started
        after started_after and ended after ended_after. Return it, or None on timeout."""
        deadline = time.monotonic() + timeout
        position = 0
        while True:
            # attempts only grows, so each one needs to be looked at once.
            for attempt in self.attempts[position:]:
                if attempt.answered and attempt.started >= started_after and attempt.ended >= ended_after:
                    return attempt
            position = len(self.attempts)
            if time.monotonic() >= deadline or self.stopped():
                return None
            await asyncio.sleep(0.02)

    # -- requests --------------------------------------------------------------

    async def book_once(self, event_id: int, quantity: int, rng: random.Random | None = None) -> BookAttempt:
        """Send one Book request and record its outcome."""
        assert self._client is not None
        rng = rng or random.Random()
        user_id = next(self._user_ids)
        started = time.monotonic()
        booking_id = None
        detail = ""
        try:
            if self.tiny_deadlines:
                reply = await self._book_with_tiny_deadline(user_id, event_id, quantity, rng)
            else:
                reply = await self._client.book(user_id=user_id, event_id=event_id, quantity=quantity)
            if reply.outcome == pb.BOOK_OUTCOME_CONFIRMED:
                outcome = CONFIRMED
                booking_id = reply.booking.id
            elif reply.outcome == pb.BOOK_OUTCOME_SOLD_OUT:
                outcome = SOLD_OUT
            else:
                outcome = f"outcome {pb.BookOutcome.Name(reply.outcome)}"
        except grpc.aio.AioRpcError as exc:
            outcome = exc.code().name
            detail = exc.details() or ""
        except TimeoutError:
            outcome = CLIENT_CANCELLED
        attempt = BookAttempt(user_id, event_id, quantity, started, time.monotonic(), outcome, booking_id, detail)
        self.attempts.append(attempt)
        return attempt

    async def _book_with_tiny_deadline(
        self, user_id: int, event_id: int, quantity: int, rng: random.Random
    ) -> pb.BookResponse:
        assert self._client is not None
        limit = rng.uniform(*TINY_DEADLINE_S)
        if rng.random() < 0.5:
            # The deadline travels with the call, so the server enforces it too.
            return await self._client.book(user_id=user_id, event_id=event_id, quantity=quantity, timeout=limit)
        # A normal deadline, but the client walks away after `limit` seconds.
        call = self._client.book(user_id=user_id, event_id=event_id, quantity=quantity)
        return await asyncio.wait_for(call, limit)

    async def cancel_once(self, booking_id: int) -> CancelAttempt:
        assert self._client is not None
        try:
            reply = await self._client.cancel_booking(booking_id)
            if reply.status == pb.BOOKING_STATUS_CANCELLED:
                cancel = CancelAttempt(booking_id, CANCEL_OK)
            else:
                cancel = CancelAttempt(booking_id, "not cancelled", pb.BookingStatus.Name(reply.status))
        except grpc.aio.AioRpcError as exc:
            cancel = CancelAttempt(booking_id, exc.code().name, exc.details() or "")
        self.cancels.append(cancel)
        return cancel

    async def _work(self, index: int) -> None:
        rng = random.Random(self._seed * 1000 + index)
        to_cancel: list[BookAttempt] = []
        while not self.stopped():
            if to_cancel and rng.random() < self.limits.cancel_share:
                booking = to_cancel.pop(rng.randrange(len(to_cancel)))
                assert booking.booking_id is not None
                cancel = await self.cancel_once(booking.booking_id)
                if cancel.outcome != CANCEL_OK:
                    await asyncio.sleep(rng.uniform(*self.limits.error_pause_s))
                continue

            attempt = await self.book_once(rng.choice(self.event_ids), rng.randint(1, 3), rng)
            if attempt.outcome == CONFIRMED:
                to_cancel.append(attempt)
            elif attempt.outcome != SOLD_OUT:
                await asyncio.sleep(rng.uniform(*self.limits.error_pause_s))
