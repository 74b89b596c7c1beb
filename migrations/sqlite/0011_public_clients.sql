-- Public clients (RFC 8252): programs on the player's computer that cannot
-- keep a secret. They authenticate with their client_id alone and must use
-- PKCE; their secret_hash is of a secret nobody was given, so no secret
-- authenticates them. Twin: migrations/postgres/0011_public_clients.sql.
ALTER TABLE clients ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
