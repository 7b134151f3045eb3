-- What a blogd of schema version 1 held: accounts, sessions, content. Loaded into a database
-- migrated to exactly that version, then opened by today's blogd (tests/api/promises.rs).
INSERT INTO users (id, username, email, display_name, bio, password_hash, role, active, created_at, updated_at, last_login_at)
VALUES (1, 'admin', 'admin@localhost', 'Administrator', NULL, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo', 'admin', 1, 1700000000, 1700000000, 1700000100),
       (2, 'ada', 'ada@example.com', 'Ada L.', 'Writes about engines.', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo', 'author', 1, 1700000001, 1700000001, NULL),
       (3, 'gone', 'gone@example.com', 'Gone', NULL, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo', 'reader', 0, 1700000002, 1700000002, NULL);
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, user_agent, revoked_at)
VALUES ('s-1', 1, 1700000100, 1700000200, 1900000000, '192.0.2.1', 'Mozilla/5.0', NULL);
INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at, spent_at)
VALUES ('4f1e0000000000000000000000000000000000000000000000000000000000aa', 's-1', 1700000100, 1900000000, NULL);
INSERT INTO categories (id, slug, name, description, created_at, updated_at)
VALUES (1, 'engines', 'Engines', 'Analytical and otherwise', 1700000010, 1700000010);
INSERT INTO tags (id, slug, name, created_at) VALUES (1, 'history', 'history', 1700000011), (2, 'unused', 'unused', 1700000012);
INSERT INTO posts (id, slug, title, content, content_html, excerpt, status, published_at, author_id, created_at, updated_at)
VALUES (1, 'notes-on-the-engine', 'Notes on the engine', 'The *engine* weaves.', '<p>The <em>engine</em> weaves.</p>', 'Weaving.', 'published', 1700000020, 2, 1700000020, 1700000020),
       (2, 'a-draft', 'A draft', 'Not yet.', '<p>Not yet.</p>', NULL, 'draft', NULL, 2, 1700000021, 1700000021),
       (3, 'later', 'Later', 'Soon.', '<p>Soon.</p>', NULL, 'scheduled', 4000000000, 2, 1700000022, 1700000022);
INSERT INTO post_categories (post_id, category_id) VALUES (1, 1);
INSERT INTO post_tags (post_id, tag_id) VALUES (1, 1), (2, 1);
INSERT INTO comments (id, post_id, user_id, author_name, author_email, body, status, created_at, updated_at)
VALUES (1, 1, NULL, 'Charles', 'charles@example.com', 'Splendid.', 'approved', 1700000030, 1700000030),
       (2, 1, 1, 'Administrator', NULL, 'Thanks!', 'pending', 1700000031, 1700000031);
