-- Every change that can make a cached bearer key wrong (a key deleted or
-- altered, its owner banned, demoted or renamed) notifies every listening
-- instance when it commits, whoever makes it: an instance, the `tachi-auth
-- user` command, or a hand-written UPDATE. Instances flush their bearer
-- caches on the notification and bypass them while they are not listening
-- (src/storage/key_cache.rs). Twin: migrations/sqlite/0002_key_revocations.sql,
-- where a counter stands in for the notification.

CREATE FUNCTION tachi_auth_key_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Delivered at commit, once per transaction however many rows changed.
    PERFORM pg_notify('tachi_auth_key_revocations', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_key_deleted AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION tachi_auth_key_revoked();

CREATE TRIGGER api_key_altered AFTER UPDATE OF token_hash, user_id, permissions, client_id ON api_keys
    FOR EACH ROW EXECUTE FUNCTION tachi_auth_key_revoked();

CREATE TRIGGER key_owner_altered AFTER UPDATE OF username, is_admin, is_banned ON users
    FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username OR OLD.is_admin IS DISTINCT FROM NEW.is_admin
          OR OLD.is_banned IS DISTINCT FROM NEW.is_banned)
    EXECUTE FUNCTION tachi_auth_key_revoked();
