-- Schema version 4 (SQLite): the approval workflow around drafts, the consent register
-- and the compliance review of break-glass publishes. Times are RFC 3339 UTC text.

-- Where a draft stands in the approval workflow (draft, submitted, changes_requested, ...).
ALTER TABLE drafts ADD COLUMN state TEXT NOT NULL DEFAULT 'draft';
-- When it last changed (NULL: never since it was created, read as created_at).
ALTER TABLE drafts ADD COLUMN updated_at TEXT;
-- The live session the draft posts into, if any.
ALTER TABLE drafts ADD COLUMN session_id INTEGER REFERENCES live_sessions(id);
-- The reason given when changes were last requested.
ALTER TABLE drafts ADD COLUMN note TEXT;
-- The message its approval created.
ALTER TABLE drafts ADD COLUMN message_id INTEGER REFERENCES messages(id);
CREATE INDEX drafts_by_state ON drafts (state, id);

-- Consent to publish protected health information. `subject` names who consented: it
-- is PHI, and the audit chain holds only a commitment to it.
CREATE TABLE consent_records (
    reference TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    -- JSON arrays; an empty array means "any".
    scope_playbooks TEXT NOT NULL,
    scope_channels TEXT NOT NULL,
    expires_at TEXT,
    form_location TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT,
    revoke_reason TEXT
);

-- The compliance review of a break-glass publish (NULL: not reviewed yet).
ALTER TABLE messages ADD COLUMN review_by TEXT;
ALTER TABLE messages ADD COLUMN review_at TEXT;
ALTER TABLE messages ADD COLUMN review_finding TEXT;
CREATE INDEX messages_awaiting_review ON messages (break_glass, review_at, id);
