-- The device authorization grant (RFC 8628). Twin:
-- migrations/sqlite/0012_device_grant.sql (which explains).
ALTER TABLE clients ADD COLUMN grants BIGINT NOT NULL DEFAULT 1;

CREATE TABLE device_codes (
    device_code_hash BYTEA   PRIMARY KEY,
    user_code_hash   BYTEA   NOT NULL UNIQUE,
    client_id        TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    permissions      BIGINT  NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending',
    user_id          BIGINT  REFERENCES users(id) ON DELETE CASCADE,
    key_id           TEXT,
    interval_secs    BIGINT  NOT NULL,
    last_polled_at   BIGINT,
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL
);
CREATE INDEX device_codes_expiry ON device_codes(expires_at);
