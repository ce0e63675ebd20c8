-- Schema version 17 (PostgreSQL): time columns are `timestamptz`, so the database compares, orders and indexes them as times.
--
-- Until now every time was RFC 3339 UTC text with six decimals; each converts as it is
-- (indexes on them are rebuilt). The audit chain's own times (`audit_entries.time`,
-- `audit_checkpoints.time`, `audit_head.checkpoint_time`) stay text: the chain hash and
-- the signed checkpoints cover those exact strings.

ALTER TABLE users
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN totp_confirmed_at TYPE timestamptz USING totp_confirmed_at::timestamptz,
    ALTER COLUMN disabled_at TYPE timestamptz USING disabled_at::timestamptz;
ALTER TABLE sessions
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN last_seen_at TYPE timestamptz USING last_seen_at::timestamptz,
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz,
    ALTER COLUMN reauthenticated_at TYPE timestamptz USING reauthenticated_at::timestamptz;
ALTER TABLE enrolment_links
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz;
ALTER TABLE sign_in_throttle
    ALTER COLUMN last_failure TYPE timestamptz USING last_failure::timestamptz,
    ALTER COLUMN blocked_until TYPE timestamptz USING blocked_until::timestamptz;
ALTER TABLE sign_in_refusals
    ALTER COLUMN minute TYPE timestamptz USING minute::timestamptz;
ALTER TABLE accounts
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN status_updated_at TYPE timestamptz USING status_updated_at::timestamptz,
    ALTER COLUMN secret_updated_at TYPE timestamptz USING secret_updated_at::timestamptz;
ALTER TABLE account_groups
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;
ALTER TABLE account_oauth
    ALTER COLUMN connected_at TYPE timestamptz USING connected_at::timestamptz,
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz,
    ALTER COLUMN refreshed_at TYPE timestamptz USING refreshed_at::timestamptz;
ALTER TABLE oauth_clients
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;
ALTER TABLE oauth_pending
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz,
    ALTER COLUMN used_at TYPE timestamptz USING used_at::timestamptz;
ALTER TABLE playbook_approvals
    ALTER COLUMN approved_at TYPE timestamptz USING approved_at::timestamptz;
ALTER TABLE drafts
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at::timestamptz;
ALTER TABLE rendered_variants
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;
ALTER TABLE messages
    ALTER COLUMN approved_at TYPE timestamptz USING approved_at::timestamptz,
    ALTER COLUMN not_before TYPE timestamptz USING not_before::timestamptz,
    ALTER COLUMN retracted_at TYPE timestamptz USING retracted_at::timestamptz,
    ALTER COLUMN review_at TYPE timestamptz USING review_at::timestamptz;
ALTER TABLE deliveries
    ALTER COLUMN lease_until TYPE timestamptz USING lease_until::timestamptz,
    ALTER COLUMN next_attempt_at TYPE timestamptz USING next_attempt_at::timestamptz,
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at::timestamptz;
ALTER TABLE delivery_parts
    ALTER COLUMN sent_at TYPE timestamptz USING sent_at::timestamptz;
ALTER TABLE schedules
    ALTER COLUMN run_at TYPE timestamptz USING run_at::timestamptz,
    ALTER COLUMN until_at TYPE timestamptz USING until_at::timestamptz;
ALTER TABLE consent_records
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz,
    ALTER COLUMN recorded_at TYPE timestamptz USING recorded_at::timestamptz,
    ALTER COLUMN revoked_at TYPE timestamptz USING revoked_at::timestamptz;
ALTER TABLE live_sessions
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN ended_at TYPE timestamptz USING ended_at::timestamptz;
ALTER TABLE conversation_posts
    ALTER COLUMN posted_at TYPE timestamptz USING posted_at::timestamptz,
    ALTER COLUMN heard_at TYPE timestamptz USING heard_at::timestamptz,
    ALTER COLUMN deleted_at TYPE timestamptz USING deleted_at::timestamptz,
    ALTER COLUMN question_at TYPE timestamptz USING question_at::timestamptz;
