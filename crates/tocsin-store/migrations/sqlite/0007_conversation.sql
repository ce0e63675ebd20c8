-- Schema version 7 (SQLite): the public conversation under a live session's hashtag, as
-- the hashtag monitor heard it on Mastodon and Bluesky, and the end of a session. Times
-- are RFC 3339 UTC text, as everywhere.

-- Who ended a live session, and when (state becomes 'ended').
ALTER TABLE live_sessions ADD COLUMN ended_at TEXT;
ALTER TABLE live_sessions ADD COLUMN ended_by TEXT;

-- One public post heard under a session's hashtag. Several nodes (and several Mastodon
-- instances, and a stream replaying after a reconnect) hear the same post: the unique
-- key makes the first insert win and the others do nothing.
CREATE TABLE conversation_posts (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES live_sessions (id),
    -- mastodon or bluesky.
    platform TEXT NOT NULL,
    -- The Mastodon instance it was heard on (base URL); NULL for Bluesky.
    source_instance TEXT,
    -- The post's id on its network, the same whichever instance or node heard it: a
    -- Mastodon status's canonical URL (a status id is only good on one instance), a
    -- Bluesky at:// URI.
    remote_id TEXT NOT NULL,
    -- Its id on the stream that heard it first (a Mastodon status id on
    -- `source_instance`, which is what that instance's deletions name; the at:// URI).
    source_post_id TEXT NOT NULL,
    author_handle TEXT NOT NULL,
    author_name TEXT NOT NULL,
    -- The post's text as the network gave it (untrusted: the panel shows it as text).
    text TEXT NOT NULL,
    url TEXT,
    posted_at TEXT NOT NULL,
    heard_at TEXT NOT NULL,
    -- When its author deleted it, if they did.
    deleted_at TEXT,
    -- NULL, 'marked' (to be answered) or 'answered'.
    question TEXT CHECK (question IN ('marked', 'answered')),
    question_by TEXT,
    question_at TEXT,
    UNIQUE (session_id, platform, remote_id)
);
CREATE INDEX conversation_posts_by_session ON conversation_posts (session_id, posted_at);
CREATE INDEX conversation_posts_by_source ON conversation_posts (platform, source_post_id);
