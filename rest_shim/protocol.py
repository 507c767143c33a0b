"""uvicorn's httptools protocol with a deadline and a size limit for request headers.

uvicorn 0.55 with httptools arms no timer until a first response has been
sent (its keep-alive timeout), and any byte received cancels that timer. So
a client that sends part of a request line or headers and then stalls keeps
its connection open indefinitely. httptools also accepts headers of any
size. This protocol closes such connections: 408 after
REST_HEADER_TIMEOUT_MS without complete headers, 431 past
REST_MAX_HEADER_BYTES.

Slow bodies are the application's part (rest_shim.limits.read_body), which
works under granian too.
"""

from __future__ import annotations

import asyncio
import functools
import logging

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from rest_shim.config import ShimConfig
from rest_shim.limits import REJECTED

logger = logging.getLogger(__name__)


@functools.cache
def _header_limits() -> tuple[float, int]:
    """Read (timeout in seconds, maximum bytes) once per process from the environment."""
    config = ShimConfig.from_env()
    return config.header_timeout_ms / 1000, config.max_header_bytes


def _raw_response(status: int, reason: str, message: str) -> bytes:
    body = orjson.dumps({"error": message})
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeadersTooLarge(Exception):
    """Raised inside a parser callback, so that send_400_response sends 431 instead of 400."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that bounds the time and bytes a client spends on request headers."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._header_timeout_s, self._max_header_bytes = _header_limits()
        self._header_timer: asyncio.TimerHandle | None = None
        # True from the end of one request (or the connection's start)
        # until the next request's headers are complete.
        self._awaiting_headers = True
        # Bytes received while awaiting headers; bounds what httptools
        # buffers before it reports a header.
        self._received_bytes = 0
        # Bytes of the request line and headers, as the parser reports them.
        self._header_bytes = 0
        self._headers_too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._received_bytes += len(data)
        super().data_received(data)
        if self._awaiting_headers and self._received_bytes > self._max_header_bytes:
            self._reject_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._start_header_timer()

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._stop_header_timer()
        if self._header_bytes > self._max_header_bytes:
            # uvicorn handles a callback error by calling send_400_response.
            self._headers_too_large = True
            raise HeadersTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True
        self._received_bytes = 0

    def send_400_response(self, msg: str) -> None:
        if self._headers_too_large:
            self._reject_too_large()
            return
        super().send_400_response(msg)

    def _start_header_timer(self) -> None:
        """Start the header timer unless it runs already (from the connection's start)."""
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._header_timeout_s, self._on_header_timeout)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self._received_bytes == 0:
            # An idle connection that never started a request: close quietly.
            self.transport.close()
            return
        self._reject("header_timeout", 408, "Request Timeout",
                     f"headers: not received within {self._header_timeout_s * 1000:.0f} ms")

    def _reject_too_large(self) -> None:
        self._reject("headers_too_large", 431, "Request Header Fields Too Large",
                     f"headers: must be at most {self._max_header_bytes} bytes with the request line")

    def _reject(self, label: str, status: int, reason: str, message: str) -> None:
        if self.transport.is_closing():
            return
        REJECTED.labels(label).inc()
        logger.debug("closing connection from %s: %d %s", self.client, status, message)
        self.transport.write(_raw_response(status, reason, message))
        self.transport.close()
