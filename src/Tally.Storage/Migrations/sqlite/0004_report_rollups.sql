-- v4: rollups the reports read instead of scanning a month of rows (overview, summary, top users stay fast at a
-- million units). Append keeps them in the same transaction as the rows; this step fills them from existing rows.
CREATE TABLE usage_users (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    user TEXT NOT NULL,
    units INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    denied INTEGER NOT NULL,
    PRIMARY KEY (tenant, period, user)) WITHOUT ROWID;
CREATE TABLE usage_periods (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    pool_units INTEGER NOT NULL,
    pool_minutes INTEGER NOT NULL,
    denied INTEGER NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (tenant, period)) WITHOUT ROWID;
CREATE TABLE usage_hours (
    tenant TEXT NOT NULL,
    hour INTEGER NOT NULL,
    pool_minutes INTEGER NOT NULL,
    PRIMARY KEY (tenant, hour)) WITHOUT ROWID;
INSERT INTO usage_users (tenant, period, user, units, minutes, denied)
SELECT tenant, period, user, SUM(units), SUM(minutes), SUM(denied) FROM (
    SELECT tenant, period, user, 1 AS units, minutes, 0 AS denied FROM units
    UNION ALL
    SELECT tenant, period, user, 0, 0, 1 FROM decisions WHERE kind = 'denied')
GROUP BY tenant, period, user;
INSERT INTO usage_periods (tenant, period, pool_units, pool_minutes, denied, events)
SELECT tenant, period, SUM(pu), SUM(pm), SUM(d), SUM(e) FROM (
    SELECT tenant, period, 1 AS pu, minutes AS pm, 0 AS d, 0 AS e FROM units WHERE license_usage = 'time'
    UNION ALL
    SELECT tenant, period, 0, 0, 1, 0 FROM decisions WHERE kind = 'denied'
    UNION ALL
    SELECT tenant, period, 0, 0, 0, COUNT(DISTINCT event_seq) FROM decisions GROUP BY tenant, period)
GROUP BY tenant, period;
INSERT INTO usage_hours (tenant, hour, pool_minutes)
SELECT tenant, start_ticks / 36000000000 * 36000000000, SUM(minutes) FROM units WHERE license_usage = 'time' GROUP BY 1, 2;
