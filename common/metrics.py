"""Prometheus metrics of the gRPC services: calls by method and status code,
latency histograms, and an HTTP endpoint to scrape them."""

from __future__ import annotations

import logging
import time

import grpc
from prometheus_client import Counter, Histogram, start_http_server

from common import request_ids
from common.interceptors import UnaryHandlerInterceptor

logger = logging.getLogger(__name__)

RPC_CALLS = Counter("grpc_server_calls_total", "gRPC calls handled, by method and status code", ["method", "code"])
RPC_SECONDS = Histogram(
    "grpc_server_call_seconds",
    "Time to handle a gRPC call, by method",
    ["method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class MetricsInterceptor(UnaryHandlerInterceptor):
    """Count and time every unary-unary call; other kinds pass through untouched."""

    def wrap(self, method: str, behavior):
        return _measured(method, behavior)


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
