-- Schema version 5 (PostgreSQL): platform accounts connected with their credentials. Times
-- are RFC 3339 UTC text, as everywhere.
--
-- The account's secret (access token, bot token, app password, webhook URL) is kept
-- sealed in version 1's `token_encrypted`: XChaCha20-Poly1305 under a key that lives in
-- the configuration or the environment, never here, bound to the account's id as
-- associated data. Its non-secret settings are version 2's `settings_json`.

-- connected, auth_failed or disabled (disabled accounts are out of fan-out; their rows,
-- deliveries and audit entries stay).
ALTER TABLE accounts ADD COLUMN status TEXT NOT NULL DEFAULT 'connected';
-- Why the status is what it is, in words for the admin page (never a secret).
ALTER TABLE accounts ADD COLUMN status_detail TEXT;
-- When the status last changed (NULL: never since the account was added).
ALTER TABLE accounts ADD COLUMN status_updated_at TEXT;
-- When the sealed secret was last stored (NULL: no secret).
ALTER TABLE accounts ADD COLUMN secret_updated_at TEXT;
