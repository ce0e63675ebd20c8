-- Schema version 2 (SQLite): what fan-out needs beyond the outbox rows.
-- Messages know what they are (a post, a deletion or a correction of an earlier one),
-- where they sit in a live session's thread, and when they may go out; deliveries know
-- when they may be tried next and keep the extra handle some platforms need to reply.

CREATE TABLE live_sessions (
    id INTEGER PRIMARY KEY,
    playbook_id TEXT NOT NULL,
    title TEXT NOT NULL,
    hashtag TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    exercise BOOLEAN NOT NULL,
    state TEXT NOT NULL
);

ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'post';
ALTER TABLE messages ADD COLUMN target_message_id INTEGER REFERENCES messages(id);
ALTER TABLE messages ADD COLUMN session_id INTEGER REFERENCES live_sessions(id);
ALTER TABLE messages ADD COLUMN session_seq INTEGER;
ALTER TABLE messages ADD COLUMN title TEXT;
ALTER TABLE messages ADD COLUMN not_before TEXT;
ALTER TABLE messages ADD COLUMN retracted_at TEXT;
CREATE UNIQUE INDEX messages_by_session ON messages (session_id, session_seq);
CREATE INDEX messages_by_target ON messages (target_message_id);

ALTER TABLE deliveries ADD COLUMN next_attempt_at TEXT;
ALTER TABLE deliveries ADD COLUMN remote_extra TEXT;
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_by_account ON deliveries (account_id, message_id);

ALTER TABLE schedules ADD COLUMN message_id INTEGER REFERENCES messages(id);
ALTER TABLE schedules ADD COLUMN every_seconds INTEGER;
ALTER TABLE schedules ADD COLUMN until_at TEXT;
ALTER TABLE schedules ADD COLUMN fired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN claimed_from TEXT;
ALTER TABLE accounts ADD COLUMN settings_json TEXT NOT NULL DEFAULT '{}';
