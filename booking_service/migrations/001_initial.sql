-- Events and bookings. PostgreSQL is the source of truth for what is sold.

CREATE TABLE events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    total_tickets integer     NOT NULL CHECK (total_tickets > 0),
    -- Sum of quantities of confirmed bookings, changed in the same
    -- transaction as each booking insert or cancel.
    sold_tickets  integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- No oversell, whatever Redis says.
    CONSTRAINT events_sold_within_total CHECK (sold_tickets BETWEEN 0 AND total_tickets)
);

CREATE TABLE bookings (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       bigint      NOT NULL REFERENCES events (id),
    user_id        bigint      NOT NULL CHECK (user_id > 0),
    quantity       integer     NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    status         text        NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
    -- The inventory hold this booking was made from.
    reservation_id uuid        NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    cancelled_at   timestamptz,
    CONSTRAINT bookings_cancelled_at_set CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);

CREATE INDEX bookings_event_id_idx ON bookings (event_id);
CREATE INDEX bookings_user_id_idx ON bookings (user_id);
CREATE INDEX bookings_status_id_idx ON bookings (status, id);
