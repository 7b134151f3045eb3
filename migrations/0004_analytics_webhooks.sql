-- blogd schema, version 4: page views and the revalidation webhook outbox.

-- One row per accepted page view. No IP address or user agent is ever stored.
CREATE TABLE pageviews (
    id       INTEGER PRIMARY KEY,
    time     INTEGER NOT NULL,
    path     TEXT NOT NULL,
    slug     TEXT,
    referrer TEXT
) STRICT;
CREATE INDEX pageviews_time ON pageviews(time);

-- Webhook deliveries, written in the same transaction as the change they announce, so none
-- is lost across restarts and none is sent for a change that did not commit.
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    event           TEXT NOT NULL,
    slug            TEXT NOT NULL,
    path            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    delivered_at    INTEGER
) STRICT;
CREATE INDEX webhook_outbox_due ON webhook_outbox(status, next_attempt_at);
