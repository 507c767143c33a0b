"""Settings of the REST shim, from environment variables."""

from __future__ import annotations

from dataclasses import dataclass

from common import settings
from common.settings import Setting

SETTINGS = [
    Setting("REST_HOST", "127.0.0.1", "address the HTTP server binds to", settings.text),
    Setting("REST_PORT", "8080", "HTTP port", settings.integer(1, 65535)),
    Setting("REST_WORKERS", "1", "HTTP server processes sharing the port (SO_REUSEPORT)", settings.integer(1, 256)),
    Setting("REST_SERVER", "uvicorn", "HTTP server: uvicorn, or granian if installed (bench/results/http-server-choice.md compares them)", settings.choice("uvicorn", "granian")),
    Setting("REST_BACKLOG", "4096", "listen backlog: connections waiting to be accepted", settings.integer(16, 65535)),
    Setting("BOOKING_TARGET", "", "booking service gRPC address, e.g. 127.0.0.1:50052 (required)", settings.host_port),
    Setting("BOOKING_TIMEOUT_MS", "5000", "deadline of one booking service call", settings.integer(1, 600_000), "ms"),
    *settings.LOGGING_SETTINGS,
]


@dataclass(frozen=True)
class ShimConfig:
    host: str
    port: int
    workers: int
    server: str
    backlog: int
    booking_target: str
    booking_timeout_ms: int
    log_level: str
    log_format: str

    @classmethod
    def from_env(cls) -> ShimConfig:
        values = settings.load(SETTINGS)
        return cls(
            host=values["REST_HOST"],
            port=values["REST_PORT"],
            workers=values["REST_WORKERS"],
            server=values["REST_SERVER"],
            backlog=values["REST_BACKLOG"],
            booking_target=values["BOOKING_TARGET"],
            booking_timeout_ms=values["BOOKING_TIMEOUT_MS"],
            log_level=values["LOG_LEVEL"],
            log_format=values["LOG_FORMAT"],
        )
