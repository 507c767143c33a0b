"""REST shim: JSON over HTTP in front of the booking service's gRPC API."""
