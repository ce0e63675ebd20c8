-- Schema version 9 (PostgreSQL): `schedules` holds one model, the recurring repeat of an
-- approved message (its message, next run, interval, end, runs so far). The first model,
-- a draft to send at a time with a free-text recurrence, was never fired by anything
-- (scheduled sends wait in the outbox as `messages.not_before`); its columns go, and so do
-- any rows of it.

DELETE FROM schedules WHERE message_id IS NULL OR every_seconds IS NULL;
ALTER TABLE schedules
    DROP COLUMN draft_id,
    DROP COLUMN recurrence,
    ALTER COLUMN message_id SET NOT NULL,
    ALTER COLUMN every_seconds SET NOT NULL;
