"""Shared fixtures: one embedded stack per test session, and clients for it.

The stack starts private PostgreSQL and Redis processes in a temporary run
folder, on free loopback ports, unless DATABASE_URL / REDIS_URL are set.
Tests isolate themselves by creating their own events.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from clients import BookingClient, InventoryClient
from devstack.stack import Stack

_names = itertools.count(1)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("stack")
    running = Stack(
        run_dir,
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        extra_env={"LOG_LEVEL": "info"},
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def db(stack: Stack) -> Iterator[psycopg.Connection]:
    """A direct PostgreSQL connection for checking what the services wrote."""
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def cache(stack: Stack) -> Iterator[redis.Redis]:
    """A direct Redis connection for checking the stock counters."""
    client = redis.Redis.from_url(stack.cache_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
async def booking(stack: Stack) -> AsyncIterator[BookingClient]:
    async with BookingClient(stack.booking_target) as client:
        yield client


@pytest.fixture
async def inventory(stack: Stack) -> AsyncIterator[InventoryClient]:
    async with InventoryClient(stack.inventory_target) as client:
        yield client


@pytest.fixture
def event_name(request: pytest.FixtureRequest) -> str:
    return f"{request.node.name[:200]} #{next(_names)}"
