-- The audit log is append-only in the database too: the chain and its signed checkpoints
-- refuse UPDATE and DELETE from any connection. (Anyone who can write the SQLite file can
-- drop these triggers; the verifier, the kept checkpoint and the witness catch what they
-- then do. On PostgreSQL a separate owner role keeps the application from dropping them.)
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: audit_entries rows cannot be changed'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: audit_entries rows cannot be deleted'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: audit_checkpoints rows cannot be changed'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: audit_checkpoints rows cannot be deleted'); END;
