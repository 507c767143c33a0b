"""Correct each event's Redis stock counter from PostgreSQL while bookings run.

Per event, in one PostgreSQL transaction:

1. Lock the event row with SELECT ... FOR UPDATE. The batch insert of
   bookings and the cancel statement both lock or update that row, so no
   booking or cancel of the event commits until this transaction ends, and
   the sold count read next stays true while Redis is changed.
2. Find the open holds (members of the expiry set) whose booking has already
   committed, and the cancelled bookings whose hold record is still "C"
   (confirmed) or missing, because their Release has not reached Redis.
3. Run repair_stock.lua, which sets available = total - sold - open holds and
   held = open holds in one atomic step, and records both kinds of in-flight
   work so that the late Confirm or Release changes nothing.
4. Commit, which lets the waiting bookings of the event continue.

The script carries a deadline on Redis' clock, and the lock is held until
the script has replied or that deadline has passed. So a script delayed in
Redis beyond a client timeout either runs under the lock or not at all.

A repair is safe to repeat and to run next to another repair, because the
row lock serialises them. It fixes neither an oversell nor an
events.sold_tickets counter that differs from the confirmed bookings,
because both are errors in PostgreSQL itself. Those events are reported as
failed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import resources

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from inventory_service import keys

# Maximum wait for the event row lock. A booking batch keeps the row locked
# only for the duration of one INSERT statement.
LOCK_TIMEOUT = "10s"
# Maximum run time of each PostgreSQL statement of a repair, which runs under the lock.
STATEMENT_TIMEOUT = "5s"

# Time the repair script may take to start on Redis, measured from just
# after a TIME reply, and also the Redis client's socket timeout. It bounds
# how long a slow Redis can keep the row lock, and so the event's inserts,
# waiting.
SCRIPT_DEADLINE_S = 2.0
# Extra wait after the deadline for the rounding of Redis' clock to ms.
DEADLINE_MARGIN_S = 0.05

# Reservation ids per HMGET when checking the hold records of cancelled bookings.
HMGET_CHUNK = 1000


class RepairIncomplete(Exception):
    """One event's repair that did not finish. Redis is consistent either way but may keep its old counts."""

    def __init__(self, event_id: int, reason: str) -> None:
        super().__init__(f"event {event_id}: {reason}")
        self.event_id = event_id
        self.reason = reason


@dataclass(frozen=True)
class StockCounts:
    """Fields of an event's stock hash in Redis."""

    total: int
    available: int
    held: int


@dataclass(frozen=True)
class EventRepair:
    """Outcome of repairing one event: PostgreSQL's figures and Redis before and after."""

    event_id: int
    total: int
    sold: int
    sold_counter: int
    before: StockCounts | None
    after: StockCounts
    marked_confirmed: int
    marked_released: int
    removed_from_expiry: int

    @property
    def changed(self) -> bool:
        return (
            self.before != self.after
            or self.marked_confirmed > 0
            or self.marked_released > 0
            or self.removed_from_expiry > 0
        )

    @property
    def oversold(self) -> int:
        return max(0, self.sold - self.total)

    @property
    def ok(self) -> bool:
        """True when the event is consistent after the repair."""
        return self.oversold == 0 and self.sold == self.sold_counter

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "changed": self.changed, "oversold": self.oversold, "ok": self.ok}


