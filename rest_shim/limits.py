"""Protection against too many, oversized and slow requests, at the ASGI level."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import orjson
from prometheus_client import Counter
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from common.rules import InvalidInput
from rest_shim.errors import CLOSE_CONNECTION, RequestRejected

REJECTED = Counter(
    "rest_rejected_total",
    "requests rejected before routing, by reason: busy, body_too_large, header_timeout, headers_too_large, bad_request_id",
    ["reason"],
)

# Retry-After, in seconds, of a 503 for too many requests in flight.
RETRY_AFTER_S = 1


class RequestLimits:
    """ASGI middleware that rejects at once a request that cannot be served.

    - A Content-Length above max_body_bytes gets 413 before any of the body
      is read (read_body enforces the limit again for chunked bodies).
    - Past max_in_flight requests being handled in this process, a request
      gets 503 with Retry-After. Paths in `exempt` (health probes and
      metrics) are neither counted nor rejected, so probes keep working
      under overload.
    """

    def __init__(self, app: ASGIApp, *, max_in_flight: int, max_body_bytes: int, exempt: Collection[str]) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_body_bytes = max_body_bytes
        self.exempt = frozenset(exempt)
        self.in_flight = 0
        self._busy_body = orjson.dumps({
            "error": f"server busy: {max_in_flight} requests in flight, retry after {RETRY_AFTER_S} s"
        })

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope["headers"])
        if declared is not None and declared > self.max_body_bytes:
            REJECTED.labels("body_too_large").inc()
            message = {"error": f"body: must be at most {self.max_body_bytes} bytes, got {declared}"}
            await _send_json(send, 413, orjson.dumps(message), [(b"connection", b"close")])
            return
        if scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            REJECTED.labels("busy").inc()
            await _send_json(send, 503, self._busy_body, [(b"retry-after", str(RETRY_AFTER_S).encode())])
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """Return the declared body length. The HTTP server has already rejected malformed values."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _send_json(send: Send, status: int, body: bytes, extra_headers: list[tuple[bytes, bytes]]) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(request: Request, *, max_bytes: int, timeout_s: float) -> bytes:
    """Read the whole request body within timeout_s seconds and max_bytes bytes.

    Raises RequestRejected: 413 past max_bytes, 408 past the timeout. Both
    close the connection, since the rest of the body stays unread.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise RequestRejected(413, "body", f"must be at most {max_bytes} bytes", CLOSE_CONNECTION)
                chunks.append(chunk)
    except TimeoutError:
        raise RequestRejected(
            408, "body", f"was not received within {timeout_s * 1000:.0f} ms", CLOSE_CONNECTION
        ) from None
    except ClientDisconnect:
        raise InvalidInput("body", "is incomplete: the client disconnected") from None
    return b"".join(chunks)
