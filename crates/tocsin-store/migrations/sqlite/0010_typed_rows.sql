-- Schema version 10 (SQLite): rows say what they hold.
-- * A rendered text's column is its target (a platform, `email_html` or `headline`), not
--   a platform.
-- * A sandbox account names the platform it stands in for in a column of its own, instead
--   of inside its handle (`sandbox:<platform>:...`, which stays as it was).
-- * State and kind columns refuse values that are none of their states. SQLite cannot add
--   a CHECK constraint to an existing table, so triggers refuse them, with the same effect.

ALTER TABLE rendered_variants RENAME COLUMN platform TO target;

ALTER TABLE accounts ADD COLUMN stands_for TEXT;
UPDATE accounts
SET stands_for = CASE
        WHEN instr(substr(handle, 9), ':') > 0 THEN substr(handle, 9, instr(substr(handle, 9), ':') - 1)
        ELSE substr(handle, 9)
    END
WHERE sandbox AND handle LIKE 'sandbox:%';
UPDATE accounts SET stands_for = 'sandbox' WHERE sandbox AND (stands_for IS NULL OR stands_for = '');

CREATE TRIGGER drafts_state_insert BEFORE INSERT ON drafts
WHEN NEW.state NOT IN ('draft', 'submitted', 'changes_requested', 'published', 'withdrawn')
BEGIN SELECT RAISE(ABORT, 'drafts.state: not a draft state'); END;
CREATE TRIGGER drafts_state_update BEFORE UPDATE OF state ON drafts
WHEN NEW.state NOT IN ('draft', 'submitted', 'changes_requested', 'published', 'withdrawn')
BEGIN SELECT RAISE(ABORT, 'drafts.state: not a draft state'); END;

CREATE TRIGGER deliveries_state_insert BEFORE INSERT ON deliveries
WHEN NEW.state NOT IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'unknown', 'retracted', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'deliveries.state: not a delivery state'); END;
CREATE TRIGGER deliveries_state_update BEFORE UPDATE OF state ON deliveries
WHEN NEW.state NOT IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'unknown', 'retracted', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'deliveries.state: not a delivery state'); END;

CREATE TRIGGER messages_kind_insert BEFORE INSERT ON messages
WHEN NEW.kind NOT IN ('post', 'delete', 'correction')
BEGIN SELECT RAISE(ABORT, 'messages.kind: not a message kind'); END;
CREATE TRIGGER messages_kind_update BEFORE UPDATE OF kind ON messages
WHEN NEW.kind NOT IN ('post', 'delete', 'correction')
BEGIN SELECT RAISE(ABORT, 'messages.kind: not a message kind'); END;

CREATE TRIGGER live_sessions_state_insert BEFORE INSERT ON live_sessions
WHEN NEW.state NOT IN ('open', 'ended')
BEGIN SELECT RAISE(ABORT, 'live_sessions.state: not a session state'); END;
CREATE TRIGGER live_sessions_state_update BEFORE UPDATE OF state ON live_sessions
WHEN NEW.state NOT IN ('open', 'ended')
BEGIN SELECT RAISE(ABORT, 'live_sessions.state: not a session state'); END;

CREATE TRIGGER schedules_state_insert BEFORE INSERT ON schedules
WHEN NEW.state NOT IN ('scheduled', 'done', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'schedules.state: not a schedule state'); END;
CREATE TRIGGER schedules_state_update BEFORE UPDATE OF state ON schedules
WHEN NEW.state NOT IN ('scheduled', 'done', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'schedules.state: not a schedule state'); END;

CREATE TRIGGER accounts_status_insert BEFORE INSERT ON accounts
WHEN NEW.status NOT IN ('connected', 'auth_failed', 'disabled')
BEGIN SELECT RAISE(ABORT, 'accounts.status: not an account status'); END;
CREATE TRIGGER accounts_status_update BEFORE UPDATE OF status ON accounts
WHEN NEW.status NOT IN ('connected', 'auth_failed', 'disabled')
BEGIN SELECT RAISE(ABORT, 'accounts.status: not an account status'); END;
