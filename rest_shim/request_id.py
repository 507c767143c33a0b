"""The X-Request-Id header: read from the request or generated, made current, and returned."""

from __future__ import annotations

import logging
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common import request_ids
from common.rules import InvalidInput
from rest_shim.limits import REJECTED

HEADER = b"x-request-id"

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("rest_shim.access")


class RequestIdMiddleware:
    """ASGI middleware that gives every HTTP request a request id.

    The id is the request's X-Request-Id header when it has one, else a newly
    generated one. It is current (common.request_ids) while the request is handled, so
    the booking client sends it on to the gRPC services and every log line
    carries it, and it is returned in the response's X-Request-Id header.
    A malformed header gets 400 naming it, and the request goes no further.
    At DEBUG level each request is logged on the `rest_shim.access` logger.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = _header(scope["headers"])
        request_id = request_ids.new()
        error = None
        if received is not None:
            try:
                request_id = request_ids.check("X-Request-Id", received)
            except InvalidInput as exc:
                error = str(exc)
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id.encode())]
            await send(message)

        # The ContextVar is set directly: a context manager costs a measurable
        # share of the shim's CPU time per request.
        token = request_ids.current.set(request_id)
        try:
            if error is not None:
                REJECTED.labels("bad_request_id").inc()
                await _send_json(send_with_id, 400, {"error": error})
            else:
                try:
                    await self.app(scope, receive, send_with_id)
                except Exception:
                    # Handled here, while the request id is set, so that the log
                    # line and the 500 response carry it. Starlette's outer
                    # handler would log and respond without it.
                    logger.exception("%s %s failed with an unexpected error", scope["method"], scope["path"])
                    if status:
                        raise
                    await _send_json(send_with_id, 500, {"error": f"internal error; request id {request_id}"})
            if access_logger.isEnabledFor(logging.DEBUG):
                access_logger.debug(
                    "%s %s %d in %.1f ms", scope["method"], scope["path"], status, (time.perf_counter() - started) * 1000
                )
        finally:
            request_ids.current.reset(token)


def _header(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == HEADER:
            return value.decode("latin-1")
    return None


async def _send_json(send: Send, status: int, payload: dict) -> None:
    body = orjson.dumps(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
