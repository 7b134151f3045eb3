-- blogd schema, version 5: personal data rights, and a content version for SEO documents.

-- The time and action of an audit record never change. Erasing a person may blank the
-- personal fields (actor, target, ip) of the records about them.
DROP TRIGGER audit_log_append_only;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OF time, action ON audit_log BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE INDEX comments_user ON comments(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX comments_email_age ON comments(created_at) WHERE author_email IS NOT NULL AND user_id IS NULL;
CREATE INDEX audit_log_time ON audit_log(time);

-- A counter bumped by every change to what the sitemap, feeds and SEO answers show, so they
-- are regenerated only when content changes, whichever code path (or restore) changed it.
CREATE TABLE content_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
) STRICT;
INSERT INTO content_version (id, n) VALUES (1, 0);
CREATE TRIGGER posts_version_insert AFTER INSERT ON posts BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER posts_version_update AFTER UPDATE ON posts BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER posts_version_delete AFTER DELETE ON posts BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER categories_version_insert AFTER INSERT ON categories BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER categories_version_update AFTER UPDATE ON categories BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER categories_version_delete AFTER DELETE ON categories BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER tags_version_update AFTER UPDATE ON tags BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER tags_version_delete AFTER DELETE ON tags BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER post_categories_version_insert AFTER INSERT ON post_categories BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER post_categories_version_delete AFTER DELETE ON post_categories BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER post_tags_version_insert AFTER INSERT ON post_tags BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER post_tags_version_delete AFTER DELETE ON post_tags BEGIN
    UPDATE content_version SET n = n + 1;
END;
-- Author names and avatars appear in feeds and JSON-LD; sign-ins (last_login_at) do not.
CREATE TRIGGER users_version_update AFTER UPDATE OF username, display_name, avatar_url, active ON users BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER users_version_delete AFTER DELETE ON users BEGIN
    UPDATE content_version SET n = n + 1;
END;
