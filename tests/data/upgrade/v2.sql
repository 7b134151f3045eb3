-- Schema version 2 added two-factor codes, revoked tokens, the audit log and security events.
INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES (1, 'c0de00000000000000000000000000000000000000000000000000000000beef', NULL);
INSERT INTO revoked_tokens (jti, expires_at) VALUES ('jti-1', 1900000000);
INSERT INTO audit_log (id, time, actor, action, target, ip, request_id)
VALUES (1, 1700000100, 'admin', 'auth.login', 'session:s-1', '192.0.2.1', 'req-1'),
       (2, 1700000020, 'ada', 'post.create', 'post:notes-on-the-engine', '192.0.2.2', 'req-2');
INSERT INTO security_events (id, time, kind, ip, username, detail)
VALUES (1, 1700000040, 'login_failed', '203.0.113.9', 'admin', 'wrong credentials');
