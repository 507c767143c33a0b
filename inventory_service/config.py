"""Settings of the inventory service, from environment variables and an optional configuration file."""

from __future__ import annotations

from dataclasses import dataclass

from common import config_file, limits, settings
from common.settings import Setting

# The table of this service in a configuration file (common.config_file).
CONFIG_TABLE = "inventory"

SETTINGS = [
    Setting("INVENTORY_HOST", "127.0.0.1", "address the gRPC server binds to", settings.text),
    Setting("INVENTORY_PORT", "50051", "gRPC port (0 picks a free one)", settings.integer(0, 65535)),
    Setting("REDIS_URL", "", "Redis server, e.g. redis://127.0.0.1:6379/0 (required)", settings.url("redis", "rediss", "unix")),
    Setting("REDIS_MODE", "standalone", "Redis deployment: standalone (one server) or cluster (REDIS_URL names any cluster node)", settings.choice("standalone", "cluster")),
    Setting("REDIS_POOL_SIZE", "64", "maximum Redis connections per process", settings.integer(1, 10_000)),
    Setting("REDIS_TIMEOUT_MS", "2000", "timeout of one Redis call", settings.integer(1, 600_000), "ms"),
    Setting("INVENTORY_HOLD_MS", "30000", "default hold lifetime before the expiry sweep may release it", settings.integer(1000, 86_400_000), "ms"),
    Setting("INVENTORY_METRICS_PORT", "0", "port of the Prometheus /metrics endpoint (0 turns it off)", settings.integer(0, 65535)),
    Setting("SHUTDOWN_GRACE_MS", "5000", "time in-flight calls get to finish after SIGTERM", settings.integer(0, 600_000), "ms"),
    limits.MAX_MESSAGE_SETTING,
    limits.in_flight_setting("INVENTORY_MAX_IN_FLIGHT", 4096),
    *settings.LOGGING_SETTINGS,
]


@dataclass(frozen=True)
class InventoryConfig:
    host: str
    port: int
    redis_url: str
    redis_mode: str
    redis_pool_size: int
    redis_timeout_ms: int
    hold_ms: int
    shutdown_grace_ms: int
    log_level: str
    log_format: str
    max_message_bytes: int = limits.DEFAULT_MAX_MESSAGE_BYTES
    max_in_flight: int = 4096
    metrics_port: int = 0

    @classmethod
    def from_env(cls, config_path: str | None = None) -> InventoryConfig:
        """Read the settings from the environment and, if one is named, a configuration file.

        config_path defaults to the file named by CONFIG_FILE. Environment
        variables override the file's values.
        """
        values = config_file.load(SETTINGS, CONFIG_TABLE, config_path)
        return cls(
            host=values["INVENTORY_HOST"],
            port=values["INVENTORY_PORT"],
            redis_url=values["REDIS_URL"],
            redis_mode=values["REDIS_MODE"],
            redis_pool_size=values["REDIS_POOL_SIZE"],
            redis_timeout_ms=values["REDIS_TIMEOUT_MS"],
            hold_ms=values["INVENTORY_HOLD_MS"],
            shutdown_grace_ms=values["SHUTDOWN_GRACE_MS"],
            log_level=values["LOG_LEVEL"],
            log_format=values["LOG_FORMAT"],
            max_message_bytes=values["GRPC_MAX_MESSAGE_BYTES"],
            max_in_flight=values["INVENTORY_MAX_IN_FLIGHT"],
            metrics_port=values["INVENTORY_METRICS_PORT"],
        )
