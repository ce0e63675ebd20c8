-- Schema version 8 (PostgreSQL): a counter of changes to accounts, bumped by a trigger
-- in the same transaction as the change, so that a running node notices a change another
-- process made (`tocsin accounts replace-secret`, `disable`, `add`) by reading one row,
-- even without the relay's notification.

CREATE TABLE account_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- How many times an account was added or changed since the table was created.
    n BIGINT NOT NULL
);
INSERT INTO account_changes (id, n) VALUES (1, 0);

CREATE FUNCTION count_account_change() RETURNS trigger AS $$
BEGIN
    UPDATE account_changes SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER account_changed AFTER INSERT OR UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION count_account_change();
