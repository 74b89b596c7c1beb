-- Sessions are cached too (a page or form checks its cookie without a
-- query): a session deleted (logout, expiry sweep, its user deleted) or
-- altered moves the same counter as a revoked key (0002); a ban, demotion or
-- rename of its user already does. Twin:
-- migrations/postgres/0007_session_revocations.sql.

CREATE TRIGGER session_deleted AFTER DELETE ON sessions
BEGIN
    UPDATE key_revocations SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER session_altered AFTER UPDATE ON sessions
BEGIN
    UPDATE key_revocations SET epoch = epoch + 1 WHERE id = 1;
END;
