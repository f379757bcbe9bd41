-- v7: one schema, the same names on both stores. SQLite called the user columns "user", a word PostgreSQL reserves,
-- so the PostgreSQL ledger had said user_name from the start; and alert_fired becomes alert_claims, the name of what
-- ClaimAlert writes. RENAME keeps every row, index and constraint (SQLite rewrites the indexes' definitions too).
ALTER TABLE events RENAME COLUMN user TO user_name;
ALTER TABLE decisions RENAME COLUMN user TO user_name;
ALTER TABLE units RENAME COLUMN user TO user_name;
ALTER TABLE usage_users RENAME COLUMN user TO user_name;
ALTER TABLE alert_fired RENAME TO alert_claims;
