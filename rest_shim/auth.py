"""Bearer-token check for the admin routes."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from rest_shim.errors import RequestRejected

REALM = "booking_monitor admin"


class AdminToken:
    """Require `Authorization: Bearer <token>` when a token is configured; "" leaves the routes open."""

    def __init__(self, token: str) -> None:
        self._token = token.encode("ascii")

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    def __repr__(self) -> str:
        return f"AdminToken(enabled={self.enabled})"

    def check(self, request: Request) -> None:
        """Raise RequestRejected (401 with WWW-Authenticate) unless the request carries the token."""
        if not self._token:
            return
        header = request.headers.get("authorization")
        if header is None:
            raise RequestRejected(
                401, "Authorization", "missing: this route requires a bearer token",
                {"www-authenticate": f'Bearer realm="{REALM}"'},
            )
        scheme, _, credentials = header.partition(" ")
        # Latin-1 maps every header byte to one character, so any header
        # value encodes, and compare_digest takes time independent of where
        # the first difference is.
        presented = credentials.strip().encode("latin-1")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented, self._token):
            raise RequestRejected(
                401, "Authorization", "invalid bearer token",
                {"www-authenticate": f'Bearer realm="{REALM}", error="invalid_token"'},
            )
