-- Public clients (RFC 8252). Twin: migrations/sqlite/0011_public_clients.sql (which explains).
ALTER TABLE clients ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
