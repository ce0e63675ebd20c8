-- Tocsin's schema, version 12 (postgres): people set their own credentials, and sign-in
-- guessing is counted in the database. Times are RFC 3339 UTC text, as everywhere.

-- A second factor being set up (sealed like the active one): it becomes the active one
-- only when the person proves it with a code, so an unfinished re-enrolment locks no
-- one out.
ALTER TABLE users ADD COLUMN totp_pending_encrypted BYTEA;

-- One-time enrolment links: the person sets their own password and second factor there.
-- Only the token's SHA-256 is kept; a link works once, until expires_at.
CREATE TABLE enrolment_links (
    token_sha256 TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX enrolment_links_by_user ON enrolment_links (user_id);

-- Sign-in failures, shared by every node: one row per (account, address) and per
-- address. The key is bounded (a name enters only as its SHA-256; an IPv6 address as its
-- /64), and the service keeps the table under a row cap.
CREATE TABLE sign_in_throttle (
    throttle_key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure TEXT NOT NULL,
    blocked_until TEXT
);
CREATE INDEX sign_in_throttle_by_last_failure ON sign_in_throttle (last_failure);

-- Refused sign-ins counted per minute, account and address, folded into one audit entry
-- per row once the minute is over (not one entry per attempt).
CREATE TABLE sign_in_refusals (
    minute TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    address TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    PRIMARY KEY (minute, action, actor, address, reason)
);
