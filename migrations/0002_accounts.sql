-- blogd schema, version 2: account security (lockout, TOTP, revocations), audit log and
-- security events.

ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN first_failed_at INTEGER;
ALTER TABLE users ADD COLUMN locked_until INTEGER;
-- TOTP secret, encrypted with the key in the secrets file (never stored in clear).
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0 CHECK (totp_enabled IN (0, 1));
-- The last TOTP time step accepted: a code is never accepted twice.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- Whether the session was opened with a second factor; refreshed tokens keep it.
ALTER TABLE sessions ADD COLUMN mfa INTEGER NOT NULL DEFAULT 0 CHECK (mfa IN (0, 1));

-- One-time recovery codes for TOTP sign-in, stored as SHA-256 hashes.
CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;

-- Single access tokens revoked before their expiry (logout), by `jti`.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;

-- Who did what. The application only ever inserts; retention is the one thing that deletes.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    time       INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    ip         TEXT,
    request_id TEXT
) STRICT;
CREATE INDEX audit_log_action ON audit_log(action, id);
CREATE INDEX audit_log_actor ON audit_log(actor, id);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Security events (failed logins, bad tokens, refusals…), bounded by retention.
CREATE TABLE security_events (
    id       INTEGER PRIMARY KEY,
    time     INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    ip       TEXT,
    username TEXT,
    detail   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX security_events_time ON security_events(time);
CREATE INDEX security_events_kind ON security_events(kind, id);
