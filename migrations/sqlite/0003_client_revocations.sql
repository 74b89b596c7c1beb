-- Clients are cached too (a token exchange authenticates its client without
-- a query): a client altered (a new secret, other permissions) or deleted
-- moves the same counter as a revoked key (0002). Twin:
-- migrations/postgres/0003_client_revocations.sql.

CREATE TRIGGER client_altered AFTER UPDATE ON clients
BEGIN
    UPDATE key_revocations SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER client_deleted AFTER DELETE ON clients
BEGIN
    UPDATE key_revocations SET epoch = epoch + 1 WHERE id = 1;
END;
