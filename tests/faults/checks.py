"""Invariants checked once a fault is over and the load has stopped.

Each function returns a Check instead of asserting, so the table shows every
invariant of a fault even when an early one fails.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import psycopg

from bookingctl.audit import EventAudit, audit_events
from tests.faults.load import CANCEL_OK, CONFIRMED, SOLD_OUT, BookAttempt, BookingLoad, CancelAttempt
from tests.faults.report import Check

# Outcomes that tell the caller clearly what happened. UNKNOWN or INTERNAL
# would mean that an exception escaped the service's error mapping.
CLEAR_BOOK_OUTCOMES = frozenset({
    CONFIRMED, SOLD_OUT, "UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "FAILED_PRECONDITION",
})
CLEAR_CANCEL_OUTCOMES = frozenset({CANCEL_OK, "UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "FAILED_PRECONDITION"})
# How the booking service's own UNAVAILABLE messages begin (booking_service/servicer.py),
# as opposed to transport errors such as "failed to connect to all addresses".
SERVICE_UNAVAILABLE_PREFIXES = ("PostgreSQL unavailable", "inventory unavailable")
# At most this many examples in a message.
SAMPLES = 5


@dataclass(frozen=True)
class Settled:
    ok: bool
    seconds: float
    audits: list[EventAudit]
    pending_releases: int


@dataclass(frozen=True)
class BookingRecord:
    id: int
    event_id: int
    user_id: int
    quantity: int
    status: str


def pending_release_count(db_url: str, event_ids: list[int]) -> int:
    with psycopg.connect(db_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM pending_releases WHERE event_id = ANY(%s)", (event_ids,)).fetchone()
    return int(row[0]) if row else 0


def wait_until_settled(db_url: str, cache_url: str, event_ids: list[int], timeout: float) -> Settled:
    """Poll until no event has tickets on hold and no cancelled booking still has to return its tickets to Redis."""
    started = time.monotonic()
    while True:
        audits = audit_events(db_url, cache_url, event_ids)
        pending = pending_release_count(db_url, event_ids)
        settled = pending == 0 and all(not audit.held for audit in audits)
        elapsed = time.monotonic() - started
        if settled or elapsed >= timeout:
            return Settled(settled, elapsed, audits, pending)
        time.sleep(0.2)


def read_bookings(db_url: str, event_ids: list[int]) -> list[BookingRecord]:
    with psycopg.connect(db_url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT id, event_id, user_id, quantity, status FROM bookings WHERE event_id = ANY(%s)", (event_ids,)
        ).fetchall()
    return [BookingRecord(*row) for row in rows]


def _samples(items: list[str]) -> str:
    listed = ", ".join(items[:SAMPLES])
    return listed + (f" and {len(items) - SAMPLES} more" if len(items) > SAMPLES else "")


def _describe(audit: EventAudit) -> str:
    return (
        f"event {audit.event_id}: total {audit.total}, sold {audit.sold}, sold_tickets {audit.sold_counter}, "
        f"available {audit.available}, held {audit.held}, drift {audit.drift}"
    )


def check_settled(settled: Settled, timeout: float) -> Check:
    holding = [_describe(audit) for audit in settled.audits if audit.held]
    return Check(
        "holds settled",
        settled.ok,
        f"after {settled.seconds:.1f} s (limit {timeout:.0f} s): {settled.pending_releases} pending releases; "
        f"events still holding tickets: {_samples(holding) or 'none'}",
    )


def check_stock(audits: list[EventAudit]) -> list[Check]:
    """Check for oversell, sold_tickets equal to the bookings, a Redis counter per event, and drift."""
    oversold = [_describe(a) for a in audits if a.sold > a.total]
    counter_off = [_describe(a) for a in audits if a.sold != a.sold_counter]
    missing = [str(a.event_id) for a in audits if a.available is None]
    drifted = [_describe(a) for a in audits if a.available is not None and a.drift != 0]
    every = "; ".join(_describe(a) for a in audits)
    return [
        Check("no oversell", not oversold, f"oversold: {_samples(oversold) or 'none'}; all: {every}"),
        Check("sold_tickets matches bookings", not counter_off, f"differing: {_samples(counter_off) or 'none'}"),
        Check("Redis counter present", not missing, f"events without a stock counter: {', '.join(missing) or 'none'}"),
        Check("no drift", not drifted, f"available + held + sold != total: {_samples(drifted) or 'none'}; all: {every}"),
    ]


def check_outcomes(attempts: list[BookAttempt], cancels: list[CancelAttempt]) -> Check:
    """Check that every Book and CancelBooking call ended in a response or a clear error code."""
    unclear: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for attempt in attempts:
        if attempt.outcome not in CLEAR_BOOK_OUTCOMES:
            unclear[f"Book {attempt.outcome}"] += 1
            examples.setdefault(f"Book {attempt.outcome}", attempt.detail)
    for cancel in cancels:
        if cancel.outcome not in CLEAR_CANCEL_OUTCOMES:
            unclear[f"CancelBooking {cancel.outcome}"] += 1
            examples.setdefault(f"CancelBooking {cancel.outcome}", cancel.detail)
    message = ", ".join(f"{name} x{count} (e.g. {examples[name]!r})" for name, count in unclear.items())
    return Check(
        "clear status codes",
        not unclear,
        f"{len(attempts)} Book and {len(cancels)} CancelBooking calls; unclear: {message or 'none'}",
    )


def check_confirmed_kept(load: BookingLoad, bookings: list[BookingRecord]) -> Check:
    """Check that every booking a client saw confirmed is in PostgreSQL with the same event, user
    and quantity, and still confirmed unless the client cancelled it (or its cancel ended with an error)."""
    by_id = {booking.id: booking for booking in bookings}
    cancelled = load.cancelled_ids()
    maybe_cancelled = load.cancel_unknown_ids()
    missing, changed, lost = [], [], []
    for attempt in load.confirmed():
        row = by_id.get(attempt.booking_id)
        if row is None:
            missing.append(f"booking {attempt.booking_id} (user {attempt.user_id})")
        elif (row.event_id, row.user_id, row.quantity) != (attempt.event_id, attempt.user_id, attempt.quantity):
            changed.append(
                f"booking {row.id}: client saw event {attempt.event_id} user {attempt.user_id} qty {attempt.quantity},"
                f" PostgreSQL has event {row.event_id} user {row.user_id} qty {row.quantity}"
            )
        elif row.status != "confirmed" and row.id not in cancelled and row.id not in maybe_cancelled:
            lost.append(f"booking {row.id} is {row.status}")
    ok = not (missing or changed or lost)
    return Check(
        "confirmed bookings kept",
        ok,
        f"{len(load.confirmed())} confirmed, {len(cancelled)} cancelled by clients; missing {len(missing)}: "
        f"{_samples(missing) or '-'}; changed {len(changed)}: {_samples(changed) or '-'}; "
        f"no longer confirmed {len(lost)}: {_samples(lost) or '-'}",
    )


def check_cancels_kept(load: BookingLoad, bookings: list[BookingRecord]) -> Check:
    by_id = {booking.id: booking for booking in bookings}
    wrong = [
        f"booking {booking_id} is {by_id[booking_id].status if booking_id in by_id else 'missing'}"
        for booking_id in sorted(load.cancelled_ids())
        if booking_id not in by_id or by_id[booking_id].status != "cancelled"
    ]
    return Check(
        "cancels kept",
        not wrong,
        f"{len(load.cancelled_ids())} cancels returned OK; not cancelled in PostgreSQL: {_samples(wrong) or 'none'}",
    )


def check_one_booking_per_request(load: BookingLoad, bookings: list[BookingRecord]) -> Check:
    """Check that each request (one user id each) made at most one booking, and none when it returned SOLD_OUT."""
    requests = {attempt.user_id: attempt for attempt in load.attempts}
    per_user: dict[int, list[int]] = defaultdict(list)
    for booking in bookings:
        per_user[booking.user_id].append(booking.id)
    doubled = [f"user {user}: bookings {ids}" for user, ids in per_user.items() if len(ids) > 1]
    strangers = [f"booking {ids[0]} (user {user})" for user, ids in per_user.items() if user not in requests]
    after_sold_out = [
        f"booking {ids[0]} (user {user})"
        for user, ids in per_user.items()
        if user in requests and requests[user].outcome == SOLD_OUT
    ]
    ok = not (doubled or strangers or after_sold_out)
    return Check(
        "one booking per request",
        ok,
        f"{len(bookings)} bookings; more than one per request: {_samples(doubled) or 'none'}; "
        f"from no request of the load: {_samples(strangers) or 'none'}; "
        f"for a request that returned SOLD_OUT: {_samples(after_sold_out) or 'none'}",
    )


def unreported_bookings(load: BookingLoad, bookings: list[BookingRecord]) -> Counter[str]:
    """Count bookings in PostgreSQL whose request did not end CONFIRMED, by what the client saw.

    A client that timed out or lost its connection cannot know whether it
    booked, so these are expected after some faults and are only reported.
    An UNAVAILABLE that the booking service itself sent (its message names
    the failed dependency) is counted apart, since the README documents it as
    "nothing was booked".
    """
    attempts = {attempt.user_id: attempt for attempt in load.attempts}
    counts: Counter[str] = Counter()
    for booking in bookings:
        attempt = attempts.get(booking.user_id)
        if attempt is None or attempt.outcome == CONFIRMED:
            continue
        sent_by_service = attempt.outcome == "UNAVAILABLE" and attempt.detail.startswith(SERVICE_UNAVAILABLE_PREFIXES)
        counts[f"{attempt.outcome}(service)" if sent_by_service else attempt.outcome] += 1
    return counts
