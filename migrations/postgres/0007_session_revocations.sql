-- Sessions are cached too (a page or form checks its cookie without a
-- query): a session deleted (logout, expiry sweep, its user deleted) or
-- altered notifies every instance, as a revoked key does (0002); a ban,
-- demotion or rename of its user already does. Twin:
-- migrations/sqlite/0007_session_revocations.sql.

CREATE TRIGGER session_deleted AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION tachi_auth_key_revoked();

CREATE TRIGGER session_altered AFTER UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION tachi_auth_key_revoked();
