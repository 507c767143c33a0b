"""Retry of idempotent gRPC calls on transient failures, with capped exponential backoff and jitter."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Codes after which the same idempotent call may succeed if sent again.
TRANSIENT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: attempt n waits uniform(0, min(cap, base * 2**n))."""

    attempts: int = 4
    base_s: float = 0.02
    cap_s: float = 0.5

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap_s, self.base_s * (2**attempt)))


NO_RETRY = Backoff(attempts=1)


async def call_with_retry(
    method: str,
    call: Callable[[float | None], Awaitable[T]],
    *,
    timeout: float | None,
    backoff: Backoff,
    report_cause: bool = False,
) -> T:
    """Run call(remaining_timeout) and retry transient failures within one overall deadline.

    The deadline covers all attempts, so a retried call never outlives the
    caller's timeout. The last error is re-raised unchanged, except that
    with report_cause a retry cut short by the deadline re-raises the
    transient error before it, whose details name the cause. Only
    reads set it. For a call that changes state, DEADLINE_EXCEEDED is the
    only sign that the last attempt may have taken effect.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    attempt = 0
    transient: grpc.aio.AioRpcError | None = None
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        try:
            return await call(remaining)
        except grpc.aio.AioRpcError as exc:
            attempt += 1
            if report_cause and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED and transient is not None:
                raise transient from None
            if exc.code() not in TRANSIENT_CODES or attempt >= backoff.attempts:
                raise
            transient = exc
            pause = backoff.delay(attempt)
            if deadline is not None and time.monotonic() + pause >= deadline:
                raise
            logger.info("retrying %s after %s (attempt %d of %d): %s", method, exc.code().name, attempt + 1, backoff.attempts, exc.details())
            await asyncio.sleep(pause)
