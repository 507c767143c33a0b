"""Both gRPC servers serve reflection, as grpcurl and ghz expect."""

from __future__ import annotations

import grpc
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from devstack.stack import Stack


@pytest.mark.parametrize(
    ("target_name", "service", "method"),
    [
        ("inventory_target", "inventory.v1.InventoryService", "Reserve"),
        ("booking_target", "booking.v1.BookingService", "Book"),
    ],
)
def test_reflection_lists_service(stack: Stack, target_name: str, service: str, method: str) -> None:
    with grpc.insecure_channel(getattr(stack, target_name)) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        descriptor = database.FindFileContainingSymbol(service)

    assert service in services
    assert "grpc.health.v1.Health" in services
    assert any(s.name == service.rsplit(".", 1)[1] for s in descriptor.service)
    methods = {m.name for s in descriptor.service for m in s.method}
    assert method in methods
