"""Limits shared by the gRPC servers: message size and calls in flight."""

from __future__ import annotations

import grpc

from common import settings
from common.settings import Setting

# The largest requests the services send each other are batches of 256
# items (clients/batching.py). 256 ReserveRequest items with the largest
# ids and 128-character request ids serialize to 50,944 bytes, so 64 KiB
# leaves room to spare.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024

MAX_MESSAGE_SETTING = Setting(
    "GRPC_MAX_MESSAGE_BYTES",
    str(DEFAULT_MAX_MESSAGE_BYTES),
    "largest request message the gRPC server accepts; larger ones get RESOURCE_EXHAUSTED",
    settings.integer(1024, 64 * 1024 * 1024),
    "bytes",
)


def in_flight_setting(env: str, default: int) -> Setting:
    return Setting(
        env,
        str(default),
        "calls handled at once by this process; more get RESOURCE_EXHAUSTED",
        settings.integer(1, 1_000_000),
    )


def grpc_server(*, max_message_bytes: int, max_in_flight: int, interceptors=()) -> grpc.aio.Server:
    """Create an asyncio gRPC server that rejects oversized messages and calls past max_in_flight.

    gRPC rejects both with RESOURCE_EXHAUSTED before any servicer code runs.
    """
    return grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 1),
            ("grpc.max_receive_message_length", max_message_bytes),
        ],
        maximum_concurrent_rpcs=max_in_flight,
        interceptors=list(interceptors),
    )
