"""Redis key names for an event's stock.

Every key of one event carries the same hash tag ``{<event_id>}``, so in a
Redis Cluster all of them live in one slot and a Lua script may touch them
together.
"""

from __future__ import annotations

PREFIX = "inv"


def stock_key(event_id: int) -> str:
    """Hash with fields total, available and held."""
    return f"{PREFIX}:{{{event_id}}}:stock"


def holds_key(event_id: int) -> str:
    """Hash from reservation id to the hold's state record."""
    return f"{PREFIX}:{{{event_id}}}:holds"


def expiry_key(event_id: int) -> str:
    """Sorted set of open holds, scored by deadline in Unix milliseconds."""
    return f"{PREFIX}:{{{event_id}}}:expiry"


def rebuild_marker_key(event_id: int) -> str:
    """String: Unix ms (Redis clock) after which a lost counter may be rebuilt."""
    return f"{PREFIX}:{{{event_id}}}:rebuild-at"


def event_keys(event_id: int) -> list[str]:
    return [stock_key(event_id), holds_key(event_id), expiry_key(event_id)]
