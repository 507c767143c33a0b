"""Prometheus metrics of the gRPC services: calls by method and status code,
latency histograms, and an HTTP endpoint to scrape them."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import grpc
from prometheus_client import Counter, Histogram, start_http_server

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

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        behavior = handler.unary_unary

        async def measured(request, context: grpc.aio.ServicerContext):
            started = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            try:
                response = await behavior(request, context)
                code = context.code() or grpc.StatusCode.OK
                return response
            except BaseException:
                # context.abort raises after setting the code it sends.
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                RPC_CALLS.labels(method, _code_name(code)).inc()
                RPC_SECONDS.labels(method).observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            measured,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


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
