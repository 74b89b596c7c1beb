-- Signed events to integrations (Standard Webhooks): each client's signing
-- secret, and the outbox of events waiting for, or done with, delivery.
-- An event is written in the same transaction as the change it reports, so
-- a committed revocation always has its event, and a restart loses none.
-- Twin: migrations/postgres/0013_webhook_outbox.sql.

-- The secret the server signs with (an HMAC key, so it is kept as issued,
-- not hashed). No foreign key: a deleted client's events are still
-- delivered and signed, and its secret goes once none is pending.
CREATE TABLE webhook_secrets (
    client_id   TEXT    PRIMARY KEY,
    secret      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- One row per event and client endpoint. `state` is 'pending', 'delivered'
-- or 'failed' (given up); finished rows are kept a while for the dashboard.
-- A worker claims a pending row by moving `next_attempt_at` past the time
-- its attempt may take, so another worker leaves it alone meanwhile.
CREATE TABLE webhook_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT    NOT NULL UNIQUE,
    client_id        TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    event            TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending',
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    finished_at      BIGINT,
    last_status      BIGINT,
    last_error       TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_client ON webhook_outbox(client_id, id);
CREATE INDEX webhook_outbox_finished ON webhook_outbox(finished_at) WHERE state <> 'pending';
