-- Schema version 3 added media.
INSERT INTO media (id, sha256, extension, content_type, size, uploaded_by, created_at)
VALUES (1, 'ab00000000000000000000000000000000000000000000000000000000000001', 'png', 'image/png', 68, 2, 1700000050);
