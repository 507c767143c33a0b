"""Prometheus metrics of the gRPC services: calls by method and status code,
latency histograms, and an HTTP endpoint to scrape them."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import grpc
from prometheus_client import Counter, Histogram, start_http_server

from common import request_ids

logger = logging.getLogger(__name__)

RPC_CALLS = Counter("grpc_server_calls_total", "gRPC calls handled, by method and status code", ["method", "code"])
RPC_SECONDS = Histogram(
    "grpc_server_call_seconds",
    "Time to handle a gRPC call, by method",
    ["method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Count and time every unary-unary call; other kinds pass through untouched."""

    def __init__(self) -> None:
        # Wrapped handlers by method: the wrapper depends on the method only.
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        wrapped = self._wrapped.get(handler_call_details.method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = grpc.unary_unary_rpc_method_handler(
            _measured(handler_call_details.method.rsplit("/", 1)[-1], handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._wrapped[handler_call_details.method] = wrapped
        return wrapped


def _measured(method: str, behavior):
    async def measured(request, context: grpc.aio.ServicerContext):
        started = time.perf_counter()
        code = grpc.StatusCode.UNKNOWN
        try:
            response = await behavior(request, context)
            code = context.code() or grpc.StatusCode.OK
            return response
        except BaseException as exc:
            code = request_ids.status_of_failed_call(context, exc)
            raise
        finally:
            RPC_CALLS.labels(method, _code_name(code)).inc()
            RPC_SECONDS.labels(method).observe(time.perf_counter() - started)

    return measured


def _code_name(code: grpc.StatusCode | int) -> str:
    if isinstance(code, grpc.StatusCode):
        return code.name
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return status.name
    return str(code)


def serve_metrics(host: str, port: int) -> None:
    """Expose /metrics over HTTP on host:port from a background thread; port 0 turns it off."""
    if port == 0:
        return
    start_http_server(port, addr=host)
    logger.info("Prometheus metrics on http://%s:%d/metrics", host, port)
