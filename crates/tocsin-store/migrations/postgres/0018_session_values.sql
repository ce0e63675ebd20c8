-- Schema version 18 (PostgreSQL): a live session's fixed values.
--
-- The values a live-session playbook declares as `[session] fixed` (the procedure, the
-- team, the hospital) are set once when the session starts, as a JSON object of the
-- values as typed; every post of the session takes them from here. Sessions from before
-- have none (`{}`): their posts carry every value themselves, as before.

ALTER TABLE live_sessions ADD COLUMN values_json TEXT NOT NULL DEFAULT '{}';