@dataclass
class RepairRun:
    """Outcome of repairing a set of events."""

    repairs: list[EventRepair] = field(default_factory=list)
    missing_events: list[int] = field(default_factory=list)
    # Event id to the reason its repair did not finish.
    incomplete: dict[int, str] = field(default_factory=dict)

    @property
    def repaired(self) -> list[EventRepair]:
        return [r for r in self.repairs if r.changed]

    @property
    def failed(self) -> list[EventRepair]:
        return [r for r in self.repairs if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing_events and not self.incomplete

    def as_dict(self) -> dict[str, object]:
        return {
            "events": [r.as_dict() for r in self.repairs],
            "missing_events": self.missing_events,
            "incomplete": {str(event_id): reason for event_id, reason in self.incomplete.items()},
            "repaired": len(self.repaired),
            "ok": self.ok,
        }


def connect_redis(redis_url: str) -> redis.Redis:
    """Open a Redis client for StockRepairer.

    It decodes replies to str and never resends a command, so that at most
    one copy of a repair script is in flight.
    """
    return redis.Redis.from_url(
        redis_url,
        socket_timeout=SCRIPT_DEADLINE_S,
        socket_connect_timeout=SCRIPT_DEADLINE_S,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
    )


def load_repair_script(client: redis.Redis) -> Script:
    text = resources.files("inventory_service").joinpath("lua", "repair_stock.lua").read_text()
    return client.register_script(text)


class StockRepairer:
    """Repair events one at a time over one PostgreSQL and one Redis connection.

    The PostgreSQL connection must be in autocommit mode, so that each
    repair's transaction block is a real transaction and not a savepoint.
    The Redis client should come from connect_redis.
    """

    def __init__(self, conn: psycopg.Connection, client: redis.Redis) -> None:
        if not conn.autocommit:
            raise ValueError("StockRepairer needs a PostgreSQL connection in autocommit mode")
        self._conn = conn
        self._client = client
        self._script = load_repair_script(client)

    def repair(self, event_id: int) -> EventRepair | None:
        """Repair one event's stock in Redis, or return None when the event does not exist.

        Raises psycopg.errors.LockNotAvailable when the event row stays
        locked for longer than LOCK_TIMEOUT, and RepairIncomplete when the
        script's outcome is unknown or it ran too late to change anything.
        """
        with self._conn.transaction():
            self._conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            self._conn.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
            row = self._conn.execute(
                "SELECT total_tickets, sold_tickets FROM events WHERE id = %s FOR UPDATE", (event_id,)
            ).fetchone()
            if row is None:
                return None
            total, sold_counter = row

            # A new statement takes a new snapshot in READ COMMITTED, so this
            # sum includes every booking that committed before the lock.
            sold = int(self._conn.execute(
                "SELECT coalesce(sum(quantity), 0) FROM bookings WHERE event_id = %s AND status = 'confirmed'",
                (event_id,),
            ).fetchone()[0])
            committed = self._committed_open_holds(event_id)
            unreleased = self._unreleased_cancels(event_id)

            args: list[object] = [total, sold, len(committed), *committed]
            for reservation_id, quantity in unreleased:
                args += [reservation_id, quantity]
            reply = self._run_script_under_lock(event_id, args)

        existed, total_before, available_before, held_before, available, held = reply[:6]
        marked_confirmed, marked_released, removed = reply[6:]
        return EventRepair(
            event_id=event_id,
            total=total,
            sold=sold,
            sold_counter=sold_counter,
            before=StockCounts(total_before, available_before, held_before) if existed else None,
            after=StockCounts(total, available, held),
            marked_confirmed=marked_confirmed,
            marked_released=marked_released,
            removed_from_expiry=removed,
        )

    def _run_script_under_lock(self, event_id: int, args: list[object]) -> list[int]:
        """Run repair_stock.lua with a deadline that ends before this transaction may release the lock."""
        seconds, microseconds = self._client.time()
        clock_read_at = time.monotonic()
        deadline_ms = seconds * 1000 + microseconds // 1000 + int(SCRIPT_DEADLINE_S * 1000)
        try:
            reply = self._script(keys=keys.event_keys(event_id), args=[deadline_ms, *args])
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # The script may still be queued in Redis. Keeping the lock
            # until its deadline has passed means it runs under the lock or
            # not at all.
            remaining = clock_read_at + SCRIPT_DEADLINE_S + DEADLINE_MARGIN_S - time.monotonic()
            time.sleep(max(0.0, remaining))
            raise RepairIncomplete(
                event_id, f"Redis did not reply to the repair script ({exc}); it ran in full or not at all"
            ) from exc
        values = [int(value) for value in reply]
        if values[0] == -1:
            raise RepairIncomplete(
                event_id, f"the repair script started more than {SCRIPT_DEADLINE_S} s late and changed nothing"
            )
        return values

    def _committed_open_holds(self, event_id: int) -> list[str]:
        """Return the ids in the expiry set whose booking is confirmed in PostgreSQL."""
        members_by_id: dict[uuid.UUID, str] = {}
        for member in self._client.zrange(keys.expiry_key(event_id), 0, -1):
            try:
                members_by_id[uuid.UUID(member)] = member
            except ValueError:
                # The inventory service accepts UUIDs only, so no booking has this id.
                continue
        if not members_by_id:
            return []
        rows = self._conn.execute(
            "SELECT reservation_id FROM bookings"
            " WHERE event_id = %s AND status = 'confirmed' AND reservation_id = ANY(%s)",
            (event_id, list(members_by_id)),
        ).fetchall()
        return [members_by_id[reservation_id] for (reservation_id,) in rows]

    def _unreleased_cancels(self, event_id: int) -> list[tuple[str, int]]:
        """Return (reservation id, quantity) of cancelled bookings whose hold record is "C" or missing.

        Such a cancel has a Release still to come (its pending_releases row)
        or one that was lost. The script checks each record again, so this
        only narrows down what it is sent. A record still "H" is left alone,
        because the script counts it as held and the late Release or Confirm
        settles it.

        NOTE: this reads every cancelled booking of the event while the row
        lock is held, so an event with very many cancels delays its inserts
        for longer.
        """
        cancelled = [
            (str(reservation_id), quantity)
            for reservation_id, quantity in self._conn.execute(
                "SELECT reservation_id, quantity FROM bookings WHERE event_id = %s AND status = 'cancelled'",
                (event_id,),
            )
        ]
        unreleased = []
        for chunk in _chunks(cancelled, HMGET_CHUNK):
            records = self._client.hmget(keys.holds_key(event_id), [reservation_id for reservation_id, _ in chunk])
            for (reservation_id, quantity), record in zip(chunk, records):
                if record is None or record.startswith("C"):
                    unreleased.append((reservation_id, quantity))
        return unreleased


def repair_events(database_url: str, redis_url: str, event_ids: list[int] | None = None) -> RepairRun:
    """Repair every event (or the given ones), each in its own short transaction.

    An event whose repair does not finish is recorded in RepairRun.incomplete
    and the others still run. Other Redis and PostgreSQL errors end the run.
    """
    run = RepairRun()
    client = connect_redis(redis_url)
    try:
        with psycopg.connect(database_url, connect_timeout=10, autocommit=True) as conn:
            if event_ids:
                targets = list(dict.fromkeys(event_ids))
            else:
                targets = [event_id for (event_id,) in conn.execute("SELECT id FROM events ORDER BY id")]
            repairer = StockRepairer(conn, client)
            for event_id in targets:
                try:
                    repair = repairer.repair(event_id)
                except psycopg.errors.LockNotAvailable:
                    run.incomplete[event_id] = f"row lock not acquired within {LOCK_TIMEOUT}, nothing changed"
                    continue
                except RepairIncomplete as exc:
                    run.incomplete[event_id] = exc.reason
                    continue
                if repair is None:
                    run.missing_events.append(event_id)
                else:
                    run.repairs.append(repair)
    finally:
        client.close()
    return run


def describe_repair(repair: EventRepair) -> str:
    """Return one line saying what the repair changed and what it could not fix."""
    after = repair.after
    if repair.before is None:
        changes = [f"stock missing, created with available {after.available}, held {after.held}"]
    else:
        before = repair.before
        changes = [f"available {before.available} -> {after.available}", f"held {before.held} -> {after.held}"]
        if before.total != after.total:
            changes.append(f"total {before.total} -> {after.total}")
    if repair.marked_confirmed:
        changes.append(f"{repair.marked_confirmed} committed holds marked confirmed")
    if repair.marked_released:
        changes.append(f"{repair.marked_released} cancelled bookings' holds marked released")
    if repair.removed_from_expiry:
        changes.append(f"{repair.removed_from_expiry} expiry entries without an open hold removed")

    problems = []
    if repair.oversold:
        problems.append(f"oversold by {repair.oversold} ({repair.sold} sold of {repair.total})")
    if repair.sold != repair.sold_counter:
        problems.append(f"sold_tickets counter {repair.sold_counter} differs from confirmed bookings {repair.sold}")

    line = f"event {repair.event_id}: " + ", ".join(changes)
    if problems:
        line += "; FAIL: " + "; ".join(problems) + " (PostgreSQL must be fixed by hand)"
    return line


def format_run(run: RepairRun) -> str:
    """Return a line per event that changed or failed, then a summary line."""
    lines = [describe_repair(r) for r in run.repairs if r.changed or not r.ok]
    lines += [f"event {event_id}: FAIL: not found in PostgreSQL" for event_id in run.missing_events]
    lines += [
        f"event {event_id}: FAIL: {reason}. Run the repair again."
        for event_id, reason in run.incomplete.items()
    ]
    failed = len(run.failed) + len(run.missing_events) + len(run.incomplete)
    checked = len(run.repairs) + len(run.missing_events) + len(run.incomplete)
    noun = "event" if checked == 1 else "events"
    lines.append(f"{checked} {noun} checked, {len(run.repaired)} repaired, {failed} failed")
    return "\n".join(lines)


def _chunks(items: list[tuple[str, int]], size: int) -> Iterable[list[tuple[str, int]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
