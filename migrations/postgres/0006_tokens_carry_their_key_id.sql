-- A key's token now begins with the key's id, and is found by it (src/domain/
-- api_key.rs): new keys no longer need an entry in an index of random token
-- hashes, which cost every issued key a write to a random page. Keys issued
-- before (`legacy_token`) are still found by their hash, through an index of
-- those keys only. Twin: migrations/sqlite/0006_tokens_carry_their_key_id.sql.

-- Every existing key is a legacy one; keys inserted from now on are not.
ALTER TABLE api_keys ADD COLUMN legacy_token BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE api_keys ALTER COLUMN legacy_token SET DEFAULT FALSE;

ALTER TABLE api_keys DROP CONSTRAINT api_keys_token_hash_key;
CREATE UNIQUE INDEX api_keys_legacy_token ON api_keys(token_hash) WHERE legacy_token;
