-- Schema version 21 (SQLite): no change to the tables; rendered texts may be in another
-- language.
--
-- `rendered_variants.target` may now name a text in a playbook's non-primary language:
-- the primary name, a dot and the BCP 47 tag (`x.es`, `headline.zh-Hans`,
-- `email_html.es`). The primary language keeps the names it always had. The column is
-- free text, so nothing changes here; the version moves on because a release before this
-- one refuses a target it does not know when it reads a message's texts, and its nodes
-- must stop (`[server] schema_check_seconds`) rather than fail on them.
SELECT 1;
