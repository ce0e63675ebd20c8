-- Schema version 8 (SQLite): a counter of changes to accounts, bumped by triggers in the
-- same transaction as the change, so that a running server notices a change another
-- process made (`tocsin accounts replace-secret`, `disable`, `add`) by reading one row.

CREATE TABLE account_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- How many times an account was added or changed since the table was created.
    n INTEGER NOT NULL
);
INSERT INTO account_changes (id, n) VALUES (1, 0);

CREATE TRIGGER account_added AFTER INSERT ON accounts
BEGIN
    UPDATE account_changes SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER account_changed AFTER UPDATE ON accounts
BEGIN
    UPDATE account_changes SET n = n + 1 WHERE id = 1;
END;
