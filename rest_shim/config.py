"""Settings of the REST shim, from environment variables and an optional configuration file."""

from __future__ import annotations

from dataclasses import dataclass, field

from common import config_file, settings
from common.settings import Setting

MIN_ADMIN_TOKEN_LENGTH = 16
# The default of REST_ADMIN_TOKEN. An empty default would mark the setting
# as required to the checks of docker-compose.yml (tests/test_compose.py).
ADMIN_TOKEN_OFF = "off"


def admin_token(name: str, raw: str) -> str:
    """Parse the admin bearer token, returning "" for off (admin routes open). The value never appears in errors."""
    if raw in ("", ADMIN_TOKEN_OFF):
        return ""
    if len(raw) < MIN_ADMIN_TOKEN_LENGTH:
        raise settings.SettingsError(
            f"{name} is too short ({len(raw)} characters): expected at least {MIN_ADMIN_TOKEN_LENGTH}, or off"
        )
    if any(not 0x21 <= ord(ch) <= 0x7E for ch in raw):
        raise settings.SettingsError(f"{name} is invalid: expected printable ASCII characters without spaces")
    return raw


# The table of this service in a configuration file (common.config_file).
CONFIG_TABLE = "rest_shim"

SETTINGS = [
    Setting("REST_HOST", "127.0.0.1", "address the HTTP server binds to", settings.text),
    Setting("REST_PORT", "8080", "HTTP port", settings.integer(1, 65535)),
    Setting("REST_WORKERS", "1", "HTTP server processes sharing the port (SO_REUSEPORT)", settings.integer(1, 256)),
    Setting("REST_SERVER", "uvicorn", "HTTP server: uvicorn, or granian if installed (bench/results/http-server-choice.md compares them)", settings.choice("uvicorn", "granian")),
    Setting("REST_BACKLOG", "4096", "listen backlog: connections waiting to be accepted", settings.integer(16, 65535)),
    Setting("BOOKING_TARGET", "", "booking service gRPC address, e.g. 127.0.0.1:50052 (required)", settings.host_port),
    Setting("SOLD_OUT_MEMORY_MS", "100", "how long a sold-out answer is reused for requests without an Idempotency-Key, without calling the booking service (0 turns it off)", settings.integer(0, 60_000), "ms"),
    Setting("BOOKING_TIMEOUT_MS", "5000", "deadline of one booking service call", settings.integer(1, 600_000), "ms"),
    # Limits against oversized, slow or too many requests.
    Setting("REST_MAX_IN_FLIGHT", "8192", "API requests handled at once per process; more get 503 with Retry-After", settings.integer(1, 1_000_000)),
    Setting("REST_MAX_BODY_BYTES", "16384", "largest request body; larger ones get 413", settings.integer(1024, 1_048_576), "bytes"),
    Setting("REST_MAX_HEADER_BYTES", "16384", "largest request line plus headers; larger ones get 431 (uvicorn only)", settings.integer(1024, 1_048_576), "bytes"),
    Setting("REST_HEADER_TIMEOUT_MS", "10000", "time a client gets to send a request line and headers before the connection closes", settings.integer(100, 600_000), "ms"),
    Setting("REST_BODY_TIMEOUT_MS", "10000", "time a client gets to send a request body; slower ones get 408", settings.integer(100, 600_000), "ms"),
    Setting("REST_KEEP_ALIVE_S", "5", "idle time before a keep-alive connection closes (uvicorn only)", settings.integer(1, 3600), "s"),
    Setting("REST_ADMIN_TOKEN", ADMIN_TOKEN_OFF, f"bearer token required by POST /api/v1/events, at least {MIN_ADMIN_TOKEN_LENGTH} printable ASCII characters, or off to leave the route open", admin_token),
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
    max_in_flight: int = 8192
    sold_out_memory_ms: int = 100
    max_body_bytes: int = 16384
    max_header_bytes: int = 16384
    header_timeout_ms: int = 10_000
    body_timeout_ms: int = 10_000
    keep_alive_s: int = 5
    # Left out of repr, so a logged ShimConfig does not show it.
    admin_token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, config_path: str | None = None) -> ShimConfig:
        """Read the settings from the environment and, if one is named, a configuration file.

        config_path defaults to the file named by CONFIG_FILE. Environment
        variables override the file's values.
        """
        values = config_file.load(SETTINGS, CONFIG_TABLE, config_path)
        return cls(
            host=values["REST_HOST"],
            port=values["REST_PORT"],
            workers=values["REST_WORKERS"],
            server=values["REST_SERVER"],
            backlog=values["REST_BACKLOG"],
            booking_target=values["BOOKING_TARGET"],
            booking_timeout_ms=values["BOOKING_TIMEOUT_MS"],
            sold_out_memory_ms=values["SOLD_OUT_MEMORY_MS"],
            log_level=values["LOG_LEVEL"],
            log_format=values["LOG_FORMAT"],
            max_in_flight=values["REST_MAX_IN_FLIGHT"],
            max_body_bytes=values["REST_MAX_BODY_BYTES"],
            max_header_bytes=values["REST_MAX_HEADER_BYTES"],
            header_timeout_ms=values["REST_HEADER_TIMEOUT_MS"],
            body_timeout_ms=values["REST_BODY_TIMEOUT_MS"],
            keep_alive_s=values["REST_KEEP_ALIVE_S"],
            admin_token=values["REST_ADMIN_TOKEN"],
        )
