-- The counter of 0002 moves on every change to a credential a server may
-- have cached: a key, a client (0003), a session (0007), a user's standing.
-- It is named for that now: `credential_changes`. ALTER TABLE … RENAME
-- rewrites the triggers of 0002, 0003 and 0007 to move the renamed table.
-- A process of the version before this one may still be running on the same
-- file during an upgrade (a second server, the `tachi-auth user` command):
-- it polls `key_revocations`, which stays as a view of the new table, so it
-- goes on seeing every change. A later migration may drop the view once no
-- such version runs. Twin: migrations/postgres/0014_credential_changes.sql.

ALTER TABLE key_revocations RENAME TO credential_changes;

CREATE VIEW key_revocations AS SELECT id, epoch FROM credential_changes;
