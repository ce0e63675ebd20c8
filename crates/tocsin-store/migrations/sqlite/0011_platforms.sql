-- Schema version 11 (SQLite): an installation id made once per database, carried in the
-- idempotency keys sent to platforms (Matrix transaction ids, email Message-IDs), so a
-- second database on the same credentials (staging beside production, a rebuilt install)
-- never gets the first one's post back as its own.

CREATE TABLE installation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- 32 lowercase hex digits, random, never changed.
    installation_id TEXT NOT NULL
);
INSERT INTO installation (id, installation_id) VALUES (1, lower(hex(randomblob(16))));

-- An account stored with `--skip-check` (its platform was down when it was added): its
-- credentials were never tried. Accounts added before this version were not tried
-- either, but have been in use since; they are not flagged.
ALTER TABLE accounts ADD COLUMN unchecked BOOLEAN NOT NULL DEFAULT FALSE;

-- The parts of a delivery sent as several platform messages (SMS: one per recipient,
-- named by a hash of the number), recorded as each goes out, so a claim taken over after
-- a crash resumes with the parts not yet sent.
CREATE TABLE delivery_parts (
    message_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    part TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (message_id, account_id, part),
    FOREIGN KEY (message_id, account_id) REFERENCES deliveries (message_id, account_id)
);
