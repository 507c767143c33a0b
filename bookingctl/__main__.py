"""bookingctl audit: check the invariants of every event, and repair Redis.

Reads DATABASE_URL and REDIS_URL from the environment, or from an env file
such as the .run/stack.env that `make up` writes. `audit` only reads.
`audit --repair` sets each event's Redis stock counter from PostgreSQL and
is safe while bookings run (see bookingctl/repair.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import psycopg
import redis

from bookingctl.audit import audit_events, format_table
from bookingctl.repair import format_run, repair_events


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def resolve_urls(env_file: Path | None) -> tuple[str, str]:
    source = dict(os.environ)
    if env_file is not None:
        source.update(read_env_file(env_file))
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not source.get(name)]
    if missing:
        raise SystemExit(f"bookingctl: {' and '.join(missing)} not set; export them or pass --env-file .run/stack.env")
    return source["DATABASE_URL"], source["REDIS_URL"]


def command_audit(options: argparse.Namespace) -> int:
    database_url, redis_url = resolve_urls(options.env_file)
    if options.repair:
        return command_repair(database_url, redis_url, options)
    audits = audit_events(database_url, redis_url, options.event or None)
    failed = [a for a in audits if not a.ok]
    if options.json:
        print(json.dumps({"events": [a.as_dict() for a in audits], "ok": not failed}, indent=2))
    else:
        print(format_table(audits))
        print(f"{len(audits)} events audited, {len(failed)} with drift or oversell")
    return 1 if failed else 0


def command_repair(database_url: str, redis_url: str, options: argparse.Namespace) -> int:
    try:
        run = repair_events(database_url, redis_url, options.event or None)
    except (psycopg.Error, redis.RedisError) as exc:
        # Each event's change to Redis is one atomic script, so the events
        # repaired before the error are consistent and a rerun is safe.
        print(f"bookingctl: repair failed: {type(exc).__name__}: {exc}. Running it again is safe.", file=sys.stderr)
        return 1
    if options.json:
        print(json.dumps(run.as_dict(), indent=2))
    else:
        print(format_run(run))
    return 0 if run.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bookingctl", description="Operate the booking system.")
    commands = parser.add_subparsers(dest="command", required=True)
    audit = commands.add_parser(
        "audit", help="check sold + available + held == total and no oversell for every event; exit 1 on any failure"
    )
    audit.add_argument("--env-file", type=Path, help="read DATABASE_URL and REDIS_URL from this file (e.g. .run/stack.env)")
    audit.add_argument("--event", type=int, action="append", help="audit or repair only this event id (repeatable)")
    audit.add_argument("--json", action="store_true", help="print JSON instead of a table")
    audit.add_argument(
        "--repair",
        action="store_true",
        help="set each event's Redis stock from PostgreSQL (safe while bookings run) and print what changed; "
        "exit 1 if an event stays inconsistent (oversell, sold_tickets mismatch, not found)",
    )
    options = parser.parse_args(argv)
    if options.command == "audit":
        return command_audit(options)
    return 2


if __name__ == "__main__":
    sys.exit(main())
