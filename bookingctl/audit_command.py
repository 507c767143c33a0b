"""bookingctl audit: check the invariants of every event, and repair Redis.

Reads DATABASE_URL and REDIS_URL from the environment, or from an env file
such as the .run/stack.env that `make up` writes. `audit` only reads.
`audit --repair` sets each event's Redis stock counter from PostgreSQL and
is safe while bookings run (see bookingctl/repair.py).
"""

from __future__ import annotations

import argparse
import sys

import psycopg
import redis

from bookingctl import environment, output
from bookingctl.audit import audit_events, format_table
from bookingctl.environment import CommandError
from bookingctl.repair import RepairRun, format_run, repair_events

# Events per repair_events call. A run over more events than this prints a
# count to stderr after each chunk.
REPAIR_CHUNK = 100


def command_audit(options: argparse.Namespace) -> int:
    database_url, redis_url = environment.database_and_redis_urls(options.env_file)
    if options.repair:
        return command_repair(database_url, redis_url, options)
    try:
        audits = audit_events(database_url, redis_url, options.event or None)
    except (psycopg.Error, redis.RedisError) as exc:
        raise CommandError(f"cannot read PostgreSQL or Redis: {type(exc).__name__}: {exc}") from None
    failed = [a for a in audits if not a.ok]
    if options.json:
        output.print_json({"events": [a.as_dict() for a in audits], "ok": not failed})
    else:
        print(format_table(audits))
        print(f"{len(audits)} events audited, {len(failed)} with drift or oversell")
        missing = [a for a in audits if a.stock_missing]
        if missing:
            print(
                f"{len(missing)} events have no stock counter in Redis: bookings of them get 503 until the booking "
                "service rebuilds it, one hold lifetime after the first attempt (or run `audit --repair` once "
                "a hold lifetime has passed)"
            )
    return 1 if failed else 0


def command_repair(database_url: str, redis_url: str, options: argparse.Namespace) -> int:
    run = RepairRun()
    event_ids: list[int] = []
    try:
        event_ids = list(dict.fromkeys(options.event)) if options.event else all_event_ids(database_url)
        for start in range(0, len(event_ids), REPAIR_CHUNK):
            chunk = repair_events(database_url, redis_url, event_ids[start:start + REPAIR_CHUNK])
            merge(run, chunk)
            if len(event_ids) > REPAIR_CHUNK:
                done = min(start + REPAIR_CHUNK, len(event_ids))
                print(f"checked {done} of {len(event_ids)} events, {len(run.repaired)} repaired", file=sys.stderr)
    except (psycopg.Error, redis.RedisError) as exc:
        # Each event's change to Redis is one atomic script, so the events
        # repaired before the error are consistent and a rerun is safe.
        checked = len(run.repairs) + len(run.missing_events) + len(run.incomplete)
        raise CommandError(
            f"stopped after {checked} of {len(event_ids)} events: {type(exc).__name__}: {exc}. "
            "Running it again is safe."
        ) from None
    if options.json:
        output.print_json(run.as_dict())
    else:
        print(format_run(run))
    return 0 if run.ok else 1


def all_event_ids(database_url: str) -> list[int]:
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        return [event_id for (event_id,) in conn.execute("SELECT id FROM events ORDER BY id")]


def merge(run: RepairRun, chunk: RepairRun) -> None:
    run.repairs.extend(chunk.repairs)
    run.missing_events.extend(chunk.missing_events)
    run.incomplete.update(chunk.incomplete)
