-- The notification of 0002 is sent on every change to a credential an
-- instance may have cached: a key, a client (0003), a session (0007), a
-- user's standing. Its function and channel are named for that now:
-- `tachi_auth_credential_changed()` on `tachi_auth_credential_changes`.
-- The triggers of 0002, 0003 and 0007 call the function by identity, so
-- renaming it keeps them. During a rolling upgrade instances of the version
-- before this one still listen on `tachi_auth_key_revocations`: the function
-- notifies that channel too, so they go on flushing their caches. A later
-- migration may drop it once no such version runs.
-- Twin: migrations/sqlite/0014_credential_changes.sql.

ALTER FUNCTION tachi_auth_key_revoked() RENAME TO tachi_auth_credential_changed;

CREATE OR REPLACE FUNCTION tachi_auth_credential_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Delivered at commit, once per transaction and channel however many rows changed.
    PERFORM pg_notify('tachi_auth_credential_changes', '');
    PERFORM pg_notify('tachi_auth_key_revocations', '');
    RETURN NULL;
END;
$$;
