-- "user" is reserved in PostgreSQL, hence user_name. Ticks are UTC ticks as on SQLite.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ticks BIGINT NOT NULL);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    hash BYTEA NOT NULL UNIQUE,
    tenant TEXT NULL REFERENCES tenants(id),
    role TEXT NOT NULL,
    created_ticks BIGINT NOT NULL,
    revoked_ticks BIGINT NULL);
CREATE TABLE licenses (
    tenant TEXT PRIMARY KEY REFERENCES tenants(id),
    key TEXT NOT NULL,
    installed_ticks BIGINT NOT NULL);
CREATE TABLE allocation_plans (
    tenant TEXT PRIMARY KEY REFERENCES tenants(id),
    plan TEXT NOT NULL,
    updated_ticks BIGINT NOT NULL);
CREATE SEQUENCE events_seq;
CREATE TABLE events (
    seq BIGINT PRIMARY KEY DEFAULT nextval('events_seq'),
    tenant TEXT NOT NULL REFERENCES tenants(id),
    event_id TEXT NULL,
    time_ticks BIGINT NOT NULL,
    client_time TEXT NULL,
    user_name TEXT NOT NULL,
    device TEXT NOT NULL,
    app TEXT NOT NULL,
    action TEXT NOT NULL,
    CONSTRAINT events_tenant_event_id UNIQUE (tenant, event_id));
ALTER SEQUENCE events_seq OWNED BY events.seq;
CREATE INDEX events_tenant_seq ON events (tenant, seq);
CREATE TABLE decisions (
    event_seq BIGINT NOT NULL REFERENCES events(seq),
    idx INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NULL,
    user_name TEXT NOT NULL,
    app TEXT NOT NULL,
    period TEXT NOT NULL,
    unit_start_ticks BIGINT NOT NULL,
    unit_end_ticks BIGINT NOT NULL,
    retry_after_ticks BIGINT NOT NULL,
    minutes INTEGER NOT NULL,
    PRIMARY KEY (event_seq, idx));
CREATE INDEX decisions_tenant_period ON decisions (tenant, period, kind);
CREATE TABLE units (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    event_seq BIGINT NOT NULL REFERENCES events(seq),
    user_name TEXT NOT NULL,
    device TEXT NOT NULL,
    app TEXT NOT NULL,
    period TEXT NOT NULL,
    start_ticks BIGINT NOT NULL,
    end_ticks BIGINT NOT NULL,
    minutes INTEGER NOT NULL,
    license_usage TEXT NOT NULL,
    allotment TEXT NOT NULL);
CREATE INDEX units_tenant_period ON units (tenant, period);
CREATE INDEX units_tenant_id ON units (tenant, id);
