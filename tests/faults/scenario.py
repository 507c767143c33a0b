"""Run one fault under booking load, then check the invariants and record a table row."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from clients import BookingClient
from devstack.postgres import PostgresServer
from devstack.stack import Stack
from tests.faults.checks import (
    check_cancels_kept,
    check_confirmed_kept,
    check_one_booking_per_request,
    check_outcomes,
    check_settled,
    check_stock,
    read_bookings,
    unreported_bookings,
    wait_until_settled,
)
from tests.faults.load import CONFIRMED, SOLD_OUT, BookAttempt, BookingLoad, LoadLimits
from tests.faults.report import RESULTS, Check, FaultRow

# Short timings, so a hold left behind by a fault expires and is swept
# within a few seconds. INVENTORY_HOLD_MS must stay above twice
# PG_STATEMENT_TIMEOUT_MS, which the booking service checks at start.
FAULT_ENV = {
    "INVENTORY_HOLD_MS": "3000",
    "PG_STATEMENT_TIMEOUT_MS": "1000",
    "SWEEP_INTERVAL_MS": "200",
    "INVENTORY_TIMEOUT_MS": "1000",
    "SHUTDOWN_GRACE_MS": "3000",
    "LOG_LEVEL": "info",
}

EVENT_TICKETS = (300, 300, 3000)
# Confirmed bookings seen before the fault is injected, so it hits a running load.
WARMUP_CONFIRMED = 100
WARMUP_TIMEOUT_S = 10.0
# How long after the restart (or the fault's removal) a Book must succeed again.
RECOVERY_TIMEOUT_S = 15.0
# Load kept running after the first success, to see that it lasts.
AFTER_RECOVERY_S = 2.0
# Hold lifetime (3 s) + pending-release minimum age (2 s) + sweep interval, with room to spare.
SETTLE_TIMEOUT_S = 15.0
# User ids of fault n start at n * USER_IDS_PER_FAULT, one id per Book request.
USER_IDS_PER_FAULT = 10_000_000
# To run PostgreSQL as another account, Popen uses fork() instead of vfork(),
# and the forked child sometimes dies from SIGSEGV before exec while gRPC
# threads of this process are busy (gRPC logs "skipping fork() handlers").
# That happened in 3 of 25 restarts under the fault load on a 2-core machine.
# No server ran then, so starting again is safe.
POSTGRES_START_ATTEMPTS = 3


@dataclass
class Fault:
    """What an inject function reports: when the fault began, when recovery began
    (restart issued or fault removed), and checks and notes of its own."""

    injected: float | None = None
    recovering: float | None = None
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


Inject = Callable[[BookingLoad, Fault], Awaitable[None]]


async def run_fault(stack: Stack, name: str, inject: Inject, *, number: int) -> FaultRow:
    """Start the load, inject the fault, wait for recovery, stop the load and check.

    The row is added to the results table before anything runs, so a test
    that stops on an error still shows up in it.
    """
    row = FaultRow(name)
    RESULTS.append(row)
    try:
        await _run(stack, row, inject, number)
    except BaseException as exc:
        row.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
        raise
    return row


async def _run(stack: Stack, row: FaultRow, inject: Inject, number: int) -> None:
    async with BookingClient(stack.booking_target, timeout=5) as admin:
        events = [
            await admin.create_event(f"fault {number} {name_part(row.fault)} #{index}", tickets)
            for index, tickets in enumerate(EVENT_TICKETS, start=1)
        ]
    event_ids = [event.id for event in events]

    fault = Fault()
    load = BookingLoad(
        stack.booking_target, event_ids, user_id_base=number * USER_IDS_PER_FAULT, limits=LoadLimits(), seed=number
    )
    async with load:
        warmed_up = await load.wait_for_confirmed(WARMUP_CONFIRMED, WARMUP_TIMEOUT_S)
        assert warmed_up, f"fewer than {WARMUP_CONFIRMED} bookings confirmed before the fault: {load.outcome_counts()}"

        await inject(load, fault)
        assert fault.injected is not None and fault.recovering is not None, "inject did not record its times"

        first = await load.wait_for_answer(fault.injected, fault.recovering, RECOVERY_TIMEOUT_S)
        if first is not None:
            await asyncio.sleep(AFTER_RECOVERY_S)
        await load.stop_workers()
        # One booking per event once the load is over, so that every event
        # has a stock counter again after a Redis restart.
        for event_id in event_ids:
            await load.book_once(event_id, 1)

    recovered = first_answer(load.attempts, fault.injected, fault.recovering)
    if recovered is not None:
        row.recovery_s = recovered.ended - fault.recovering
    counts = load.outcome_counts()
    row.requests = len(load.attempts)
    row.confirmed = counts.pop(CONFIRMED, 0)
    row.sold_out = counts.pop(SOLD_OUT, 0)
    row.errors = counts
    row.cancels_ok = len(load.cancelled_ids())
    row.cancels_sent = len(load.cancels)

    settled = await asyncio.to_thread(wait_until_settled, stack.db_url, stack.cache_url, event_ids, SETTLE_TIMEOUT_S)
    bookings = await asyncio.to_thread(read_bookings, stack.db_url, event_ids)
    row.unreported = unreported_bookings(load, bookings)
    in_flight = Counter(a.outcome for a in load.attempts if a.started < fault.injected < a.ended)
    row.notes.append(f"Book calls in flight when the fault began ended as: {_counts(in_flight)}")
    row.notes.extend(fault.notes)
    row.checks = [
        check_recovered(row.recovery_s),
        *fault.checks,
        check_settled(settled, SETTLE_TIMEOUT_S),
        *check_stock(settled.audits),
        check_outcomes(load.attempts, load.cancels),
        check_confirmed_kept(load, bookings),
        check_cancels_kept(load, bookings),
        check_one_booking_per_request(load, bookings),
    ]


def start_postgres(postgres: PostgresServer) -> list[str]:
    """Start PostgreSQL, again if the child process died from a signal before the server ran.

    Return one note per failed attempt, for the results table.
    """
    notes = []
    for attempt in range(1, POSTGRES_START_ATTEMPTS + 1):
        try:
            postgres.start()
            return notes
        except RuntimeError:
            process = postgres.process.proc if postgres.process else None
            status = process.returncode if process else None
            if status is None or status >= 0 or attempt == POSTGRES_START_ATTEMPTS:
                raise
            notes.append(f"PostgreSQL start attempt {attempt} failed: its process died from signal {-status} before listening")
    return notes


def first_answer(attempts: list[BookAttempt], started_after: float, ended_after: float) -> BookAttempt | None:
    answered = [a for a in attempts if a.answered and a.started >= started_after and a.ended >= ended_after]
    return min(answered, key=lambda attempt: attempt.ended, default=None)


def check_recovered(recovery_s: float | None) -> Check:
    if recovery_s is None:
        return Check("service recovered", False, f"no Book returned a response within {RECOVERY_TIMEOUT_S:.0f} s of recovery")
    return Check("service recovered", True, f"first Book response {recovery_s:.2f} s after recovery began")


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.most_common()) or "none"


def name_part(fault: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in fault.lower())


def assert_checks(row: FaultRow) -> None:
    """Assert each check of the row, so a failure names one invariant and its numbers."""
    for check in row.checks:
        assert check.ok, f"{row.fault}: {check.name}: {check.message}"
