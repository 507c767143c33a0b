"""Inventory service: per-event stock counters and holds in Redis, served over gRPC."""
