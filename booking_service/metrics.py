"""Prometheus metrics of the booking saga, the expiry sweep and the PostgreSQL pool."""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from psycopg_pool import AsyncConnectionPool

BOOKINGS = Counter("bookings_total", "Book calls by outcome: confirmed, sold_out, user_limit_reached or failed", ["outcome"])
COMPENSATIONS = Counter("booking_compensations_total", "Compensating releases run after a failed insert")
SWEPT_HOLDS = Counter("booking_swept_holds_total", "Expired holds settled by the sweep, by action", ["action"])
AVAILABLE_TICKETS = Gauge(
    "booking_event_available_tickets", "Tickets the inventory reported available at the last Reserve, by event", ["event_id"]
)


class PoolCollector(Collector):
    """Report psycopg_pool's statistics (pool_size, pool_available, requests_waiting, ...) at scrape time."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    def collect(self):
        for name, value in self._pool.get_stats().items():
            yield GaugeMetricFamily(f"postgres_pool_{name}", f"psycopg_pool statistic {name}", value=value)


def watch_pool(pool: AsyncConnectionPool) -> None:
    REGISTRY.register(PoolCollector(pool))
