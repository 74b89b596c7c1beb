-- Three changes that keep one attacker from turning the service against its
-- users. Twin: migrations/postgres/0008_abuse_resistance.sql.
--
-- 1. Each authorization request a consent page shows is its own row with its
--    own id, which the page's form posts back: approving approves exactly
--    what the page showed, and a later request for the same client (opened
--    in another window) is a second row instead of replacing the first.
CREATE TABLE auth_requests_by_id (
    request_id      BLOB    PRIMARY KEY,
    session_hash    BLOB    NOT NULL REFERENCES sessions(id_hash) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    redirect_uri    TEXT    NOT NULL,
    permissions     BIGINT  NOT NULL,
    state           TEXT,
    code_challenge  TEXT,
    context         TEXT,
    standard        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT  NOT NULL
);
INSERT INTO auth_requests_by_id
    SELECT randomblob(32), session_hash, client_id, redirect_uri, permissions, state, code_challenge, context,
           standard, created_at
    FROM auth_requests;
DROP TABLE auth_requests;
ALTER TABLE auth_requests_by_id RENAME TO auth_requests;
CREATE INDEX auth_requests_session ON auth_requests(session_hash, created_at);

-- 2. Usernames that look alike ("bob" and "b0b", "paypal" and "paypaI") are
--    one name: this is the form compared (domain::user::username_skeleton
--    computes the same for new users).
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
UPDATE users SET username_skeleton =
    replace(replace(lower(replace(replace(replace(username, '0', 'o'), '1', 'l'), 'I', 'l')), 'rn', 'm'), 'vv', 'w');
CREATE INDEX users_skeleton ON users(username_skeleton);

-- 3. A user's sessions are capped (a login ends the oldest beyond the cap).
CREATE INDEX sessions_user ON sessions(user_id, created_at);
