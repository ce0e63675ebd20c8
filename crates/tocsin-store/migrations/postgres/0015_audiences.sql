-- Schema version 15 (PostgreSQL): audiences.
-- * An account belongs to zero or more named groups (`public`, `residents-sms`, ...).
-- * A message keeps the target set it was approved with (the groups chosen and the
--   accounts added or removed by hand, as JSON); NULL for messages older than this, which
--   went to every account.
-- * A live session keeps the target set chosen when it started; NULL: the playbook's.
-- * A delivery can be `skipped`: its account was disabled between approval and sending.

-- Groups use the tables the first schema set aside for them: `account_groups` (a name,
-- kept once made, so a group nobody is in any more still shows, empty) and
-- `account_group_members`. A change of membership is a change of accounts, for the
-- nodes that follow them.
CREATE INDEX account_group_members_by_account ON account_group_members (account_id);
CREATE TRIGGER account_group_members_changed AFTER INSERT OR DELETE ON account_group_members
    FOR EACH ROW EXECUTE FUNCTION count_account_change();

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

ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_known;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_known
    CHECK (state IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'unknown', 'retracted', 'cancelled', 'skipped'));
