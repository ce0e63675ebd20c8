-- Schema version 17 (SQLite): no change; time columns stay RFC 3339 UTC text with six decimals, which sorts as time.
--
-- PostgreSQL's time columns become `timestamptz` in this version. SQLite has no time
-- type: the store writes and reads every time column through one type (`DbTime`), as
-- canonical text here, so comparisons and ordering in SQL agree with PostgreSQL's.
SELECT 1;
