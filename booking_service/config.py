"""Settings of the booking service, from environment variables and an optional configuration file."""

from __future__ import annotations

from dataclasses import dataclass

from common import config_file, limits, settings
from common.settings import Setting

# The table of this service in a configuration file (common.config_file).
CONFIG_TABLE = "booking"

SETTINGS = [
    Setting("BOOKING_HOST", "127.0.0.1", "address the gRPC server binds to", settings.text),
    Setting("BOOKING_PORT", "50052", "gRPC port (0 picks a free one)", settings.integer(0, 65535)),
    Setting("DATABASE_URL", "", "PostgreSQL server, e.g. postgresql://user@127.0.0.1:5432/booking (required)", settings.url("postgresql", "postgres")),
    Setting("INVENTORY_TARGET", "", "inventory service gRPC address, e.g. 127.0.0.1:50051 (required)", settings.host_port),
    Setting("PG_POOL_MIN", "2", "PostgreSQL connections kept open per process", settings.integer(1, 1000)),
    Setting("PG_POOL_MAX", "16", "maximum PostgreSQL connections per process", settings.integer(1, 1000)),
    Setting("PG_POOL_TIMEOUT_MS", "2000", "how long a call waits for a free PostgreSQL connection before it fails with UNAVAILABLE; keep it below the callers' deadline (the shim's BOOKING_TIMEOUT_MS)", settings.integer(1, 600_000), "ms"),
    Setting("PG_STATEMENT_TIMEOUT_MS", "5000", "PostgreSQL statement_timeout of every connection", settings.integer(1, 600_000), "ms"),
    Setting("INVENTORY_TIMEOUT_MS", "2000", "deadline of one inventory call, retries included", settings.integer(1, 600_000), "ms"),
    Setting("INVENTORY_HOLD_MS", "30000", "hold lifetime asked for on Reserve; must exceed the statement timeout", settings.integer(1000, 86_400_000), "ms"),
    Setting("GROUP_COMMIT_MAX_BATCH", "256", "maximum bookings written by one INSERT", settings.integer(1, 10_000)),
    Setting("GROUP_COMMIT_WORKERS", "2", "batches being written at once", settings.integer(1, 100)),
    Setting("SOLD_OUT_MEMORY_MS", "100", "how long a sold-out answer is reused without asking the inventory (0 turns it off); returned stock may be invisible that long", settings.integer(0, 60_000), "ms"),
    Setting("MAX_TICKETS_PER_USER", "0", "maximum confirmed tickets one user may hold for one event (0 turns the limit off)", settings.integer(0, 1_000_000)),
    Setting("SWEEP_INTERVAL_MS", "1000", "pause between expiry sweeps and retries of pending releases", settings.integer(10, 3_600_000), "ms"),
    Setting("IDEMPOTENCY_KEY_TTL_S", "86400", "how long an idempotency key is remembered", settings.integer(1, 30 * 86_400), "s"),
    Setting("BOOKING_METRICS_PORT", "0", "port of the Prometheus /metrics endpoint (0 turns it off)", settings.integer(0, 65535)),
    Setting("SHUTDOWN_GRACE_MS", "5000", "time in-flight calls get to finish after SIGTERM", settings.integer(0, 600_000), "ms"),
    limits.MAX_MESSAGE_SETTING,
    limits.in_flight_setting("BOOKING_MAX_IN_FLIGHT", 4096),
    *settings.LOGGING_SETTINGS,
]


@dataclass(frozen=True)
class BookingConfig:
    host: str
    port: int
    database_url: str
    inventory_target: str
    pg_pool_min: int
    pg_pool_max: int
    pg_statement_timeout_ms: int
    inventory_timeout_ms: int
    hold_ms: int
    group_commit_max_batch: int
    group_commit_workers: int
    sold_out_memory_ms: int
    max_tickets_per_user: int
    sweep_interval_ms: int
    idempotency_key_ttl_s: int
    shutdown_grace_ms: int
    log_level: str
    log_format: str
    max_message_bytes: int = limits.DEFAULT_MAX_MESSAGE_BYTES
    max_in_flight: int = 4096
    metrics_port: int = 0
    pg_pool_timeout_ms: int = 2000

    @property
    def insert_margin_s(self) -> float:
        """Time before a hold's deadline after which its insert must not start:
        the statement timeout plus one second for the commit to reach the disk
        and for clock rate differences."""
        return self.pg_statement_timeout_ms / 1000 + 1.0

    @classmethod
    def from_env(cls, config_path: str | None = None) -> BookingConfig:
        """Read the settings from the environment and, if one is named, a configuration file.

        config_path defaults to the file named by CONFIG_FILE. Environment
        variables override the file's values.
        """
        values = config_file.load(SETTINGS, CONFIG_TABLE, config_path)
        if values["PG_POOL_MIN"] > values["PG_POOL_MAX"]:
            raise settings.SettingsError(
                f"PG_POOL_MIN={values['PG_POOL_MIN']} is larger than PG_POOL_MAX={values['PG_POOL_MAX']}"
            )
        if values["INVENTORY_HOLD_MS"] <= 2 * values["PG_STATEMENT_TIMEOUT_MS"]:
            raise settings.SettingsError(
                f"INVENTORY_HOLD_MS={values['INVENTORY_HOLD_MS']} is too short: expected more than twice "
                f"PG_STATEMENT_TIMEOUT_MS ({values['PG_STATEMENT_TIMEOUT_MS']}), so no hold expires while its insert may still commit"
            )
        return cls(
            host=values["BOOKING_HOST"],
            port=values["BOOKING_PORT"],
            database_url=values["DATABASE_URL"],
            inventory_target=values["INVENTORY_TARGET"],
            pg_pool_min=values["PG_POOL_MIN"],
            pg_pool_max=values["PG_POOL_MAX"],
            pg_statement_timeout_ms=values["PG_STATEMENT_TIMEOUT_MS"],
            inventory_timeout_ms=values["INVENTORY_TIMEOUT_MS"],
            hold_ms=values["INVENTORY_HOLD_MS"],
            group_commit_max_batch=values["GROUP_COMMIT_MAX_BATCH"],
            group_commit_workers=values["GROUP_COMMIT_WORKERS"],
            sold_out_memory_ms=values["SOLD_OUT_MEMORY_MS"],
            max_tickets_per_user=values["MAX_TICKETS_PER_USER"],
            sweep_interval_ms=values["SWEEP_INTERVAL_MS"],
            idempotency_key_ttl_s=values["IDEMPOTENCY_KEY_TTL_S"],
            shutdown_grace_ms=values["SHUTDOWN_GRACE_MS"],
            log_level=values["LOG_LEVEL"],
            log_format=values["LOG_FORMAT"],
            max_message_bytes=values["GRPC_MAX_MESSAGE_BYTES"],
            max_in_flight=values["BOOKING_MAX_IN_FLIGHT"],
            metrics_port=values["BOOKING_METRICS_PORT"],
            pg_pool_timeout_ms=values["PG_POOL_TIMEOUT_MS"],
        )
