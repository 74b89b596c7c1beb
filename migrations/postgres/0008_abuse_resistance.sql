-- Three changes that keep one attacker from turning the service against its
-- users. Twin: migrations/sqlite/0008_abuse_resistance.sql (which explains them).

-- 1. Each pending authorization request has its own id.
ALTER TABLE auth_requests DROP CONSTRAINT auth_requests_pkey;
ALTER TABLE auth_requests ADD COLUMN request_id BYTEA;
UPDATE auth_requests SET request_id =
    decode(md5(random()::text || clock_timestamp()::text) || md5(random()::text || clock_timestamp()::text), 'hex');
ALTER TABLE auth_requests ALTER COLUMN request_id SET NOT NULL;
ALTER TABLE auth_requests ADD PRIMARY KEY (request_id);
CREATE INDEX auth_requests_session ON auth_requests(session_hash, created_at);

-- 2. Usernames that look alike are one name.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
UPDATE users SET username_skeleton =
    replace(replace(lower(replace(replace(replace(username, '0', 'o'), '1', 'l'), 'I', 'l')), 'rn', 'm'), 'vv', 'w');
CREATE INDEX users_skeleton ON users(username_skeleton);

-- 3. A user's sessions are capped.
CREATE INDEX sessions_user ON sessions(user_id, created_at);
