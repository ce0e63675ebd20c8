-- Schema version 10 (PostgreSQL): rows say what they hold.
-- * A rendered text's column is its target (a platform, `email_html` or `headline`), not
--   a platform.
-- * A sandbox account names the platform it stands in for in a column of its own, instead
--   of inside its handle (`sandbox:<platform>:...`, which stays as it was).
-- * State and kind columns refuse values that are none of their states.

ALTER TABLE rendered_variants RENAME COLUMN platform TO target;

ALTER TABLE accounts ADD COLUMN stands_for TEXT;
UPDATE accounts SET stands_for = NULLIF(split_part(handle, ':', 2), '')
WHERE sandbox AND handle LIKE 'sandbox:%';
UPDATE accounts SET stands_for = 'sandbox' WHERE sandbox AND stands_for IS NULL;

ALTER TABLE drafts ADD CONSTRAINT drafts_state_known
    CHECK (state IN ('draft', 'submitted', 'changes_requested', 'published', 'withdrawn'));
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_known
    CHECK (state IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'unknown', 'retracted', 'cancelled'));
ALTER TABLE messages ADD CONSTRAINT messages_kind_known
    CHECK (kind IN ('post', 'delete', 'correction'));
ALTER TABLE live_sessions ADD CONSTRAINT live_sessions_state_known
    CHECK (state IN ('open', 'ended'));
ALTER TABLE schedules ADD CONSTRAINT schedules_state_known
    CHECK (state IN ('scheduled', 'done', 'cancelled'));
ALTER TABLE accounts ADD CONSTRAINT accounts_status_known
    CHECK (status IN ('connected', 'auth_failed', 'disabled'));
