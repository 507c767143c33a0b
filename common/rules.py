"""Input rules shared by every entry point, free of I/O.

Each check raises ``InvalidInput`` naming the field and the rule, so the gRPC
servers can answer INVALID_ARGUMENT and the REST shim 400 with one message.
"""

from __future__ import annotations

import uuid

INT64_MAX = 2**63 - 1
MIN_QUANTITY = 1
MAX_QUANTITY = 10
MAX_NAME_LENGTH = 255
MAX_TOTAL_TICKETS = 10_000_000
MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 100
MAX_HOLD_MS = 24 * 3600 * 1000
MAX_IDEMPOTENCY_KEY_LENGTH = 128


class InvalidInput(ValueError):
    """A request field breaks a rule; the message names the field and the rule."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def positive_id(field: str, value: int) -> int:
    if not 1 <= value <= INT64_MAX:
        raise InvalidInput(field, f"must be a positive 64-bit integer, got {value}")
    return value


def quantity(value: int) -> int:
    if not MIN_QUANTITY <= value <= MAX_QUANTITY:
        raise InvalidInput("quantity", f"must be from {MIN_QUANTITY} to {MAX_QUANTITY}, got {value}")
    return value


def total_tickets(value: int, field: str = "total_tickets") -> int:
    if not 1 <= value <= MAX_TOTAL_TICKETS:
        raise InvalidInput(field, f"must be from 1 to {MAX_TOTAL_TICKETS}, got {value}")
    return value


def event_name(value: str) -> str:
    if not 1 <= len(value) <= MAX_NAME_LENGTH:
        raise InvalidInput("name", f"must be 1 to {MAX_NAME_LENGTH} characters, got {len(value)}")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise InvalidInput("name", "must not contain control characters")
    return value


def reservation_id(value: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise InvalidInput("reservation_id", f"must be a UUID, got {value[:64]!r}") from None
    return str(parsed)


def idempotency_key(value: str) -> str:
    """Check an optional idempotency key: empty means none."""
    if len(value) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInput("idempotency_key", f"must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters, got {len(value)}")
    if any(not 0x21 <= ord(ch) <= 0x7E for ch in value):
        raise InvalidInput("idempotency_key", "must contain printable ASCII characters only, without spaces")
    return value


def hold_ms(value: int) -> int:
    if not 0 <= value <= MAX_HOLD_MS:
        raise InvalidInput("hold_ms", f"must be from 0 to {MAX_HOLD_MS}, got {value}")
    return value


def page(value: int) -> int:
    """Check a page number; 0 (unset in protobuf) means the first page."""
    if not 0 <= value <= MAX_PAGE:
        raise InvalidInput("page", f"must be from 1 to {MAX_PAGE}, got {value}")
    return value or 1


def page_size(value: int, default: int) -> int:
    """Check a page size; 0 (unset in protobuf) means the default."""
    if not 0 <= value <= MAX_PAGE_SIZE:
        raise InvalidInput("size", f"must be from 1 to {MAX_PAGE_SIZE}, got {value}")
    return value or default
