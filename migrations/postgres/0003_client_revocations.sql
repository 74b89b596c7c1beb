-- Clients are cached too (a token exchange authenticates its client without
-- a query): a client altered (a new secret, other permissions) or deleted
-- notifies every instance, as a revoked key does (0002). Twin:
-- migrations/sqlite/0003_client_revocations.sql.

CREATE TRIGGER client_altered AFTER UPDATE ON clients
    FOR EACH ROW EXECUTE FUNCTION tachi_auth_key_revoked();

CREATE TRIGGER client_deleted AFTER DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION tachi_auth_key_revoked();
