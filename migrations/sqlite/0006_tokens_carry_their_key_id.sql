-- A key's token now begins with the key's id, and is found by it (src/domain/
-- api_key.rs): new keys no longer need an entry in an index of random token
-- hashes, which cost every issued key a write to a random page. Keys issued
-- before (`legacy_token`) are still found by their hash, through an index of
-- those keys only. SQLite cannot drop the inline UNIQUE of 0001, so the
-- table is rebuilt: same rows, same indexes and triggers (0002, 0005).
-- Twin: migrations/postgres/0006_tokens_carry_their_key_id.sql.

CREATE TABLE api_keys_rebuilt (
    id             TEXT    PRIMARY KEY,
    token_hash     BLOB    NOT NULL,
    user_id        BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    identifier     TEXT    NOT NULL,
    permissions    BIGINT  NOT NULL,
    client_id      TEXT    REFERENCES clients(client_id) ON DELETE CASCADE,
    created_at     BIGINT  NOT NULL,
    last_used_at   BIGINT,
    -- Issued before tokens carried their key's id: found by token_hash alone.
    legacy_token   BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO api_keys_rebuilt (id, token_hash, user_id, identifier, permissions, client_id, created_at, last_used_at, legacy_token)
    SELECT id, token_hash, user_id, identifier, permissions, client_id, created_at, last_used_at, TRUE FROM api_keys;
-- Takes the old table's indexes and triggers with it (and fires no trigger).
DROP TABLE api_keys;
ALTER TABLE api_keys_rebuilt RENAME TO api_keys;

CREATE UNIQUE INDEX api_keys_legacy_token ON api_keys(token_hash) WHERE legacy_token;
CREATE INDEX api_keys_client ON api_keys(client_id);
CREATE INDEX api_keys_user_listing ON api_keys(user_id, created_at, id);

CREATE TRIGGER api_key_deleted AFTER DELETE ON api_keys
BEGIN
    UPDATE key_revocations SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER api_key_altered AFTER UPDATE OF token_hash, user_id, permissions, client_id ON api_keys
BEGIN
    UPDATE key_revocations SET epoch = epoch + 1 WHERE id = 1;
END;
