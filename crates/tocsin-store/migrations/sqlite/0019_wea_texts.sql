-- Schema version 19 (SQLite): no change to the tables; rendered texts may be WEA texts.
--
-- `rendered_variants.target` may now be `wea_en_short`, `wea_en_long`, `wea_es_short`
-- or `wea_es_long`: a step's Wireless Emergency Alerts texts, rendered and approved with
-- the message and published by the alert feed as CAP `CMAMtext` / `CMAMlongtext`. The
-- column is free text, so nothing changes here; the version moves on because a release
-- before this one refuses a target it does not know when it reads a message's texts,
-- and its nodes must stop (`[server] schema_check_seconds`) rather than fail on them.
SELECT 1;
