-- Tocsin's schema, version 3 (SQLite): what sign-in needs beyond version 1's users and
-- sessions tables. Times are RFC 3339 UTC text, as everywhere.

-- The newest TOTP time step accepted for the user: a code whose step is not above it is
-- refused, so each code works once, across restarts and nodes.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
-- When the user proved the enrolled secret works (NULL: enrolled, not yet confirmed).
ALTER TABLE users ADD COLUMN totp_confirmed_at TEXT;
-- When an admin disabled the user (NULL: active).
ALTER TABLE users ADD COLUMN disabled_at TEXT;

-- When the session's user last gave password and code again (sign-in counts).
ALTER TABLE sessions ADD COLUMN reauthenticated_at TEXT;
-- The client address at sign-in, for the admin page.
ALTER TABLE sessions ADD COLUMN client_ip TEXT;

CREATE INDEX sessions_by_user ON sessions (user_id);
