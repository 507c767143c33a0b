"""Exceptions of the booking service; the servicer maps each one to a gRPC status."""

from __future__ import annotations


class BookingServiceError(Exception):
    """Base class of the errors below."""


class NotFound(BookingServiceError):
    def __init__(self, kind: str, id_: int) -> None:
        super().__init__(f"{kind} {id_} not found")
        self.kind = kind
        self.id = id_


class DependencyUnavailable(BookingServiceError):
    """PostgreSQL or the inventory service failed or did not answer in time."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"{dependency} unavailable: {detail}")
        self.dependency = dependency
