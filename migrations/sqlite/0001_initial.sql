-- tachi-auth initial schema (SQLite). Its PostgreSQL twin is
-- migrations/postgres/0001_initial.sql: keep the two in step.
-- Times are unix milliseconds; secrets are SHA-256 hashes (32 bytes).

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT    NOT NULL,
    username_key   TEXT    NOT NULL UNIQUE,
    email          TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    about          TEXT    NOT NULL DEFAULT '',
    status         TEXT,
    is_admin       BOOLEAN NOT NULL DEFAULT FALSE,
    is_banned      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT  NOT NULL
);

CREATE TABLE sessions (
    id_hash     BLOB    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE clients (
    client_id         TEXT    PRIMARY KEY,
    secret_hash       BLOB    NOT NULL,
    name              TEXT    NOT NULL,
    -- NULL for a built-in client (prefix CX), defined in the operator's configuration.
    author_id         BIGINT  REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri      TEXT,
    webhook_uri       TEXT,
    permissions       BIGINT  NOT NULL,
    api_key_format    TEXT,
    api_key_filename  TEXT,
    require_pkce      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        BIGINT  NOT NULL
);
CREATE INDEX clients_author ON clients(author_id);

-- What the consent screen showed a session, waiting for the user's answer.
CREATE TABLE auth_requests (
    session_hash           BLOB    NOT NULL REFERENCES sessions(id_hash) ON DELETE CASCADE,
    client_id              TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    redirect_uri           TEXT    NOT NULL,
    permissions            BIGINT  NOT NULL,
    state                  TEXT,
    code_challenge         TEXT,
    context                TEXT,
    -- Came through /oauth/authorize (RFC 6749), so errors and a decline go back to the client.
    standard               BOOLEAN NOT NULL DEFAULT FALSE,
    created_at             BIGINT  NOT NULL,
    PRIMARY KEY (session_hash, client_id)
);

CREATE TABLE auth_codes (
    code_hash       BLOB    PRIMARY KEY,
    user_id         BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    redirect_uri    TEXT    NOT NULL,
    permissions     BIGINT  NOT NULL,
    code_challenge  TEXT,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    used_at         BIGINT
);
CREATE INDEX auth_codes_expiry ON auth_codes(expires_at);

CREATE TABLE api_keys (
    id             TEXT    PRIMARY KEY,
    token_hash     BLOB    NOT NULL UNIQUE,
    user_id        BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    identifier     TEXT    NOT NULL,
    permissions    BIGINT  NOT NULL,
    client_id      TEXT    REFERENCES clients(client_id) ON DELETE CASCADE,
    from_code_hash BLOB,
    created_at     BIGINT  NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX api_keys_user ON api_keys(user_id);
CREATE INDEX api_keys_client ON api_keys(client_id);
CREATE INDEX api_keys_code ON api_keys(from_code_hash);
