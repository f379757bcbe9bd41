-- v3: time-range indexes for the monitoring reports, and alerting (rules, channels, fired marks, history).
-- alert_fired's primary key is the fire-once guarantee: a mark is inserted before anything is sent.
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
