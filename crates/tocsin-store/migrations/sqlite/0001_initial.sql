-- Tocsin's schema, version 1 (SQLite). Times are RFC 3339 UTC text with six decimals,
-- so they sort as text and match the audit log's canonical form byte for byte.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- Encrypted TOTP secret (XChaCha20-Poly1305, key outside the database); NULL until enrolled.
    totp_secret_encrypted BLOB,
    created_at TEXT NOT NULL
);

-- The durable part of sign-in sessions (the id is stored as its SHA-256, never raw).
CREATE TABLE sessions (
    id_sha256 TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    handle TEXT NOT NULL,
    display_name TEXT NOT NULL,
    sandbox BOOLEAN NOT NULL,
    -- Encrypted OAuth tokens; the key never lives in the database.
    token_encrypted BLOB,
    created_at TEXT NOT NULL,
    UNIQUE (platform, handle)
);

CREATE TABLE account_groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE account_group_members (
    group_id INTEGER NOT NULL REFERENCES account_groups(id),
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    PRIMARY KEY (group_id, account_id)
);

CREATE TABLE playbook_approvals (
    id INTEGER PRIMARY KEY,
    playbook_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    note TEXT
);
CREATE INDEX playbook_approvals_by_playbook ON playbook_approvals (playbook_id, id);

CREATE TABLE drafts (
    id INTEGER PRIMARY KEY,
    playbook_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    variables_json TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    exercise BOOLEAN NOT NULL
);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    draft_id INTEGER NOT NULL REFERENCES drafts(id),
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    exercise BOOLEAN NOT NULL,
    break_glass BOOLEAN NOT NULL
);

-- One rendered text per platform of a draft or a message; the text itself lives in
-- rendered_bodies so retention can purge it while the hash stays.
CREATE TABLE rendered_variants (
    id INTEGER PRIMARY KEY,
    draft_id INTEGER REFERENCES drafts(id),
    message_id INTEGER REFERENCES messages(id),
    platform TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX rendered_variants_by_draft ON rendered_variants (draft_id);
CREATE INDEX rendered_variants_by_message ON rendered_variants (message_id);
CREATE INDEX rendered_variants_by_time ON rendered_variants (created_at);

CREATE TABLE rendered_bodies (
    variant_id INTEGER PRIMARY KEY REFERENCES rendered_variants(id),
    body TEXT NOT NULL
);

-- The outbox: one row per (message, account), claimed with a lease and a fencing token.
CREATE TABLE deliveries (
    message_id INTEGER NOT NULL REFERENCES messages(id),
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    remote_id TEXT,
    remote_url TEXT,
    last_error TEXT,
    idempotency_key TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    fencing_token INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (message_id, account_id)
);
CREATE INDEX deliveries_by_state ON deliveries (state, lease_until);

CREATE TABLE schedules (
    id INTEGER PRIMARY KEY,
    draft_id INTEGER NOT NULL REFERENCES drafts(id),
    run_at TEXT NOT NULL,
    recurrence TEXT,
    created_by TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX schedules_due ON schedules (state, run_at);

-- The audit chain. `subjects` is the canonical JSON of the subject map; `playbook` and
-- `account` copy two subjects for filtering (the verifier checks they agree).
CREATE TABLE audit_entries (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subjects TEXT NOT NULL,
    outcome TEXT,
    exercise BOOLEAN NOT NULL,
    payload_sha256 TEXT,
    playbook TEXT,
    account TEXT,
    hash TEXT NOT NULL
);
CREATE INDEX audit_entries_by_time ON audit_entries (time);
CREATE INDEX audit_entries_by_actor ON audit_entries (actor, seq);
CREATE INDEX audit_entries_by_playbook ON audit_entries (playbook, seq);
CREATE INDEX audit_entries_by_account ON audit_entries (account, seq);
CREATE INDEX audit_entries_by_action ON audit_entries (action, seq);

-- One row: where the chain ends. Appenders lock it, so the chain has one order.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq INTEGER NOT NULL,
    head TEXT NOT NULL,
    checkpoint_size INTEGER NOT NULL,
    checkpoint_time TEXT
);
INSERT INTO audit_head (id, next_seq, head, checkpoint_size, checkpoint_time)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, NULL);

CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    head TEXT NOT NULL,
    time TEXT NOT NULL,
    note TEXT NOT NULL
);
