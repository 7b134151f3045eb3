-- The primary's heartbeat under Litestream: one row, rewritten every replication.heartbeat.
-- Replicas read it back from their follower file to measure how far behind they are. Not
-- content: no trigger moves content_version, so a beat never empties the response cache.
CREATE TABLE replication_heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at_ms INTEGER NOT NULL
);
