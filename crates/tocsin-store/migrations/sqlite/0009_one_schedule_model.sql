-- Schema version 9 (SQLite): `schedules` holds one model, the recurring repeat of an
-- approved message (its message, next run, interval, end, runs so far). The first model,
-- a draft to send at a time with a free-text recurrence, was never fired by anything
-- (scheduled sends wait in the outbox as `messages.not_before`); its columns go, and so do
-- any rows of it. SQLite cannot drop a column that has a foreign key, so the table is
-- rebuilt; nothing refers to it.

CREATE TABLE schedules_one_model (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    run_at TEXT NOT NULL,
    every_seconds INTEGER NOT NULL,
    until_at TEXT,
    fired INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    state TEXT NOT NULL
);
INSERT INTO schedules_one_model (id, message_id, run_at, every_seconds, until_at, fired, created_by, state)
    SELECT id, message_id, run_at, every_seconds, until_at, fired, created_by, state FROM schedules
    WHERE message_id IS NOT NULL AND every_seconds IS NOT NULL;
DROP TABLE schedules;
ALTER TABLE schedules_one_model RENAME TO schedules;
CREATE INDEX schedules_due ON schedules (state, run_at);
