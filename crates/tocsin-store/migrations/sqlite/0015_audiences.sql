-- Schema version 15 (SQLite): audiences.
-- * An account belongs to zero or more named groups (`public`, `residents-sms`, ...).
-- * A message keeps the target set it was approved with (the groups chosen and the
--   accounts added or removed by hand, as JSON); NULL for messages older than this, which
--   went to every account.
-- * A live session keeps the target set chosen when it started; NULL: the playbook's.
-- * A delivery can be `skipped`: its account was disabled between approval and sending.

-- Groups use the tables the first schema set aside for them: `account_groups` (a name,
-- kept once made, so a group nobody is in any more still shows, empty) and
-- `account_group_members`. A change of membership is a change of accounts, for the
-- servers that follow them.
CREATE INDEX account_group_members_by_account ON account_group_members (account_id);
CREATE TRIGGER account_group_member_added AFTER INSERT ON account_group_members
BEGIN
    UPDATE account_changes SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER account_group_member_removed AFTER DELETE ON account_group_members
BEGIN
    UPDATE account_changes SET n = n + 1 WHERE id = 1;
END;

-- Before this, every message went to every account and every shipped playbook named
-- `public` as its audience: existing accounts join `public`, so an upgraded install keeps
-- sending where it sent until an admin regroups them.
INSERT INTO account_groups (name, created_at)
SELECT 'public', MIN(created_at) FROM accounts HAVING COUNT(*) > 0;
INSERT INTO account_group_members (group_id, account_id)
SELECT g.id, a.id FROM accounts a, account_groups g WHERE g.name = 'public';

ALTER TABLE messages ADD COLUMN targets_json TEXT;
ALTER TABLE live_sessions ADD COLUMN targets_json TEXT;
-- The groups an account connected through OAuth joins (a JSON list), chosen at the start.
ALTER TABLE oauth_pending ADD COLUMN groups_json TEXT;

DROP TRIGGER deliveries_state_insert;
DROP TRIGGER deliveries_state_update;
CREATE TRIGGER deliveries_state_insert BEFORE INSERT ON deliveries
WHEN NEW.state NOT IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'unknown', 'retracted', 'cancelled', 'skipped')
BEGIN SELECT RAISE(ABORT, 'deliveries.state: not a delivery state'); END;
CREATE TRIGGER deliveries_state_update BEFORE UPDATE OF state ON deliveries
WHEN NEW.state NOT IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'unknown', 'retracted', 'cancelled', 'skipped')
BEGIN SELECT RAISE(ABORT, 'deliveries.state: not a delivery state'); END;
