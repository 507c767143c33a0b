"""Requests the shim rejects itself, before any booking service call."""

from __future__ import annotations

from collections.abc import Mapping


class RequestRejected(Exception):
    """A request rejected with an HTTP status other than 400, with a message naming the field and the rule.

    Invalid field values raise common.rules.InvalidInput instead, which the
    shim turns into 400.
    """

    def __init__(self, status: int, field: str, rule: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{field}: {rule}")
        self.status = status
        self.field = field
        self.rule = rule
        self.headers = dict(headers or {})


# Sent with rejections that leave part of the body unread, so that the
# server closes the connection instead of reading the rest of it.
CLOSE_CONNECTION = {"connection": "close"}
