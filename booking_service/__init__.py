"""Booking service: events and bookings in PostgreSQL, the Book saga, served over gRPC."""
