-- Schema version 23 (PostgreSQL): public links and square versions of a message's images.
--
-- `public_token` is a random name (32 bytes, URL-safe base64) under which a running
-- server serves the image at `[server] public_url` + `/media/<token>`, and only while a
-- delivery of the message to a platform that fetches images itself (Instagram, Threads)
-- is still under way; older rows have none and are never served.
-- `square_sha256` names the same picture drawn square (an alert card at 1080x1080),
-- sent instead of the image to platforms that want square pictures (Instagram).
ALTER TABLE message_images ADD COLUMN public_token TEXT;
ALTER TABLE message_images ADD COLUMN square_sha256 TEXT REFERENCES images (sha256);
CREATE UNIQUE INDEX message_images_public_token ON message_images (public_token);
