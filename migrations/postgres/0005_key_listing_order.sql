-- A user's keys are listed a page at a time in (created_at, id) order: this
-- index gives each page without sorting every key of the user, and serves
-- every lookup by user_id that the index it replaces served.
-- Twin: migrations/sqlite/0005_key_listing_order.sql.

CREATE INDEX api_keys_user_listing ON api_keys(user_id, created_at, id);
DROP INDEX api_keys_user;
