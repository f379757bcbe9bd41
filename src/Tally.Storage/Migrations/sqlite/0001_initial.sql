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
