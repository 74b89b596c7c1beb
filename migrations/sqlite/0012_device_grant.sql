-- The device authorization grant (RFC 8628) for programs without a browser
-- (cabinets, score hooks). Clients say which grants they allow (`grants`, a
-- bit set: 1 the authorization code grant, 2 the device grant); existing
-- clients keep the code grant only. A device authorization is stored by the
-- hashes of its device code (the program's secret) and of its user code
-- (what the player types on /device); `status` is pending, approved, denied
-- or issued, and moves from approved to issued once, with the key it gave.
-- Twin: migrations/postgres/0012_device_grant.sql.
ALTER TABLE clients ADD COLUMN grants BIGINT NOT NULL DEFAULT 1;

CREATE TABLE device_codes (
    device_code_hash BLOB    PRIMARY KEY,
    user_code_hash   BLOB    NOT NULL UNIQUE,
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
