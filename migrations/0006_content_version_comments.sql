-- blogd schema, version 6: the content version also moves with comments and with every
-- author field public pages show, so cached public answers can rely on it alone.

CREATE TRIGGER comments_version_insert AFTER INSERT ON comments BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER comments_version_update AFTER UPDATE ON comments BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER comments_version_delete AFTER DELETE ON comments BEGIN
    UPDATE content_version SET n = n + 1;
END;
DROP TRIGGER users_version_update;
CREATE TRIGGER users_version_update
    AFTER UPDATE OF username, display_name, bio, avatar_url, role, active ON users BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER users_version_insert AFTER INSERT ON users BEGIN
    UPDATE content_version SET n = n + 1;
END;
CREATE TRIGGER tags_version_insert AFTER INSERT ON tags BEGIN
    UPDATE content_version SET n = n + 1;
END;
