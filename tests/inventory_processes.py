"""Run an inventory service process with its own settings, and sort the outcomes of concurrent calls."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess

PROJECT_ROOT = Path(__file__).resolve().parent.parent

POOL_EXHAUSTED = "Redis connection pool exhausted"


@dataclass(frozen=True)
class InventoryProcess:
    target: str
    metrics_url: str


@contextmanager
def running_inventory(redis_url: str, log_path: Path, **settings: str) -> Iterator[InventoryProcess]:
    """Run an inventory service process on free loopback ports with extra settings, and stop it on exit."""
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "INVENTORY_HOST": "127.0.0.1",
        "INVENTORY_PORT": str(port),
        "INVENTORY_METRICS_PORT": str(metrics_port),
        "LOG_LEVEL": "info",
        **settings,
    }
    process = ManagedProcess(
        log_path.stem, [sys.executable, "-m", "inventory_service"], log_path=log_path, env=env, cwd=PROJECT_ROOT
    )
    process.start()
    try:
        # The metrics server starts before the gRPC port opens.
        wait_for_port("127.0.0.1", port, 30, alive=process.alive)
        yield InventoryProcess(f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        process.stop(signal.SIGTERM, timeout=15)


async def gather_outcomes(calls) -> list:
    """Await the calls together and return each reply, or the exception that the call raised."""
    return await asyncio.gather(*calls, return_exceptions=True)


def pool_exhausted_errors(outcomes: list) -> list[grpc.aio.AioRpcError]:
    return [
        o for o in outcomes
        if isinstance(o, grpc.aio.AioRpcError) and o.code() == grpc.StatusCode.UNAVAILABLE
        and POOL_EXHAUSTED in (o.details() or "")
    ]


def unexpected_outcomes(outcomes: list) -> list:
    """Return what is neither a reply nor an UNAVAILABLE error."""
    return [
        o for o in outcomes
        if isinstance(o, BaseException)
        and not (isinstance(o, grpc.aio.AioRpcError) and o.code() == grpc.StatusCode.UNAVAILABLE)
    ]
