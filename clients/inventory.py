"""Async client for inventory.v1.InventoryService."""

from __future__ import annotations

import grpc

from booking_monitor_pb.inventory.v1 import inventory_pb2 as pb
from booking_monitor_pb.inventory.v1 import inventory_pb2_grpc as pb_grpc
from clients.channel import open_channel
from clients.retry import Backoff, call_with_retry
from common import request_ids

DEFAULT_TIMEOUT_S = 2.0


def reserve_request(
    event_id: int, reservation_id: str, quantity: int, *, user_id: int = 0, hold_ms: int = 0, request_id: str = ""
) -> pb.ReserveRequest:
    return pb.ReserveRequest(
        event_id=event_id,
        reservation_id=reservation_id,
        quantity=quantity,
        user_id=user_id,
        hold_ms=hold_ms,
        request_id=request_id,
    )


class InventoryClient:
    """Calls the inventory service. Every call here is idempotent, so each one is
    retried on UNAVAILABLE within its timeout. Each call sends the current
    request id (common.request_ids) as x-request-id metadata."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        backoff: Backoff | None = None,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.target = target
        self._channel = channel or open_channel(target)
        self._stub = pb_grpc.InventoryServiceStub(self._channel)
        self._timeout = timeout
        self._backoff = backoff or Backoff()

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> InventoryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def init_stock(
        self,
        event_id: int,
        *,
        total: int,
        available: int,
        replace: bool = False,
        released_reservation_ids: list[str] | None = None,
        timeout: float | None = None,
    ) -> pb.InitStockResponse:
        request = pb.InitStockRequest(
            event_id=event_id,
            total=total,
            available=available,
            replace=replace,
            released_reservation_ids=released_reservation_ids or [],
        )
        return await self._call("InitStock", self._stub.InitStock, request, timeout)

    async def begin_rebuild(self, event_id: int, *, quiet_ms: int, timeout: float | None = None) -> pb.BeginRebuildResponse:
        request = pb.BeginRebuildRequest(event_id=event_id, quiet_ms=quiet_ms)
        return await self._call("BeginRebuild", self._stub.BeginRebuild, request, timeout)

    async def get_stock(self, event_id: int, *, timeout: float | None = None) -> pb.Stock:
        response = await self._call("GetStock", self._stub.GetStock, pb.GetStockRequest(event_id=event_id), timeout)
        return response.stock

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
        request = reserve_request(event_id, reservation_id, quantity, user_id=user_id, hold_ms=hold_ms)
        return await self._call("Reserve", self._stub.Reserve, request, timeout)

    async def release(
        self, event_id: int, reservation_id: str, *, quantity_if_unknown: int = 0, timeout: float | None = None
    ) -> pb.ReleaseResponse:
        request = pb.ReleaseRequest(
            event_id=event_id, reservation_id=reservation_id, quantity_if_unknown=quantity_if_unknown
        )
        return await self._call("Release", self._stub.Release, request, timeout)

    async def confirm(self, event_id: int, reservation_id: str, *, timeout: float | None = None) -> pb.ConfirmResponse:
        request = pb.ConfirmRequest(event_id=event_id, reservation_id=reservation_id)
        return await self._call("Confirm", self._stub.Confirm, request, timeout)

    async def reserve_batch(
        self, items: list[pb.ReserveRequest], *, timeout: float | None = None
    ) -> list[pb.ReserveResponse]:
        reply = await self._call("ReserveBatch", self._stub.ReserveBatch, pb.ReserveBatchRequest(items=items), timeout)
        return list(reply.items)

    async def confirm_batch(
        self, items: list[pb.ConfirmRequest], *, timeout: float | None = None
    ) -> list[pb.ConfirmResponse]:
        reply = await self._call("ConfirmBatch", self._stub.ConfirmBatch, pb.ConfirmBatchRequest(items=items), timeout)
        return list(reply.items)

    async def list_expired_holds(self, event_id: int, *, limit: int = 0, timeout: float | None = None) -> list[pb.Hold]:
        request = pb.ListExpiredHoldsRequest(event_id=event_id, limit=limit)
        reply = await self._call("ListExpiredHolds", self._stub.ListExpiredHolds, request, timeout)
        return list(reply.holds)

    async def expire_holds(
        self, event_id: int, reservation_ids: list[str], *, timeout: float | None = None
    ) -> list[bool]:
        request = pb.ExpireHoldsRequest(event_id=event_id, reservation_ids=reservation_ids)
        reply = await self._call("ExpireHolds", self._stub.ExpireHolds, request, timeout)
        return list(reply.released)

    async def _call(self, method, rpc, request, timeout: float | None):
        metadata = request_ids.outgoing_metadata()
        return await call_with_retry(
            method,
            lambda remaining: rpc(request, timeout=remaining, metadata=metadata),
            timeout=self._timeout if timeout is None else timeout,
            backoff=self._backoff,
        )
