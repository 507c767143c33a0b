"""The call coalescer, on a fake send function (no I/O)."""

from __future__ import annotations

import asyncio

import pytest

from clients.batching import Batcher


class RecordingSend:
    """Doubles each item and records the batches it was given, slowly enough for calls to queue."""

    def __init__(self, delay: float = 0.01, fail_with: Exception | None = None) -> None:
        self.batches: list[list[int]] = []
        self.timeouts: list[float] = []
        self.delay = delay
        self.fail_with = fail_with

    async def __call__(self, items: list[int], timeout: float) -> list[int]:
        self.timeouts.append(timeout)
        self.batches.append(list(items))
        await asyncio.sleep(self.delay)
        if self.fail_with:
            raise self.fail_with
        return [item * 2 for item in items]


async def test_lone_call_sent_at_once() -> None:
    send = RecordingSend(delay=0)
    batcher = Batcher("test", send, timeout=5)

    result = await asyncio.wait_for(batcher.submit(21), timeout=1)

    assert result == 42
    assert send.batches == [[21]]
    await batcher.close()


async def test_concurrent_calls_share_batches() -> None:
    send = RecordingSend()
    batcher = Batcher("test", send, timeout=5, max_batch=50, max_in_flight=1)

    results = await asyncio.gather(*(batcher.submit(i) for i in range(200)))

    assert results == [i * 2 for i in range(200)]
    assert sorted(item for batch in send.batches for item in batch) == list(range(200))
    assert len(send.batches) < 20
    assert max(len(batch) for batch in send.batches) == 50
    await batcher.close()


async def test_failure_reaches_every_caller_in_batch() -> None:
    send = RecordingSend(fail_with=RuntimeError("inventory down"))
    batcher = Batcher("test", send, timeout=5)

    results = await asyncio.gather(*(batcher.submit(i) for i in range(10)), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) and str(r) == "inventory down" for r in results)
    await batcher.close()


async def test_cancelled_caller_not_sent() -> None:
    send = RecordingSend(delay=0.05)
    batcher = Batcher("test", send, timeout=5, max_in_flight=1)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0.01)  # the first batch is now in flight
    doomed = asyncio.create_task(batcher.submit(2))
    kept = asyncio.create_task(batcher.submit(3))
    await asyncio.sleep(0)
    doomed.cancel()

    assert await first == 2
    assert await kept == 6
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert send.batches == [[1], [3]]
    await batcher.close()


async def test_in_flight_limit_respected() -> None:
    in_flight = 0
    peak = 0

    async def send(items: list[int], timeout: float) -> list[int]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return items

    batcher = Batcher("test", send, timeout=5, max_batch=3, max_in_flight=2)
    await asyncio.gather(*(batcher.submit(i) for i in range(30)))

    assert peak == 2
    await batcher.close()


async def test_caller_deadline_bounds_batch_timeout() -> None:
    send = RecordingSend(delay=0)
    batcher = Batcher("test", send, timeout=5)

    await batcher.submit(1, timeout=0.3)
    await batcher.submit(2)
    await batcher.submit(3, timeout=60)

    assert 0.2 < send.timeouts[0] <= 0.3
    assert 4.9 < send.timeouts[1] <= 5
    assert 4.9 < send.timeouts[2] <= 5
    await batcher.close()
