-- v9: the users and apps pages read rollups instead of a month of rows, and nothing new is indexed on events (an
-- index there costs every event of every batch). usage_users gains the allotment of the user's latest unit in the
-- period, the newest time of an event naming the user (last activity) and the count of apps the user has units on;
-- usage_apps holds per (period, app) the units, minutes, newest event time and count of users with units on it.
-- usage_user_apps is the set of (period, user, app) with units: Append inserts a batch's pairs and skips those
-- already there, and the trigger below counts each new one into its user's and app's row, which Append has upserted
-- just before in the same transaction. So the counts are exact and cost a write only for a pair new to the period.
-- An event's last activity is filed under the period its time falls in on the tenant's calendar
-- (LedgerEntry.Period), so a user or app with events but no units or denials gets a row of zeros, which the pages
-- leave out. Rows from before v9: an event with decisions takes its period from them (its
-- own row's decision_period since v8, or its decisions rows); one without decisions (a reload
-- nobody was connected to) has no recorded period and is left out of last activity.
ALTER TABLE usage_users ADD COLUMN allotment TEXT NULL;
ALTER TABLE usage_users ADD COLUMN last_ticks INTEGER NULL;
ALTER TABLE usage_users ADD COLUMN apps INTEGER NOT NULL DEFAULT 0;
UPDATE usage_users SET allotment = latest.allotment FROM (
    SELECT u.tenant, u.period, u.user_name, u.allotment FROM units u JOIN (
        SELECT MAX(id) AS id FROM units GROUP BY tenant, period, user_name) m ON m.id = u.id) latest
WHERE usage_users.tenant = latest.tenant AND usage_users.period = latest.period AND usage_users.user_name = latest.user_name;
CREATE TABLE usage_apps (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    app TEXT NOT NULL,
    units INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    users INTEGER NOT NULL DEFAULT 0,
    last_ticks INTEGER NULL,
    PRIMARY KEY (tenant, period, app)) WITHOUT ROWID;
INSERT INTO usage_apps (tenant, period, app, units, minutes, users)
SELECT tenant, period, app, COUNT(*), SUM(minutes), COUNT(DISTINCT user_name) FROM units GROUP BY tenant, period, app;
CREATE TABLE usage_user_apps (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    user_name TEXT NOT NULL,
    app TEXT NOT NULL,
    PRIMARY KEY (tenant, period, user_name, app)) WITHOUT ROWID;
INSERT INTO usage_user_apps (tenant, period, user_name, app)
SELECT DISTINCT tenant, period, user_name, app FROM units;
UPDATE usage_users SET apps = counted.apps FROM (
    SELECT tenant, period, user_name, COUNT(*) AS apps FROM usage_user_apps GROUP BY tenant, period, user_name) counted
WHERE usage_users.tenant = counted.tenant AND usage_users.period = counted.period AND usage_users.user_name = counted.user_name;
CREATE TEMPORARY TABLE event_periods AS
SELECT e.tenant, d.period, e.user_name, e.app, e.time_ticks FROM events e JOIN (
    SELECT event_seq, period FROM decisions UNION SELECT seq, decision_period FROM events WHERE decision_period IS NOT NULL) d ON d.event_seq = e.seq;
INSERT INTO usage_users (tenant, period, user_name, units, minutes, denied, last_ticks)
SELECT tenant, period, user_name, 0, 0, 0, MAX(time_ticks) FROM event_periods GROUP BY tenant, period, user_name
ON CONFLICT (tenant, period, user_name) DO UPDATE SET last_ticks = excluded.last_ticks;
INSERT INTO usage_apps (tenant, period, app, units, minutes, last_ticks)
SELECT tenant, period, app, 0, 0, MAX(time_ticks) FROM event_periods GROUP BY tenant, period, app
ON CONFLICT (tenant, period, app) DO UPDATE SET last_ticks = excluded.last_ticks;
DROP TABLE event_periods;
-- The writer keeps the last activity of its newest events in memory and records it with a later append (a few
-- seconds later), so it is not one more row written per user per batch; activity_recorded says up to which event it is
-- recorded, and a writer that crashed in between takes the marks of the events after it again from the ledger.
CREATE TABLE activity_recorded (
    tenant TEXT NOT NULL PRIMARY KEY,
    through_seq INTEGER NOT NULL);
INSERT INTO activity_recorded (tenant, through_seq) SELECT tenant, MAX(seq) FROM events GROUP BY tenant;
CREATE TRIGGER usage_user_apps_count AFTER INSERT ON usage_user_apps BEGIN
    UPDATE usage_users SET apps = apps + 1 WHERE tenant = NEW.tenant AND period = NEW.period AND user_name = NEW.user_name;
    UPDATE usage_apps SET users = users + 1 WHERE tenant = NEW.tenant AND period = NEW.period AND app = NEW.app;
END;
