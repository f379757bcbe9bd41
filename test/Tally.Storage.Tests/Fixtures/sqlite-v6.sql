-- A sqlite ledger as Tally wrote it before the storage layer's rewrite: the schema (v6) is the SQL of SqliteLedgerStore.cs's
-- SchemaV1..V4, UnitOrder.SchemaV5 and WriteCheck.SchemaV6 at commit 7f262de, in order, each with its schema_version
-- row; the rows after it are one per table. Never edit: it is the old shape that upgrades start from.
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL);
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ticks INTEGER NOT NULL);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    tenant TEXT NULL REFERENCES tenants(id),
    role TEXT NOT NULL,
    created_ticks INTEGER NOT NULL,
    revoked_ticks INTEGER NULL);
CREATE TABLE licenses (
    tenant TEXT PRIMARY KEY REFERENCES tenants(id),
    key TEXT NOT NULL,
    installed_ticks INTEGER NOT NULL);
CREATE TABLE allocation_plans (
    tenant TEXT PRIMARY KEY REFERENCES tenants(id),
    plan TEXT NOT NULL,
    updated_ticks INTEGER NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    event_id TEXT NULL,
    time_ticks INTEGER NOT NULL,
    client_time TEXT NULL,
    user TEXT NOT NULL,
    device TEXT NOT NULL,
    app TEXT NOT NULL,
    action TEXT NOT NULL,
    UNIQUE (tenant, event_id));
CREATE INDEX events_tenant_seq ON events (tenant, seq);
CREATE TABLE decisions (
    event_seq INTEGER NOT NULL REFERENCES events(seq),
    idx INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NULL,
    user TEXT NOT NULL,
    app TEXT NOT NULL,
    period TEXT NOT NULL,
    unit_start_ticks INTEGER NOT NULL,
    unit_end_ticks INTEGER NOT NULL,
    retry_after_ticks INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    PRIMARY KEY (event_seq, idx));
CREATE INDEX decisions_tenant_period ON decisions (tenant, period, kind);
CREATE TABLE units (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events(seq),
    user TEXT NOT NULL,
    device TEXT NOT NULL,
    app TEXT NOT NULL,
    period TEXT NOT NULL,
    start_ticks INTEGER NOT NULL,
    end_ticks INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    license_usage TEXT NOT NULL,
    allotment TEXT NOT NULL);
CREATE INDEX units_tenant_period ON units (tenant, period);
CREATE INDEX units_tenant_id ON units (tenant, id);
INSERT INTO schema_version (version, applied) VALUES (1, 'v1');
CREATE TABLE terms_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    after_events INTEGER NOT NULL,
    license_key TEXT NULL,
    plan TEXT NULL,
    at_ticks INTEGER NOT NULL);
CREATE INDEX terms_changes_tenant ON terms_changes (tenant, id);
INSERT INTO schema_version (version, applied) VALUES (2, 'v2: terms changes');
CREATE INDEX units_tenant_start ON units (tenant, start_ticks);
CREATE INDEX events_tenant_time ON events (tenant, time_ticks);
CREATE TABLE alert_channels (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    target TEXT NOT NULL,
    secret TEXT NULL,
    created_ticks INTEGER NOT NULL);
CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL NULL,
    channel_ids TEXT NOT NULL,
    created_ticks INTEGER NOT NULL);
CREATE TABLE alert_fired (
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    period TEXT NOT NULL,
    subject TEXT NOT NULL,
    fired_ticks INTEGER NOT NULL,
    PRIMARY KEY (tenant, rule_id, period, subject));
CREATE TABLE alert_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    rule_kind TEXT NOT NULL,
    period TEXT NOT NULL,
    subject TEXT NOT NULL,
    fired_ticks INTEGER NOT NULL,
    channel_id TEXT NULL,
    channel_kind TEXT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    detail TEXT NULL);
CREATE INDEX alert_history_tenant ON alert_history (tenant, id);
INSERT INTO schema_version (version, applied) VALUES (3, 'v3: monitoring and alerts');
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
INSERT INTO schema_version (version, applied) VALUES (4, 'v4: report rollups');
CREATE INDEX units_tenant_end ON units (tenant, end_ticks, id);
INSERT INTO schema_version (version, applied) VALUES (5, 'v5: units by end time');
CREATE TABLE write_checks (id INTEGER PRIMARY KEY, checks BIGINT NOT NULL);
INSERT INTO write_checks (id, checks) VALUES (1, 0);
INSERT INTO schema_version (version, applied) VALUES (6, 'v6: write checks');

