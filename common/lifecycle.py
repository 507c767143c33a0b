"""Run an asyncio service until SIGTERM or SIGINT, then stop it within a grace period."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def wait_for_stop_signal() -> signal.Signals:
    """Block until SIGTERM or SIGINT arrives and return which one."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def on_signal(sig: signal.Signals) -> None:
        if not received.done():
            received.set_result(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await received
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def run_until_signal(
    name: str,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
) -> None:
    """Start the service, wait for a stop signal, then stop it; log each step."""
    await start()
    sig = await wait_for_stop_signal()
    logger.info("%s received %s, stopping", name, sig.name)
    await stop()
    logger.info("%s stopped", name)
