-- blogd schema, version 9: a tag made by a draft must not reveal the draft. A tag is public
-- when a public post carries it, or when an editor made it on purpose (POST /tags): `listed`.

ALTER TABLE tags ADD COLUMN listed INTEGER NOT NULL DEFAULT 0;
-- A tag with no post at all was made on purpose.
UPDATE tags SET listed = 1 WHERE NOT EXISTS (SELECT 1 FROM post_tags pt WHERE pt.tag_id = tags.id);
