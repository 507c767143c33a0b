"""Parse and check JSON request bodies and query strings, free of I/O."""

from __future__ import annotations

from typing import Any

import orjson

from common.rules import INT64_MAX, InvalidInput

MAX_BODY_BYTES = 16 * 1024


def parse_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON object; raise InvalidInput for anything else."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput("body", f"must be at most {MAX_BODY_BYTES} bytes, got {len(body)}")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("body", f"must be valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput("body", f"must be a JSON object, got {type(value).__name__}")
    return value


def integer_field(body: dict[str, Any], name: str) -> int:
    """Return a required integer field; booleans, floats and strings are rejected."""
    if name not in body or body[name] is None:
        raise InvalidInput(name, "is required")
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, f"must be an integer, got {type(value).__name__}")
    return value


def string_field(body: dict[str, Any], name: str) -> str:
    if name not in body or body[name] is None:
        raise InvalidInput(name, "is required")
    value = body[name]
    if not isinstance(value, str):
        raise InvalidInput(name, f"must be a string, got {type(value).__name__}")
    return value


def reject_unknown_fields(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(unknown[0], f"is not a known field; allowed fields are {', '.join(sorted(allowed))}")


def query_integer(params, name: str, *, default: int) -> int:
    """Read an optional decimal query parameter."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > INT64_MAX:
        raise InvalidInput(name, f"must be a non-negative decimal integer, got {raw[:32]!r}")
    return int(raw)


def path_id(raw: str, name: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 1 <= int(raw) <= INT64_MAX:
        raise InvalidInput(name, f"must be a positive 64-bit integer, got {raw[:32]!r}")
    return int(raw)
