"""A short-lived memory of sold-out answers, so a sold-out event costs almost nothing.

After the inventory reports that an event has `available` tickets left,
fewer than a request wanted, requests for more than `available` tickets of
that event are answered sold out from this memory for `ttl` seconds,
without a call. Stock can come back (a cancel, a compensating release or an
expired hold). The process that returns it forgets the event at once, but
other processes, and returns by the expiry sweep, are seen only when the
memory expires: an answer from here may be stale by at most `ttl`.
"""

from __future__ import annotations

import time


class SoldOutMemory:
    def __init__(self, ttl: float, clock=time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._available: dict[int, tuple[int, float]] = {}

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def note(self, event_id: int, available: int) -> None:
        """Remember that event_id had `available` tickets left, as of now."""
        if self._ttl > 0:
            self._available[event_id] = (available, self._clock() + self._ttl)

    def forget(self, event_id: int) -> None:
        """Drop what is remembered of event_id, because this process returned stock to it."""
        self._available.pop(event_id, None)

    def sold_out(self, event_id: int, quantity: int) -> int | None:
        """Return the remembered tickets left if `quantity` is more than that, else None."""
        entry = self._available.get(event_id)
        if entry is None:
            return None
        available, expires = entry
        if self._clock() >= expires:
            del self._available[event_id]
            return None
        return available if quantity > available else None
