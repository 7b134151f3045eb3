-- blogd schema, version 3: uploaded media, stored on disk under their SHA-256.
CREATE TABLE media (
    id           INTEGER PRIMARY KEY,
    sha256       TEXT NOT NULL UNIQUE,
    extension    TEXT NOT NULL CHECK (extension IN ('jpg', 'png', 'gif', 'webp')),
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    uploaded_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL
) STRICT;
