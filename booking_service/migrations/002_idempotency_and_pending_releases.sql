-- Idempotency keys of Book and CreateEvent requests, and the outbox of
-- tickets that cancelled bookings still have to return to Redis.

CREATE TABLE idempotency_keys (
    operation      text        NOT NULL CHECK (operation IN ('book', 'create_event')),
    key            text        NOT NULL,
    -- SHA-256 (hex) of the request fields, to reject a reused key whose
    -- request differs.
    fingerprint    text        NOT NULL,
    -- Book: the reservation id every attempt with this key uses.
    reservation_id uuid,
    outcome        text        CHECK (outcome IN ('confirmed', 'sold_out', 'created')),
    booking_id     bigint      REFERENCES bookings (id),
    event_id       bigint      REFERENCES events (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (operation, key)
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

CREATE TABLE pending_releases (
    reservation_id uuid        PRIMARY KEY,
    event_id       bigint      NOT NULL REFERENCES events (id),
    quantity       integer     NOT NULL CHECK (quantity > 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);
