"""Parse and check JSON request bodies, Content-Type headers and query strings, free of I/O."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import orjson

from common.rules import INT64_MAX, InvalidInput
from rest_shim.errors import RequestRejected

# Request bodies are flat objects, so a few levels leave room for clear
# type errors ("user_id: must be an integer, got list") while deeper input
# is rejected as a whole.
MAX_JSON_DEPTH = 8
# Maximum length of a client-chosen name shown in an error message.
MAX_SHOWN_NAME = 64
# Maximum query parameters parsed. The history route takes 5.
MAX_QUERY_FIELDS = 16


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return value


# orjson keeps the last of duplicate keys silently, so a second parse by the
# standard library, which passes every object's key/value pairs to a hook,
# finds them. Numbers are passed to len() instead of being converted, since
# only the keys matter here. parse_object skips this parse when a count of
# quotes already shows that a flat object has no duplicates.
_DUPLICATE_FINDER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_int=len, parse_float=len)


def shown_name(name: str) -> str:
    """Shorten a client-chosen name for an error message."""
    return name if len(name) <= MAX_SHOWN_NAME else name[:MAX_SHOWN_NAME] + "..."


def check_content_type(value: str | None) -> None:
    """Accept application/json, with or without a charset parameter naming UTF-8, and raise a 415 otherwise.

    A missing Content-Type is rejected too, because JSON clients (k6, httpx,
    curl with -H) send it.
    """
    if value == "application/json":
        return
    if value is None:
        raise RequestRejected(415, "Content-Type", "must be application/json, got none")
    media_type, _, parameters = value.partition(";")
    if media_type.strip().lower() != "application/json":
        raise RequestRejected(415, "Content-Type", f"must be application/json, got {value[:MAX_SHOWN_NAME]!r}")
    for parameter in parameters.split(";"):
        name, _, argument = parameter.partition("=")
        if name.strip().lower() == "charset" and argument.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise RequestRejected(415, "Content-Type", f"charset must be utf-8, got {argument.strip()[:MAX_SHOWN_NAME]!r}")


def parse_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON object, and raise InvalidInput for anything else.

    Rejects invalid UTF-8, NaN and Infinity, trailing data, nesting deeper
    than MAX_JSON_DEPTH and duplicate keys at any level.
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _json_error(body, exc) from None
    if not isinstance(value, dict):
        raise InvalidInput("body", f"must be a JSON object, got {_json_type(value)}")
    depth = _check_depth(value)
    if depth > 1 or not _quotes_match_keys(body, value):
        try:
            _DUPLICATE_FINDER.decode(body.decode())
        except DuplicateKey as exc:
            raise InvalidInput(shown_name(exc.key), "must appear only once") from None
    return value


def _quotes_match_keys(body: bytes, value: dict[str, Any]) -> bool:
    """Tell cheaply that a flat object has no duplicate keys.

    Every double quote in valid JSON either delimits a string or is escaped
    inside one. So the text of a flat object has at least two quotes per
    member for its key, plus two per string value. A dropped duplicate adds
    quotes that the parsed object does not account for, so an exact match
    rules duplicates out. False means "could not tell".
    """
    quotes = 2 * len(value)
    for item in value.values():
        if type(item) is str:
            quotes += 2
    return body.count(b'"') == quotes


def _json_error(body: bytes, exc: orjson.JSONDecodeError) -> InvalidInput:
    try:
        body.decode()
    except UnicodeDecodeError as decode_error:
        return InvalidInput("body", f"must be UTF-8: invalid byte at offset {decode_error.start}")
    if str(exc).startswith("depth limit exceeded"):
        return InvalidInput("body", f"must be nested at most {MAX_JSON_DEPTH} levels deep")
    return InvalidInput("body", f"must be valid JSON: {exc}")


def _check_depth(value: dict[str, Any]) -> int:
    """Return the nesting depth (1 for a flat object), walking level by level without recursion."""
    for item in value.values():
        if isinstance(item, (dict, list)):
            break
    else:
        return 1
    level: list[Any] = [value]
    depth = 1
    while True:
        nested = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, (dict, list))
        ]
        if not nested:
            return depth
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise InvalidInput("body", f"must be nested at most {MAX_JSON_DEPTH} levels deep")
        level = nested


def _json_type(value: Any) -> str:
    """Name a parsed value by its JSON type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number with a fraction or exponent"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def integer_field(body: dict[str, Any], name: str) -> int:
    """Return a required integer field; booleans, floats, strings and null are rejected."""
    if name not in body or body[name] is None:
        raise InvalidInput(name, "is required")
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, f"must be an integer, got {_json_type(value)}")
    return value


def string_field(body: dict[str, Any], name: str) -> str:
    if name not in body or body[name] is None:
        raise InvalidInput(name, "is required")
    value = body[name]
    if not isinstance(value, str):
        raise InvalidInput(name, f"must be a string, got {_json_type(value)}")
    return value


def reject_unknown_fields(body: dict[str, Any], allowed: frozenset[str]) -> None:
    if len(body) <= len(allowed) and allowed.issuperset(body):
        return
    unknown = sorted(set(body) - allowed)
    raise InvalidInput(
        shown_name(unknown[0]), f"is not a known field; allowed fields are {', '.join(sorted(allowed))}"
    )


def query_params(query_string: bytes, allowed: frozenset[str]) -> dict[str, str]:
    """Parse a query string into single values, and raise InvalidInput for a
    malformed, repeated or unknown parameter."""
    if not query_string:
        return {}
    try:
        pairs = parse_qsl(
            query_string.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=MAX_QUERY_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("query", f"must be name=value pairs joined by & in percent-encoded UTF-8: {exc}") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in allowed:
            known = f"allowed: {', '.join(sorted(allowed))}" if allowed else "this route takes none"
            raise InvalidInput(shown_name(name), f"is not a known query parameter ({known})")
        if name in params:
            raise InvalidInput(name, "must appear only once in the query string")
        params[name] = value
    return params


def query_integer(params: dict[str, str], name: str, *, default: int, minimum: int, maximum: int) -> int:
    """Read an optional decimal query parameter within [minimum, maximum]."""
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise InvalidInput(name, f"must be a decimal integer from {minimum} to {maximum}, got {raw[:32]!r}")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise InvalidInput(name, f"must be from {minimum} to {maximum}, got {value}")
    return value


def path_id(raw: str, name: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 1 <= int(raw) <= INT64_MAX:
        raise InvalidInput(name, f"must be a positive 64-bit integer, got {raw[:32]!r}")
    return int(raw)
