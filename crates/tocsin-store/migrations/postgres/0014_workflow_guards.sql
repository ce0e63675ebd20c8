-- Schema version 14 (PostgreSQL): no side door round the approval workflow.
--
-- * A correction is a draft like any other: `drafts.corrects_message_id` names the
--   message it corrects, and its approval places the correction.
-- * The consent record an override cited stays with the message (`messages.consent_ref`),
--   so a scheduled or repeated send checks it again when it goes out.
-- * A recurring repeat that fails a check when it fires stops (`stopped`), saying why.

ALTER TABLE drafts ADD COLUMN corrects_message_id BIGINT REFERENCES messages (id);
ALTER TABLE messages ADD COLUMN consent_ref TEXT;
ALTER TABLE schedules ADD COLUMN stop_reason TEXT;
ALTER TABLE schedules DROP CONSTRAINT schedules_state_known;
ALTER TABLE schedules ADD CONSTRAINT schedules_state_known
    CHECK (state IN ('scheduled', 'done', 'cancelled', 'stopped'));
