"""Stock operations on Redis, each one atomic Lua script.

redis-py's Script objects run scripts by EVALSHA and load them again on a
NOSCRIPT reply, so a Redis restart (which empties the script cache) costs one
extra round trip and no error.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from importlib import resources

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

from inventory_service import keys
from inventory_service.redis_pool import RedisCommandLimiter

logger = logging.getLogger(__name__)


class ReserveStatus(enum.IntEnum):
    """Outcome of a Reserve; values match inventory.v1.ReserveStatus."""

    RESERVED = 1
    SOLD_OUT = 2
    STOCK_MISSING = 3
    RELEASED = 4
    CONFIRMED = 5
    CONFLICT = 6


class HoldState(enum.IntEnum):
    """State of a hold; values match inventory.v1.HoldState."""

    HELD = 1
    CONFIRMED = 2
    RELEASED = 3
    UNKNOWN = 4


class ReservationConflict(Exception):
    """A reservation id was reused with a different quantity."""


class StockMissing(Exception):
    """The event has no stock counter in Redis."""

    def __init__(self, event_id: int) -> None:
        super().__init__(f"event {event_id} has no stock counter in Redis")
        self.event_id = event_id


@dataclass(frozen=True)
class ReserveItem:
    event_id: int
    reservation_id: str
    quantity: int
    hold_ms: int


@dataclass(frozen=True)
class Stock:
    event_id: int
    total: int
    available: int
    held: int


@dataclass(frozen=True)
class ReserveResult:
    status: ReserveStatus
    available: int
    deadline_ms: int
    server_time_ms: int = 0


@dataclass(frozen=True)
class ExpiredHold:
    reservation_id: str
    quantity: int
    deadline_ms: int


@dataclass(frozen=True)
class ReleaseResult:
    released: bool
    previous: HoldState
    available: int


@dataclass(frozen=True)
class ConfirmResult:
    confirmed: bool
    previous: HoldState


def _load_script(name: str) -> str:
    return resources.files("inventory_service").joinpath("lua", name).read_text()


class StockStore:
    """Per-event stock counters and holds kept in one Redis (or Redis Cluster).

    Every method runs its Redis calls under one permit of the limiter, so it
    waits for a free connection when REDIS_POOL_SIZE calls are in progress.
    """

    def __init__(self, client: redis.Redis | RedisCluster, limiter: RedisCommandLimiter) -> None:
        self._client = client
        self._limiter = limiter
        self._cluster = isinstance(client, RedisCluster)
        self._reserve = client.register_script(_load_script("reserve.lua"))
        self._release = client.register_script(_load_script("release.lua"))
        self._confirm = client.register_script(_load_script("confirm.lua"))
        self._init = client.register_script(_load_script("init_stock.lua"))
        self._list_expired = client.register_script(_load_script("list_expired.lua"))
        self._expire = client.register_script(_load_script("expire.lua"))
        self._begin_rebuild = client.register_script(_load_script("begin_rebuild.lua"))

    async def ping(self) -> bool:
        async with self._limiter.permit():
            return bool(await self._client.ping())

    async def init_stock(
        self, event_id: int, *, available: int, total: int, replace: bool, released: list[str] | None = None
    ) -> tuple[bool, Stock]:
        """Create the counter (or overwrite it when replace is set); return (created, stock).

        `released` reservation ids get tombstones when the counter is written.
        """
        async with self._limiter.permit(event_id):
            reply = await self._init(
                keys=[keys.stock_key(event_id), keys.holds_key(event_id)],
                args=[available, total, int(replace), *(released or [])],
            )
        initialised, stock_total, stock_available, held = (int(x) for x in reply)
        return bool(initialised), Stock(event_id, stock_total, stock_available, held)

    async def begin_rebuild(self, event_id: int, quiet_ms: int) -> tuple[bool, int]:
        """Return (stock_exists, wait_ms) for a counter that may need a rebuild."""
        async with self._limiter.permit(event_id):
            exists, wait_ms = await self._begin_rebuild(
                keys=[keys.stock_key(event_id), keys.rebuild_marker_key(event_id)], args=[quiet_ms]
            )
        return bool(exists), int(wait_ms)

    async def get_stock(self, event_id: int) -> Stock:
        async with self._limiter.permit(event_id):
            total, available, held = await self._client.hmget(keys.stock_key(event_id), "total", "available", "held")
        if total is None or available is None:
            raise StockMissing(event_id)
        return Stock(event_id, int(total), int(available), int(held or 0))

    async def reserve(self, event_id: int, reservation_id: str, quantity: int, hold_ms: int) -> ReserveResult:
        """Take a hold; a repeated call with the same id returns the first outcome and takes nothing."""
        try:
            async with self._limiter.permit(event_id):
                status, available, deadline, now = await self._reserve(
                    keys=keys.event_keys(event_id), args=[reservation_id, quantity, hold_ms]
                )
        except ResponseError as exc:
            if str(exc).startswith("CONFLICT"):
                raise ReservationConflict(str(exc).removeprefix("CONFLICT ")) from None
            raise
        return ReserveResult(ReserveStatus(int(status)), int(available), int(deadline), int(now))

    async def release(self, event_id: int, reservation_id: str, unknown_quantity: int = 0) -> ReleaseResult:
        """Return a hold's tickets to stock; a repeated call returns nothing more."""
        async with self._limiter.permit(event_id):
            released, previous, available = await self._release(
                keys=keys.event_keys(event_id), args=[reservation_id, unknown_quantity]
            )
        if int(released) == -1:
            raise StockMissing(event_id)
        return ReleaseResult(bool(released), HoldState(int(previous)), int(available))

    async def confirm(self, event_id: int, reservation_id: str) -> ConfirmResult:
        async with self._limiter.permit(event_id):
            confirmed, previous = await self._confirm(keys=keys.event_keys(event_id), args=[reservation_id])
        return ConfirmResult(bool(confirmed), HoldState(int(previous)))

    async def reserve_many(self, items: list[ReserveItem]) -> list[ReserveResult]:
        """Run one reserve script per item in a single pipelined round trip.

        Each script is still atomic on its own; items do not see a shared
        snapshot, exactly as if they had been sent one by one.
        """
        calls = [
            (keys.event_keys(item.event_id), [item.reservation_id, item.quantity, item.hold_ms]) for item in items
        ]
        async with self._limiter.permit(*(item.event_id for item in items)):
            replies = await self._run_pipelined(self._reserve, calls)
        results = []
        for reply in replies:
            if isinstance(reply, ResponseError) and str(reply).startswith("CONFLICT"):
                results.append(ReserveResult(ReserveStatus.CONFLICT, 0, 0))
            elif isinstance(reply, Exception):
                raise reply
            else:
                status, available, deadline, now = reply
                results.append(ReserveResult(ReserveStatus(int(status)), int(available), int(deadline), int(now)))
        return results

    async def confirm_many(self, items: list[tuple[int, str]]) -> list[ConfirmResult]:
        """Confirm (event_id, reservation_id) holds in a single pipelined round trip."""
        calls = [(keys.event_keys(event_id), [reservation_id]) for event_id, reservation_id in items]
        async with self._limiter.permit(*(event_id for event_id, _ in items)):
            replies = _raise_first_error(await self._run_pipelined(self._confirm, calls))
        return [ConfirmResult(bool(confirmed), HoldState(int(previous))) for confirmed, previous in replies]

    async def list_expired(self, event_id: int, limit: int) -> list[ExpiredHold]:
        async with self._limiter.permit(event_id):
            flat = await self._list_expired(keys=[keys.holds_key(event_id), keys.expiry_key(event_id)], args=[limit])
        return [
            ExpiredHold(_text(flat[i]), int(flat[i + 1]), int(flat[i + 2])) for i in range(0, len(flat), 3)
        ]

    async def expire(self, event_id: int, reservation_ids: list[str]) -> list[bool]:
        """Release each hold that is still held and past its deadline, in one round trip."""
        calls = [(keys.event_keys(event_id), [reservation_id]) for reservation_id in reservation_ids]
        async with self._limiter.permit(event_id):
            replies = _raise_first_error(await self._run_pipelined(self._expire, calls))
        return [bool(int(reply)) for reply in replies]

    async def _run_pipelined(self, script: AsyncScript, calls: list[tuple[list[str], list]]) -> list:
        """Run script once per (keys, args) call in one pipeline; return replies in order, errors as values.

        The standalone pipeline loads a missing script before it sends the
        calls. redis-py's cluster pipeline (checked with redis-py 8.2) sends
        EVALSHA to each key's node but does not recover from NOSCRIPT. A call
        that got NOSCRIPT did not run, so it is sent again after SCRIPT LOAD
        on every primary.
        """
        replies = await self._execute_scripts(script, calls)
        if not self._cluster:
            return replies

        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            logger.info("script %s missing on a cluster node; loading it on every primary", script.sha)
            await self._client.script_load(script.script)
            retried = await self._execute_scripts(script, [calls[i] for i in missing])
            for i, reply in zip(missing, retried):
                replies[i] = reply
        return replies

    async def _execute_scripts(self, script: AsyncScript, calls: list[tuple[list[str], list]]) -> list:
        pipe = self._client.pipeline(transaction=False)
        for call_keys, call_args in calls:
            await script(keys=call_keys, args=call_args, client=pipe)
        return await pipe.execute(raise_on_error=False)


def _raise_first_error(replies: list) -> list:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
