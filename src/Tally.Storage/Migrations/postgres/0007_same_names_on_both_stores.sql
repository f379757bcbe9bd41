-- v7: one schema, the same names on both stores. The user columns were user_name here already (SQLite renames its
-- "user" columns in its own 0007); alert_fired becomes alert_claims, the name of what ClaimAlert writes.
ALTER TABLE alert_fired RENAME TO alert_claims;
ALTER INDEX alert_fired_pkey RENAME TO alert_claims_pkey;
