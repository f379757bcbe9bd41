-- v8: the users and apps pages read rollups instead of a month of rows, and nothing new is indexed on events (an
-- index there costs every event of every batch). usage_users gains the allotment of the user's latest unit in the
-- period and the newest time of an event naming the user (last activity); usage_apps holds per (period, app) the
-- units, minutes and newest event time; usage_user_apps is the set of (period, user, app) with units, so a user's app
-- count and an app's user count are index counts. Append files an event's last activity under the period its time
-- falls in on the tenant's calendar (LedgerEntry.Period), so a user or app with only events but no units or
-- denials gets a row with zero figures, which the pages leave out. Rows from before v8: events with decisions
-- take their period from them; an event without decisions (a reload nobody was connected to) has no recorded
-- period and is left out of last activity.
ALTER TABLE usage_users ADD COLUMN allotment TEXT NULL;
ALTER TABLE usage_users ADD COLUMN last_ticks BIGINT NULL;
UPDATE usage_users SET allotment = latest.allotment FROM (
    SELECT u.tenant, u.period, u.user_name, u.allotment FROM units u JOIN (
        SELECT MAX(id) AS id FROM units GROUP BY tenant, period, user_name) m ON m.id = u.id) latest
WHERE usage_users.tenant = latest.tenant AND usage_users.period = latest.period AND usage_users.user_name = latest.user_name;
CREATE TABLE usage_apps (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    app TEXT NOT NULL,
    units BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    last_ticks BIGINT NULL,
    PRIMARY KEY (tenant, period, app));
INSERT INTO usage_apps (tenant, period, app, units, minutes)
SELECT tenant, period, app, COUNT(*), SUM(minutes) FROM units GROUP BY tenant, period, app;
CREATE TABLE usage_user_apps (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    user_name TEXT NOT NULL,
    app TEXT NOT NULL,
    PRIMARY KEY (tenant, period, user_name, app));
-- By app: an app's users are one index range. Append only writes here for a pair new to the period.
CREATE INDEX usage_user_apps_by_app ON usage_user_apps (tenant, period, app, user_name);
INSERT INTO usage_user_apps (tenant, period, user_name, app)
SELECT DISTINCT tenant, period, user_name, app FROM units;
CREATE TEMPORARY TABLE event_periods AS
SELECT e.tenant, d.period, e.user_name, e.app, e.time_ticks FROM events e JOIN (SELECT DISTINCT event_seq, period FROM decisions) d ON d.event_seq = e.seq;
INSERT INTO usage_users (tenant, period, user_name, units, minutes, denied, last_ticks)
SELECT tenant, period, user_name, 0, 0, 0, MAX(time_ticks) FROM event_periods GROUP BY tenant, period, user_name
ON CONFLICT (tenant, period, user_name) DO UPDATE SET last_ticks = excluded.last_ticks;
INSERT INTO usage_apps (tenant, period, app, units, minutes, last_ticks)
SELECT tenant, period, app, 0, 0, MAX(time_ticks) FROM event_periods GROUP BY tenant, period, app
ON CONFLICT (tenant, period, app) DO UPDATE SET last_ticks = excluded.last_ticks;
DROP TABLE event_periods;
