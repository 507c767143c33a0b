"""gRPC servicer for inventory.v1.InventoryService: validate, call the store, map errors."""

from __future__ import annotations

import logging

import grpc
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from redis.exceptions import TimeoutError as RedisTimeoutError

from booking_monitor_pb.inventory.v1 import inventory_pb2 as pb
from booking_monitor_pb.inventory.v1 import inventory_pb2_grpc as pb_grpc
from common import request_ids, rules
from inventory_service.redis_pool import RedisPoolExhausted
from inventory_service.store import ReservationConflict, ReserveItem, ReserveResult, Stock, StockMissing, StockStore

logger = logging.getLogger(__name__)

# Errors that mean Redis could not be reached or did not reply in time.
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


def _reserve_message(result: ReserveResult) -> pb.ReserveResponse:
    return pb.ReserveResponse(
        status=int(result.status),
        available=result.available,
        hold_deadline_ms=result.deadline_ms,
        server_time_ms=result.server_time_ms,
    )


def _stock_message(stock: Stock) -> pb.Stock:
    return pb.Stock(event_id=stock.event_id, total=stock.total, available=stock.available, held=stock.held)


class InventoryServicer(pb_grpc.InventoryServiceServicer):
    def __init__(self, store: StockStore, *, default_hold_ms: int) -> None:
        self._store = store
        self._default_hold_ms = default_hold_ms

    async def InitStock(self, request: pb.InitStockRequest, context: grpc.aio.ServicerContext) -> pb.InitStockResponse:
        async with _errors_mapped(context, "InitStock", request.event_id):
            event_id = rules.positive_id("event_id", request.event_id)
            total = rules.total_tickets(request.total, field="total")
            if not 0 <= request.available <= total:
                raise rules.InvalidInput("available", f"must be from 0 to total ({total}), got {request.available}")
            released = []
            for index, reservation_id in enumerate(request.released_reservation_ids):
                try:
                    released.append(rules.reservation_id(reservation_id))
                except rules.InvalidInput as exc:
                    raise rules.InvalidInput(f"released_reservation_ids[{index}]", exc.rule) from None
            created, stock = await self._store.init_stock(
                event_id, available=request.available, total=total, replace=request.replace, released=released
            )
            logger.info(
                "stock for event %d %s: total=%d available=%d",
                event_id, "set" if created else "kept", stock.total, stock.available,
            )
            return pb.InitStockResponse(initialised=created, stock=_stock_message(stock))

    async def BeginRebuild(
        self, request: pb.BeginRebuildRequest, context: grpc.aio.ServicerContext
    ) -> pb.BeginRebuildResponse:
        async with _errors_mapped(context, "BeginRebuild", request.event_id):
            event_id = rules.positive_id("event_id", request.event_id)
            quiet_ms = rules.hold_ms(request.quiet_ms)
            exists, wait_ms = await self._store.begin_rebuild(event_id, quiet_ms)
            if not exists:
                logger.warning("stock counter of event %d is missing; rebuild possible in %d ms", event_id, wait_ms)
            return pb.BeginRebuildResponse(stock_exists=exists, wait_ms=wait_ms)

    async def GetStock(self, request: pb.GetStockRequest, context: grpc.aio.ServicerContext) -> pb.GetStockResponse:
        async with _errors_mapped(context, "GetStock", request.event_id):
            event_id = rules.positive_id("event_id", request.event_id)
            stock = await self._store.get_stock(event_id)
            return pb.GetStockResponse(stock=_stock_message(stock))

    async def Reserve(self, request: pb.ReserveRequest, context: grpc.aio.ServicerContext) -> pb.ReserveResponse:
        async with _errors_mapped(context, "Reserve", request.event_id, request.reservation_id):
            event_id = rules.positive_id("event_id", request.event_id)
            reservation_id = rules.reservation_id(request.reservation_id)
            quantity = rules.quantity(request.quantity)
            if request.user_id:
                rules.positive_id("user_id", request.user_id)
            hold_ms = rules.hold_ms(request.hold_ms) or self._default_hold_ms
            request_id = request_ids.check_optional("request_id", request.request_id)
            result = await self._store.reserve(event_id, reservation_id, quantity, hold_ms)
            _log_reserve(reservation_id, event_id, quantity, result, request_id)
            return _reserve_message(result)

    async def Release(self, request: pb.ReleaseRequest, context: grpc.aio.ServicerContext) -> pb.ReleaseResponse:
        async with _errors_mapped(context, "Release", request.event_id, request.reservation_id):
            event_id = rules.positive_id("event_id", request.event_id)
            reservation_id = rules.reservation_id(request.reservation_id)
            unknown_quantity = 0
            if request.quantity_if_unknown:
                unknown_quantity = rules.quantity(request.quantity_if_unknown)
            result = await self._store.release(event_id, reservation_id, unknown_quantity)
            if result.released:
                logger.info(
                    "released reservation %s of event %d (was %s), available=%d",
                    reservation_id, event_id, result.previous.name, result.available,
                )
            return pb.ReleaseResponse(
                released=result.released, previous_state=int(result.previous), available=result.available
            )

    async def Confirm(self, request: pb.ConfirmRequest, context: grpc.aio.ServicerContext) -> pb.ConfirmResponse:
        async with _errors_mapped(context, "Confirm", request.event_id, request.reservation_id):
            event_id = rules.positive_id("event_id", request.event_id)
            reservation_id = rules.reservation_id(request.reservation_id)
            request_id = request_ids.check_optional("request_id", request.request_id)
            result = await self._store.confirm(event_id, reservation_id)
            _log_confirm(reservation_id, event_id, result, request_id)
            return pb.ConfirmResponse(confirmed=result.confirmed, previous_state=int(result.previous))


    async def ReserveBatch(
        self, request: pb.ReserveBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReserveBatchResponse:
        async with _errors_mapped(context, "ReserveBatch", 0, batch_items=request.items):
            items = [self._reserve_item(index, item) for index, item in enumerate(request.items)]
            results = await self._store.reserve_many(items) if items else []
            if logger.isEnabledFor(logging.DEBUG):
                for item, message, result in zip(items, request.items, results):
                    _log_reserve(item.reservation_id, item.event_id, item.quantity, result, message.request_id)
            return pb.ReserveBatchResponse(items=[_reserve_message(r) for r in results])

    async def ConfirmBatch(
        self, request: pb.ConfirmBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfirmBatchResponse:
        async with _errors_mapped(context, "ConfirmBatch", 0, batch_items=request.items):
            items = []
            for index, item in enumerate(request.items):
                with _field_prefix(f"items[{index}]."):
                    items.append((rules.positive_id("event_id", item.event_id), rules.reservation_id(item.reservation_id)))
                    request_ids.check_optional("request_id", item.request_id)
            results = await self._store.confirm_many(items) if items else []
            for (event_id, reservation_id), message, result in zip(items, request.items, results):
                _log_confirm(reservation_id, event_id, result, message.request_id)
            return pb.ConfirmBatchResponse(items=[
                pb.ConfirmResponse(confirmed=r.confirmed, previous_state=int(r.previous)) for r in results
            ])

    async def ListExpiredHolds(
        self, request: pb.ListExpiredHoldsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListExpiredHoldsResponse:
        async with _errors_mapped(context, "ListExpiredHolds", request.event_id):
            event_id = rules.positive_id("event_id", request.event_id)
            if not 0 <= request.limit <= MAX_LIST_LIMIT:
                raise rules.InvalidInput("limit", f"must be from 1 to {MAX_LIST_LIMIT}, got {request.limit}")
            holds = await self._store.list_expired(event_id, request.limit or DEFAULT_LIST_LIMIT)
            return pb.ListExpiredHoldsResponse(holds=[
                pb.Hold(reservation_id=h.reservation_id, quantity=h.quantity, deadline_ms=h.deadline_ms) for h in holds
            ])

    async def ExpireHolds(self, request: pb.ExpireHoldsRequest, context: grpc.aio.ServicerContext) -> pb.ExpireHoldsResponse:
        async with _errors_mapped(context, "ExpireHolds", request.event_id):
            event_id = rules.positive_id("event_id", request.event_id)
            ids = []
            for index, reservation_id in enumerate(request.reservation_ids):
                try:
                    ids.append(rules.reservation_id(reservation_id))
                except rules.InvalidInput as exc:
                    raise rules.InvalidInput(f"reservation_ids[{index}]", exc.rule) from None
            released = await self._store.expire(event_id, ids) if ids else []
            for reservation_id, done in zip(ids, released):
                if done:
                    logger.info("expired hold %s of event %d released", reservation_id, event_id)
            return pb.ExpireHoldsResponse(released=released)

    def _reserve_item(self, index: int, item: pb.ReserveRequest) -> ReserveItem:
        with _field_prefix(f"items[{index}]."):
            event_id = rules.positive_id("event_id", item.event_id)
            reservation_id = rules.reservation_id(item.reservation_id)
            quantity = rules.quantity(item.quantity)
            if item.user_id:
                rules.positive_id("user_id", item.user_id)
            hold_ms = rules.hold_ms(item.hold_ms) or self._default_hold_ms
            request_ids.check_optional("request_id", item.request_id)
        return ReserveItem(event_id, reservation_id, quantity, hold_ms)


def _log_reserve(reservation_id: str, event_id: int, quantity: int, result: ReserveResult, request_id: str) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return
    logger.debug(
        "reserve %s of event %d for %d tickets: %s, available=%d",
        reservation_id, event_id, quantity, result.status.name, result.available,
        extra=request_ids.log_extra(request_id),
    )


def _log_confirm(reservation_id: str, event_id: int, result, request_id: str) -> None:
    if result.confirmed:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("confirmed reservation %s of event %d", reservation_id, event_id, extra=request_ids.log_extra(request_id))
    else:
        logger.warning(
            "confirm of reservation %s of event %d found it %s",
            reservation_id, event_id, result.previous.name, extra=request_ids.log_extra(request_id),
        )


class _field_prefix:
    """Prefix the field named by an InvalidInput raised inside, e.g. items[3].quantity."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if isinstance(exc, rules.InvalidInput):
            raise rules.InvalidInput(self._prefix + exc.field, exc.rule) from None
        return False


class _errors_mapped:
    """Turn the store's exceptions into gRPC status codes, logging what is caught."""

    def __init__(
        self,
        context: grpc.aio.ServicerContext,
        method: str,
        event_id: int,
        reservation_id: str = "",
        batch_items=(),
    ) -> None:
        self._context = context
        self._method = method
        self._event_id = event_id
        self._reservation_id = reservation_id
        # Items of a batch call, whose request ids a failure's log line names.
        self._batch_items = batch_items

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            return False
        ids = f"event {self._event_id}" if self._event_id else "a batch"
        if self._batch_items:
            ids += f" (requests {request_ids.summary(item.request_id for item in self._batch_items)})"
        if self._reservation_id:
            ids += f" reservation {self._reservation_id}"
        if isinstance(exc, rules.InvalidInput):
            await self._context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if isinstance(exc, StockMissing):
            await self._context.abort(grpc.StatusCode.NOT_FOUND, f"{exc}; initialise it with InitStock")
        if isinstance(exc, ReservationConflict):
            await self._context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"reservation_id: {exc}")
        if isinstance(exc, MaxConnectionsError):
            # RedisCommandLimiter logs its own timeouts, rate-limited. A
            # MaxConnectionsError from redis-py itself means that a node's pool
            # filled up although the limiter bounds the calls, so log each one.
            if isinstance(exc, RedisPoolExhausted):
                await self._context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            message = f"Redis connection pool exhausted: {str(exc) or 'too many connections'}"
            logger.warning("%s for %s failed: %s", self._method, ids, message)
            await self._context.abort(grpc.StatusCode.UNAVAILABLE, message)
        if isinstance(exc, REDIS_UNAVAILABLE):
            logger.warning("%s for %s failed: Redis unavailable: %s", self._method, ids, exc)
            await self._context.abort(grpc.StatusCode.UNAVAILABLE, f"Redis unavailable: {exc}")
        return False
