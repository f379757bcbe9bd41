-- v4: rollups the reports read instead of scanning a month of rows; Append keeps them in its transaction, this
-- step fills them from existing rows.
CREATE TABLE usage_users (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    user_name TEXT NOT NULL,
    units BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    denied BIGINT NOT NULL,
    PRIMARY KEY (tenant, period, user_name));
CREATE TABLE usage_periods (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    pool_units BIGINT NOT NULL,
    pool_minutes BIGINT NOT NULL,
    denied BIGINT NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (tenant, period));
CREATE TABLE usage_hours (
    tenant TEXT NOT NULL,
    hour BIGINT NOT NULL,
    pool_minutes BIGINT NOT NULL,
    PRIMARY KEY (tenant, hour));
INSERT INTO usage_users (tenant, period, user_name, units, minutes, denied)
SELECT tenant, period, user_name, SUM(units), SUM(minutes), SUM(denied) FROM (
    SELECT tenant, period, user_name, 1 AS units, minutes, 0 AS denied FROM units
    UNION ALL
    SELECT tenant, period, user_name, 0, 0, 1 FROM decisions WHERE kind = 'denied') x
GROUP BY tenant, period, user_name;
INSERT INTO usage_periods (tenant, period, pool_units, pool_minutes, denied, events)
SELECT tenant, period, SUM(pu), SUM(pm), SUM(d), SUM(e) FROM (
    SELECT tenant, period, 1 AS pu, minutes AS pm, 0 AS d, 0::bigint AS e FROM units WHERE license_usage = 'time'
    UNION ALL
    SELECT tenant, period, 0, 0, 1, 0 FROM decisions WHERE kind = 'denied'
    UNION ALL
    SELECT tenant, period, 0, 0, 0, COUNT(DISTINCT event_seq) FROM decisions GROUP BY tenant, period) x
GROUP BY tenant, period;
INSERT INTO usage_hours (tenant, hour, pool_minutes)
SELECT tenant, start_ticks / 36000000000 * 36000000000, SUM(minutes) FROM units WHERE license_usage = 'time' GROUP BY 1, 2;
