-- Schema version 6 (SQLite): platform accounts connected through OAuth 2. Times are
-- RFC 3339 UTC text, as everywhere.
--
-- An OAuth account's token bundle (access token, refresh token, expiry, scopes) is its
-- secret, sealed in `accounts.token_encrypted` as every other secret is; this version
-- adds only what is not secret (for the admin page) and the short-lived and per-instance
-- state of the authorisation flow. Every sealed value here is bound to its row by its
-- associated data, under the key that lives outside the database.

-- One authorisation under way: an admin asked to connect an account and was sent to the
-- platform; the platform sends the browser back with the `state` whose SHA-256 is the key.
-- A row is used once (`used_at`), and refused after `expires_at`.
CREATE TABLE oauth_pending (
    state_hash TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    -- Mastodon's instance (normalised base URL); NULL elsewhere.
    instance_url TEXT,
    -- The account to reconnect, or NULL for a new one.
    account_id INTEGER REFERENCES accounts (id),
    -- The handle the admin named (refused if the platform's account is another).
    expected_handle TEXT,
    display_name TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    -- The PKCE code verifier, sealed (associated data `tocsin-oauth-pending:<state_hash>`).
    verifier_sealed BLOB NOT NULL,
    redirect_uri TEXT NOT NULL,
    started_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    -- How it ended: connected, or the refusal's code.
    outcome TEXT
);
CREATE INDEX oauth_pending_expires ON oauth_pending (expires_at);

-- A client registered dynamically with a Mastodon instance (POST /api/v1/apps), kept per
-- instance and redirect URI. Its id and secret are sealed together (associated data
-- `tocsin-oauth-client:<instance_url>`).
CREATE TABLE oauth_clients (
    instance_url TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    client_sealed BLOB NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- What the admin page shows of an OAuth account's token, never the token: scopes granted,
-- expiry, whether it can be refreshed, who it is on the platform, the last refresh and
-- why the last one failed.
CREATE TABLE account_oauth (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id),
    platform TEXT NOT NULL,
    instance_url TEXT,
    remote_id TEXT NOT NULL,
    remote_name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_at TEXT,
    refreshable BOOLEAN NOT NULL,
    connected_by TEXT NOT NULL,
    connected_at TEXT NOT NULL,
    refreshed_at TEXT,
    refresh_error TEXT
);