-- Rows as the old code wrote them: one in every table, the rollups consistent with the raw rows.
INSERT INTO tenants (id, name, created_ticks) VALUES ('acme', 'Acme Corp', 639079488000000000);
INSERT INTO api_keys (id, hash, tenant, role, created_ticks, revoked_ticks) VALUES ('k1', X'0102', 'acme', 'ingest', 639079488000000000, NULL);
INSERT INTO api_keys (id, hash, tenant, role, created_ticks, revoked_ticks) VALUES ('boot', X'0304', NULL, 'bootstrap', 639079488000000000, 639079524000000000);
INSERT INTO licenses (tenant, key, installed_ticks) VALUES ('acme', 'LICENSE-KEY', 639079488000000000);
INSERT INTO allocation_plans (tenant, plan, updated_ticks) VALUES ('acme', '{"users":[]}', 639079488000000000);
INSERT INTO terms_changes (tenant, after_events, license_key, plan, at_ticks) VALUES ('acme', 0, 'LICENSE-KEY', '{"users":[]}', 639079488000000000);
INSERT INTO events (tenant, event_id, time_ticks, client_time, user, device, app, action) VALUES ('acme', 'e1', 639079524000000000, '2026-03-01T09:00:00Z', 'ann', 'laptop', 'sales', 'open-app');
INSERT INTO events (tenant, event_id, time_ticks, client_time, user, device, app, action) VALUES ('acme', 'e2', 639079560000000000, NULL, 'bob', '', 'sales', 'open-app');
INSERT INTO events (tenant, event_id, time_ticks, client_time, user, device, app, action) VALUES ('acme', NULL, 639079596000000000, NULL, 'bob', '', 'hr', 'open-app');
INSERT INTO decisions (event_seq, idx, tenant, kind, reason, user, app, period, unit_start_ticks, unit_end_ticks, retry_after_ticks, minutes) VALUES (1, 0, 'acme', 'charged', NULL, 'ann', 'sales', '2026-03', 639079524000000000, 639079527600000000, 0, 6);
INSERT INTO decisions (event_seq, idx, tenant, kind, reason, user, app, period, unit_start_ticks, unit_end_ticks, retry_after_ticks, minutes) VALUES (2, 0, 'acme', 'charged', NULL, 'bob', 'sales', '2026-03', 639079560000000000, 639079563600000000, 0, 6);
INSERT INTO decisions (event_seq, idx, tenant, kind, reason, user, app, period, unit_start_ticks, unit_end_ticks, retry_after_ticks, minutes) VALUES (3, 0, 'acme', 'denied', 'pool-exhausted', 'bob', 'hr', '2026-03', 0, 0, 0, 0);
INSERT INTO units (tenant, event_seq, user, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment) VALUES ('acme', 1, 'ann', 'laptop', 'sales', '2026-03', 639079524000000000, 639079527600000000, 6, 'time', 'analyzer_time');
INSERT INTO units (tenant, event_seq, user, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment) VALUES ('acme', 2, 'bob', '', 'sales', '2026-03', 639079560000000000, 639079563600000000, 6, 'time', 'analyzer_time');
INSERT INTO usage_users (tenant, period, user, units, minutes, denied) VALUES ('acme', '2026-03', 'ann', 1, 6, 0);
INSERT INTO usage_users (tenant, period, user, units, minutes, denied) VALUES ('acme', '2026-03', 'bob', 1, 6, 1);
INSERT INTO usage_periods (tenant, period, pool_units, pool_minutes, denied, events) VALUES ('acme', '2026-03', 2, 12, 1, 3);
INSERT INTO usage_hours (tenant, hour, pool_minutes) VALUES ('acme', 639079524000000000, 6);
INSERT INTO usage_hours (tenant, hour, pool_minutes) VALUES ('acme', 639079560000000000, 6);
INSERT INTO alert_channels (id, tenant, kind, name, target, secret, created_ticks) VALUES ('ch1', 'acme', 'webhook', 'ops', 'https://example.test/hook', 's3cret', 639079524000000000);
INSERT INTO alert_rules (id, tenant, name, kind, value, channel_ids, created_ticks) VALUES ('r1', 'acme', 'half', 'threshold-percent', 50.5, 'ch1', 639079524000000000);
INSERT INTO alert_fired (tenant, rule_id, period, subject, fired_ticks) VALUES ('acme', 'r1', '2026-03', '', 639079560000000000);
INSERT INTO alert_history (tenant, rule_id, rule_kind, period, subject, fired_ticks, channel_id, channel_kind, status, message, detail) VALUES ('acme', 'r1', 'threshold-percent', '2026-03', '', 639079560000000000, 'ch1', 'webhook', 'sent', '50 % used', NULL);
UPDATE write_checks SET checks = 5;
