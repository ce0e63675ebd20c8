-- Schema version 22 (SQLite): the languages an account posts, and how.
--
-- `languages` lists BCP 47 tags joined by commas (`en,es`), first to last; empty means
-- the playbook's primary language only, which is what every account posted before.
-- `language_posts` is `separate` (one post per language, each next one a reply to the
-- first) or `together` (one post holding every language where the platform's limit
-- allows). Changing them bumps `account_changes` (the update trigger), so running
-- servers pick the change up.
ALTER TABLE accounts ADD COLUMN languages TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN language_posts TEXT NOT NULL DEFAULT 'separate'
    CHECK (language_posts IN ('separate', 'together'));
