-- A used code records the id of the key it was redeemed for, instead of each
-- key recording the hash of its code: a replayed code still finds the key to
-- revoke (by primary key), and issuing a key no longer writes an entry into
-- an index of random code hashes. Keys issued before keep their link.
-- Twin: migrations/postgres/0004_codes_record_their_key.sql.

ALTER TABLE auth_codes ADD COLUMN key_id TEXT;
UPDATE auth_codes SET key_id = (SELECT k.id FROM api_keys k WHERE k.from_code_hash = auth_codes.code_hash)
    WHERE used_at IS NOT NULL;
DROP INDEX api_keys_code;
ALTER TABLE api_keys DROP COLUMN from_code_hash;
