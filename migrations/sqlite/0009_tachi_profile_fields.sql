-- The fields of Tachi's user document that tachi-auth had no column for, so
-- that accounts imported from Tachi (`tachi-auth import`) keep them and the
-- user document can show them as Tachi did. Twin:
-- migrations/postgres/0009_tachi_profile_fields.sql.
--
-- social_media: a JSON object ({"discord": "…", "twitter": null, …});
-- badges: a JSON array of badge names; is_moderator: Tachi's auth level MOD,
-- between a user and an admin (tachi-auth itself grants it nothing).

ALTER TABLE users ADD COLUMN last_seen BIGINT;
ALTER TABLE users ADD COLUMN social_media TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN badges TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN custom_pfp_location TEXT;
ALTER TABLE users ADD COLUMN custom_banner_location TEXT;
ALTER TABLE users ADD COLUMN is_supporter BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN is_moderator BOOLEAN NOT NULL DEFAULT FALSE;
