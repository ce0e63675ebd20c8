-- Schema version 20 (PostgreSQL): images on drafts and messages.
--
-- `images` keeps each uploaded image once, by the SHA-256 of its bytes after metadata
-- was stripped, with who uploaded it first and when. `message_images` keeps the images
-- an approved message carries, in order, each with the description (alt text) that was
-- approved with it; dispatch reads both to give connectors the files.

CREATE TABLE images (
    sha256 TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    byte_size BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at timestamptz NOT NULL
);

CREATE TABLE message_images (
    message_id BIGINT NOT NULL REFERENCES messages (id),
    position BIGINT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES images (sha256),
    alt TEXT NOT NULL,
    PRIMARY KEY (message_id, position)
);
