-- v8: the users and apps pages read rollups and indexes instead of a month of rows. usage_users gains the allotment
-- of the user's latest unit in the period (Append overwrites it, units come in id order); usage_user_apps holds one
-- row per (period, user, app) with units, so a user's app count and an app's totals and user count are index reads;
-- last activity is the newest event per user or app inside the period's bounds, one index probe each.
ALTER TABLE usage_users ADD COLUMN allotment TEXT NULL;
UPDATE usage_users SET allotment = latest.allotment FROM (
    SELECT u.tenant, u.period, u.user_name, u.allotment FROM units u JOIN (
        SELECT MAX(id) AS id FROM units GROUP BY tenant, period, user_name) m ON m.id = u.id) latest
WHERE usage_users.tenant = latest.tenant AND usage_users.period = latest.period AND usage_users.user_name = latest.user_name;
CREATE TABLE usage_user_apps (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    user_name TEXT NOT NULL,
    app TEXT NOT NULL,
    units INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    PRIMARY KEY (tenant, period, user_name, app)) WITHOUT ROWID;
-- By app, covering what the apps page sums (the user is in every index entry as part of the key).
CREATE INDEX usage_user_apps_by_app ON usage_user_apps (tenant, period, app, units, minutes);
INSERT INTO usage_user_apps (tenant, period, user_name, app, units, minutes)
SELECT tenant, period, user_name, app, COUNT(*), SUM(minutes) FROM units GROUP BY tenant, period, user_name, app;
CREATE INDEX events_tenant_user_time ON events (tenant, user_name, time_ticks);
CREATE INDEX events_tenant_app_time ON events (tenant, app, time_ticks);
