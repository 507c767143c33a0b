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


# Time a service that failed to start gets to release what it opened.
STOP_AFTER_FAILED_START_S = 10.0


async def run_until_signal(
    name: str,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
) -> int:
    """Start the service, wait for a stop signal, then stop it, logging each step.

    Returns the exit status: 0 after a stop signal, 1 when start() raised.
    A failed start is logged at ERROR with the error's message, whose cause
    (such as an unreachable database) is usually all an operator needs, and
    with its traceback at DEBUG.
    """
    try:
        await start()
    except Exception as exc:
        logger.error("%s failed to start: %s: %s", name, type(exc).__name__, exc)
        logger.debug("traceback of the failed start of the %s", name, exc_info=exc)
        try:
            async with asyncio.timeout(STOP_AFTER_FAILED_START_S):
                await stop()
        except Exception as stop_error:
            logger.warning("%s: cleanup after the failed start failed: %s: %s", name, type(stop_error).__name__, stop_error)
        return 1
    sig = await wait_for_stop_signal()
    logger.info("%s received %s, stopping", name, sig.name)
    await stop()
    logger.info("%s stopped", name)
    return 0
