-- Accounts a player can keep: password reset and e-mail verification codes,
-- the mail queue, and the security log. Twin: migrations/postgres/0010_accounts.sql.

-- Whether the user has proved they read mail at their address.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
-- forgot-password finds accounts by address, in any case.
CREATE INDEX users_email ON users(lower(email));

-- Reset and verification codes: only their SHA-256 is kept. `purpose` is
-- 'reset' or 'verify'; a user has at most one live code of each.
CREATE TABLE account_codes (
    code_hash   BLOB    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX account_codes_user ON account_codes(user_id, purpose);
CREATE INDEX account_codes_expiry ON account_codes(expires_at);

-- Mail waiting to be sent. A row names the user and what to send, never a
-- code: the sender makes the code when it writes the mail, so no usable code
-- is ever stored.
CREATE TABLE mail_queue (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose          TEXT    NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX mail_queue_due ON mail_queue(next_attempt_at);

-- What happened to an account, for its owner and the operator.
CREATE TABLE security_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT  NOT NULL,
    user_id     BIGINT  REFERENCES users(id) ON DELETE CASCADE,
    event       TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    client_id   TEXT,
    detail      TEXT,
    ip          TEXT,
    user_agent  TEXT
);
CREATE INDEX security_log_user ON security_log(user_id, id);
CREATE INDEX security_log_at ON security_log(at);
