"""Typed asyncio clients for the inventory and booking gRPC services."""

from clients.booking import BookingClient
from clients.inventory import InventoryClient

__all__ = ["BookingClient", "InventoryClient"]
