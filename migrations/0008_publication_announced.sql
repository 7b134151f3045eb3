-- blogd schema, version 8: a scheduled post that goes public when its time comes is announced
-- (the `post.published` revalidation event) exactly once. `announced_at` holds the
-- publication time that was announced: a post moved to a new time is announced again then.

ALTER TABLE posts ADD COLUMN announced_at INTEGER;
-- Everything public before this version was public already: nothing to announce late.
UPDATE posts SET announced_at = published_at
 WHERE status IN ('published', 'scheduled') AND published_at IS NOT NULL
   AND published_at <= unixepoch();
CREATE INDEX posts_due_announcements ON posts (published_at) WHERE status = 'scheduled';
