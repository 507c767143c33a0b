"""A grpc.aio server whose inventory.v1 GetStock returns a constant.

It runs the same generated code and server options as the real services, so
its calls/s is the ceiling of a Python gRPC unary method on this machine.
Usage: python -m bench.harness.noop_server PORT
"""

from __future__ import annotations

import asyncio
import sys

import grpc

from booking_monitor_pb.inventory.v1 import inventory_pb2 as pb
from booking_monitor_pb.inventory.v1 import inventory_pb2_grpc as pb_grpc
from common import lifecycle

CONSTANT = pb.GetStockResponse(stock=pb.Stock(event_id=1, total=100, available=100, held=0))


class NoopInventory(pb_grpc.InventoryServiceServicer):
    async def GetStock(self, request: pb.GetStockRequest, context: grpc.aio.ServicerContext) -> pb.GetStockResponse:
        return CONSTANT


async def serve(port: int) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
    pb_grpc.add_InventoryServiceServicer_to_server(NoopInventory(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")

    async def stop() -> None:
        await server.stop(1)

    await lifecycle.run_until_signal("no-op gRPC server", server.start, stop)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
