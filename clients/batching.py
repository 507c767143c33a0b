"""Coalesce concurrent calls into batch RPCs.

A Python gRPC unary call costs far more CPU than the Redis work behind a
Reserve. So under load the booking service sends the Reserve and Confirm
calls that wait at the same moment as one ReserveBatch or ConfirmBatch
call. When idle, a call goes out at once as a batch of one, so
batching adds no delay; under load, calls queue while earlier batches are in
flight and leave together.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from booking_monitor_pb.inventory.v1 import inventory_pb2 as pb
from clients.inventory import InventoryClient, reserve_request
from common import request_ids

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    future: asyncio.Future[Result]
    # Event-loop time by which the caller needs its result.
    deadline: float


class Batcher(Generic[Item, Result]):
    """Send queued items through `send` in batches of at most max_batch, with at most
    max_in_flight batches outstanding.

    `send(items, timeout)` returns one result per item, in order. The timeout
    of a batch is the time left until the latest deadline among its items,
    so a caller's deadline travels on to the batch call.
    """

    def __init__(
        self,
        name: str,
        send: Callable[[list[Item], float], Awaitable[list[Result]]],
        *,
        timeout: float,
        max_batch: int = 256,
        max_in_flight: int = 4,
    ) -> None:
        self.name = name
        self._send = send
        self._timeout = timeout
        self._max_batch = max_batch
        self._slots = asyncio.Semaphore(max_in_flight)
        self._queue: asyncio.Queue[_Waiting[Item, Result]] = asyncio.Queue()
        self._loop_task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.batches_sent = 0
        self.items_sent = 0

    async def submit(self, item: Item, timeout: float | None = None) -> Result:
        """Queue item and wait for its result; timeout (seconds) defaults to the batcher's."""
        if self._loop_task is None:
            # The loop and the batch calls it starts serve many requests, so
            # they run in an empty context, without the first caller's
            # request id. Each item carries its own, and each batch call
            # gets a new one (_send_batch).
            self._loop_task = asyncio.create_task(
                self._run(), name=f"batcher-{self.name}", context=contextvars.Context()
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        limit = self._timeout if timeout is None else min(timeout, self._timeout)
        self._queue.put_nowait(_Waiting(item, future, loop.time() + limit))
        return await future

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            # Waiting for a free slot lets more calls join this batch.
            await self._slots.acquire()
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [waiting for waiting in batch if not waiting.future.done()]
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._send_batch(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send_batch(self, batch: list[_Waiting[Item, Result]]) -> None:
        timeout = max(waiting.deadline for waiting in batch) - asyncio.get_running_loop().time()
        # The batch call gets an id of its own, sent as its x-request-id, and
        # this line joins it to the ids of the requests in it.
        request_ids.current.set(request_ids.new())
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s batch of %d items for requests %s",
                self.name, len(batch), request_ids.summary(getattr(w.item, "request_id", "") for w in batch),
            )
        try:
            results = await self._send([waiting.item for waiting in batch], max(timeout, 0.001))
        except Exception as exc:
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
            return
        finally:
            self._slots.release()
        self.batches_sent += 1
        self.items_sent += len(batch)
        if len(results) != len(batch):
            error = RuntimeError(f"{self.name}: {len(results)} results for a batch of {len(batch)}")
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(error)
            return
        for waiting, result in zip(batch, results):
            if not waiting.future.done():
                waiting.future.set_result(result)


class BatchingInventoryClient:
    """Reserve and Confirm through ReserveBatch and ConfirmBatch; every other call
    goes straight to the wrapped InventoryClient."""

    def __init__(
        self, client: InventoryClient, *, timeout: float, max_batch: int = 256, max_in_flight: int = 1
    ) -> None:
        self.client = client
        self._reserves: Batcher[pb.ReserveRequest, pb.ReserveResponse] = Batcher(
            "reserve",
            lambda items, timeout: client.reserve_batch(items, timeout=timeout),
            timeout=timeout,
            max_batch=max_batch,
            max_in_flight=max_in_flight,
        )
        self._confirms: Batcher[pb.ConfirmRequest, pb.ConfirmResponse] = Batcher(
            "confirm",
            lambda items, timeout: client.confirm_batch(items, timeout=timeout),
            timeout=timeout,
            max_batch=max_batch,
            max_in_flight=max_in_flight,
        )

    async def reserve(
        self,
        event_id: int,
        reservation_id: str,
        quantity: int,
        *,
        user_id: int = 0,
        hold_ms: int = 0,
        timeout: float | None = None,
    ) -> pb.ReserveResponse:
        request = reserve_request(
            event_id, reservation_id, quantity, user_id=user_id, hold_ms=hold_ms, request_id=request_ids.current.get()
        )
        return await self._reserves.submit(request, timeout)

    async def confirm(self, event_id: int, reservation_id: str) -> pb.ConfirmResponse:
        request = pb.ConfirmRequest(
            event_id=event_id, reservation_id=reservation_id, request_id=request_ids.current.get()
        )
        return await self._confirms.submit(request)

    async def close(self) -> None:
        await self._reserves.close()
        await self._confirms.close()
