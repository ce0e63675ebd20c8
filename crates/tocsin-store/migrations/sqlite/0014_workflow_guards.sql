-- Schema version 14 (SQLite): no side door round the approval workflow.
--
-- * A correction is a draft like any other: `drafts.corrects_message_id` names the
--   message it corrects, and its approval places the correction.
-- * The consent record an override cited stays with the message (`messages.consent_ref`),
--   so a scheduled or repeated send checks it again when it goes out.
-- * A recurring repeat that fails a check when it fires stops (`stopped`), saying why.

ALTER TABLE drafts ADD COLUMN corrects_message_id INTEGER REFERENCES messages (id);
ALTER TABLE messages ADD COLUMN consent_ref TEXT;
ALTER TABLE schedules ADD COLUMN stop_reason TEXT;

DROP TRIGGER schedules_state_insert;
DROP TRIGGER schedules_state_update;
CREATE TRIGGER schedules_state_insert BEFORE INSERT ON schedules
WHEN NEW.state NOT IN ('scheduled', 'done', 'cancelled', 'stopped')
BEGIN SELECT RAISE(ABORT, 'schedules.state: not a schedule state'); END;
CREATE TRIGGER schedules_state_update BEFORE UPDATE OF state ON schedules
WHEN NEW.state NOT IN ('scheduled', 'done', 'cancelled', 'stopped')
BEGIN SELECT RAISE(ABORT, 'schedules.state: not a schedule state'); END;
