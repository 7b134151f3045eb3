-- Schema version 4 added page views and the webhook outbox.
INSERT INTO pageviews (id, time, path, slug, referrer) VALUES (1, 1700000060, '/blog/notes-on-the-engine', 'notes-on-the-engine', 'https://news.example');
INSERT INTO webhook_outbox (id, event, slug, path, created_at, status, attempts, next_attempt_at, last_error, delivered_at)
VALUES (1, 'post.published', 'notes-on-the-engine', '/blog/notes-on-the-engine', 1700000020, 'delivered', 1, 1700000020, NULL, 1700000021);
