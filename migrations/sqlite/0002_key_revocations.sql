-- Every change that can make a cached bearer key wrong (a key deleted or
-- altered, its owner banned, demoted or renamed) bumps one counter, whoever
-- makes it: this server, the `tachi-auth user` command, or another process.
-- A running server compares the counter with the one it cached under
-- (src/storage/key_cache.rs). Twin: migrations/postgres/0002_key_revocations.sql.

CREATE TABLE key_revocations (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    epoch  BIGINT  NOT NULL
);
INSERT INTO key_revocations (id, epoch) VALUES (1, 0);

CREATE TRIGGER api_key_deleted AFTER DELETE ON api_keys
BEGIN
    UPDATE key_revocations SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER api_key_altered AFTER UPDATE OF token_hash, user_id, permissions, client_id ON api_keys
BEGIN
    UPDATE key_revocations SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER key_owner_altered AFTER UPDATE OF username, is_admin, is_banned ON users
WHEN OLD.username IS NOT NEW.username OR OLD.is_admin IS NOT NEW.is_admin OR OLD.is_banned IS NOT NEW.is_banned
BEGIN
    UPDATE key_revocations SET epoch = epoch + 1 WHERE id = 1;
END;
