"""Faults injected while about 40 clients book and cancel, each followed by recovery and checks.

Each test kills, restarts or breaks one component of the private stack from
conftest.py (short hold and sweep timings), waits for a Book to succeed
again, stops the load, waits for holds to settle and then checks: no
oversell, sold_tickets equal to the bookings, no drift between Redis and
PostgreSQL, only clear status codes, and no confirmed booking lost.
"""

from __future__ import annotations

import asyncio
import signal
import time

import psycopg
import pytest

from devstack.stack import Stack
from tests.faults.load import BookingLoad
from tests.faults.report import Check
from tests.faults.scenario import FAULT_ENV, Fault, assert_checks, run_fault, start_postgres

pytestmark = pytest.mark.faults

# How long a killed component stays down before its restart is issued.
OUTAGE_S = 1.0
# How long PostgreSQL rejects booking inserts, and how long clients use tiny deadlines.
BROKEN_S = 2.0
TINY_DEADLINE_PHASE_S = 4.0
SHUTDOWN_GRACE_S = int(FAULT_ENV["SHUTDOWN_GRACE_MS"]) / 1000
# Time allowed beyond the grace period for the booking service to exit after
# SIGTERM. Its stop waits up to the grace period for running calls, then up to
# the grace period again for sagas that hold stock.
SHUTDOWN_SLACK_S = 5.0


async def kill_and_restart_service(stack: Stack, name: str, fault: Fault) -> None:
    fault.injected = time.monotonic()
    await asyncio.to_thread(stack.services[name].kill)
    await asyncio.sleep(OUTAGE_S)
    fault.recovering = time.monotonic()
    await asyncio.to_thread(stack.start_service, name)


async def test_booking_service_sigkill(restored_stack: Stack) -> None:
    async def inject(load: BookingLoad, fault: Fault) -> None:
        await kill_and_restart_service(restored_stack, "booking", fault)

    row = await run_fault(restored_stack, "SIGKILL booking", inject, number=1)

    assert_checks(row)


async def test_inventory_service_sigkill(restored_stack: Stack) -> None:
    async def inject(load: BookingLoad, fault: Fault) -> None:
        await kill_and_restart_service(restored_stack, "inventory", fault)

    row = await run_fault(restored_stack, "SIGKILL inventory", inject, number=2)

    assert_checks(row)


async def test_redis_restart_empty(restored_stack: Stack) -> None:
    redis_server = restored_stack.redis
    assert redis_server is not None

    async def inject(load: BookingLoad, fault: Fault) -> None:
        fault.injected = time.monotonic()
        await asyncio.to_thread(redis_server.kill)
        await asyncio.sleep(OUTAGE_S)
        fault.recovering = time.monotonic()
        # No RDB or AOF: Redis comes back with no counters and no holds.
        await asyncio.to_thread(redis_server.start)

    row = await run_fault(restored_stack, "Redis restart (empty)", inject, number=3)

    assert_checks(row)


async def test_postgres_crash_restart(restored_stack: Stack) -> None:
    postgres = restored_stack.postgres
    assert postgres is not None

    async def inject(load: BookingLoad, fault: Fault) -> None:
        fault.injected = time.monotonic()
        # SIGKILL, as in a crash: the restart runs crash recovery from the WAL.
        await asyncio.to_thread(postgres.kill)
        await asyncio.sleep(OUTAGE_S)
        fault.recovering = time.monotonic()
        fault.notes.extend(await asyncio.to_thread(start_postgres, postgres))

    row = await run_fault(restored_stack, "PostgreSQL kill+restart", inject, number=4)

    assert_checks(row)


async def test_postgres_rejects_inserts(restored_stack: Stack) -> None:
    async def inject(load: BookingLoad, fault: Fault) -> None:
        with await asyncio.to_thread(psycopg.connect, restored_stack.db_url, autocommit=True) as conn:
            fault.injected = time.monotonic()
            await asyncio.to_thread(reject_booking_inserts, conn)
            try:
                await asyncio.sleep(BROKEN_S)
            finally:
                await asyncio.to_thread(accept_booking_inserts, conn)
                fault.recovering = time.monotonic()

    row = await run_fault(restored_stack, "PostgreSQL rejects inserts", inject, number=5)

    assert_checks(row)


def reject_booking_inserts(conn: psycopg.Connection) -> None:
    # CREATE TRIGGER waits for the inserts running on bookings, and
    # lock_timeout keeps a stuck one from hanging the test.
    conn.execute("SET lock_timeout = '5s'")
    conn.execute(
        """
        CREATE OR REPLACE FUNCTION faults_reject_booking() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'booking insert rejected by the fault test';
        END $$
        """
    )
    conn.execute(
        "CREATE TRIGGER faults_reject_booking BEFORE INSERT ON bookings "
        "FOR EACH ROW EXECUTE FUNCTION faults_reject_booking()"
    )


def accept_booking_inserts(conn: psycopg.Connection) -> None:
    conn.execute("DROP TRIGGER IF EXISTS faults_reject_booking ON bookings")
    conn.execute("DROP FUNCTION IF EXISTS faults_reject_booking()")


async def test_client_tiny_deadlines(restored_stack: Stack) -> None:
    async def inject(load: BookingLoad, fault: Fault) -> None:
        fault.injected = time.monotonic()
        load.tiny_deadlines = True
        await asyncio.sleep(TINY_DEADLINE_PHASE_S)
        load.tiny_deadlines = False
        fault.recovering = time.monotonic()

    row = await run_fault(restored_stack, "client deadlines 1-50 ms", inject, number=6)

    assert_checks(row)


async def test_booking_service_sigterm(restored_stack: Stack) -> None:
    async def inject(load: BookingLoad, fault: Fault) -> None:
        fault.injected = time.monotonic()
        # stop_service sends SIGKILL if the process is still running after 20 s.
        await asyncio.to_thread(restored_stack.stop_service, "booking", signal.SIGTERM)
        took = time.monotonic() - fault.injected
        status = restored_stack.services["booking"].proc.returncode
        limit = SHUTDOWN_GRACE_S + SHUTDOWN_SLACK_S
        fault.checks.append(Check("SIGTERM exit status 0", status == 0, f"exit status {status}"))
        fault.checks.append(Check("SIGTERM exit in time", took <= limit, f"exited after {took:.2f} s, limit {limit:.1f} s"))
        fault.recovering = time.monotonic()
        await asyncio.to_thread(restored_stack.start_service, "booking")

    row = await run_fault(restored_stack, "SIGTERM booking", inject, number=7)

    assert_checks(row)
