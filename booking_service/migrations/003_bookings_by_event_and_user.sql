-- Speeds up the per-user ticket count that MAX_TICKETS_PER_USER needs.
CREATE INDEX bookings_event_user_confirmed_idx ON bookings (event_id, user_id) WHERE status = 'confirmed';
