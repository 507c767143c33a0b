"""Compare each event's PostgreSQL bookings with its Redis stock counter.

For every event: total tickets, tickets sold (sum of confirmed bookings in
PostgreSQL), the events.sold_tickets counter, and Redis' available and held
counts. Once holds have settled, total == sold + available + held must hold;
the difference is the drift. Sold above total is an oversell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg
import redis

from inventory_service import keys


@dataclass(frozen=True)
class EventAudit:
    event_id: int
    name: str
    total: int
    sold: int
    sold_counter: int
    available: int | None
    held: int | None

    @property
    def stock_missing(self) -> bool:
        return self.available is None

    @property
    def oversold(self) -> int:
        return max(0, self.sold - self.total)

    @property
    def drift(self) -> int:
        """Tickets Redis has lost (positive) or invented (negative); 0 when the counter is missing."""
        if self.available is None:
            return 0
        return self.total - self.sold - self.available - (self.held or 0)

    @property
    def ok(self) -> bool:
        return self.oversold == 0 and self.drift == 0 and self.sold == self.sold_counter

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "drift": self.drift, "oversold": self.oversold, "stock_missing": self.stock_missing, "ok": self.ok}


def audit_events(database_url: str, redis_url: str, event_ids: list[int] | None = None) -> list[EventAudit]:
    """Read every event (or the given ones) from PostgreSQL and Redis."""
    query = """
        SELECT e.id, e.name, e.total_tickets, e.sold_tickets,
               coalesce(sum(b.quantity) FILTER (WHERE b.status = 'confirmed'), 0) AS sold
        FROM events e LEFT JOIN bookings b ON b.event_id = e.id
        {where}
        GROUP BY e.id ORDER BY e.id
    """
    where = "WHERE e.id = ANY(%s)" if event_ids else ""
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        rows = conn.execute(query.format(where=where), (event_ids,) if event_ids else ()).fetchall()

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    try:
        pipe = client.pipeline(transaction=False)
        for row in rows:
            pipe.hmget(keys.stock_key(row[0]), "available", "held")
        stocks = pipe.execute() if rows else []
    finally:
        client.close()

    audits = []
    for (event_id, name, total, sold_counter, sold), (available, held) in zip(rows, stocks):
        audits.append(EventAudit(
            event_id=event_id,
            name=name,
            total=total,
            sold=int(sold),
            sold_counter=sold_counter,
            available=int(available) if available is not None else None,
            held=int(held) if held is not None else None,
        ))
    return audits


def format_table(audits: list[EventAudit]) -> str:
    header = f"{'event':>8} {'total':>9} {'sold':>9} {'available':>9} {'held':>6} {'drift':>6} {'oversold':>8}  status"
    lines = [header]
    for a in audits:
        available = "missing" if a.available is None else str(a.available)
        held = "-" if a.held is None else str(a.held)
        if not a.ok:
            status = "FAIL"
        elif a.stock_missing:
            # Not a failure: the booking service rebuilds it after one hold lifetime.
            status = "no counter"
        else:
            status = "ok"
        if a.sold != a.sold_counter:
            status += f" (sold_tickets counter {a.sold_counter})"
        lines.append(f"{a.event_id:>8} {a.total:>9} {a.sold:>9} {available:>9} {held:>6} {a.drift:>6} {a.oversold:>8}  {status}")
    return "\n".join(lines)
