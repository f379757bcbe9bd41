-- v2: license and plan changes at their position in the event stream, so a rebuild re-applies them in place.
CREATE TABLE terms_changes (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    after_events BIGINT NOT NULL,
    license_key TEXT NULL,
    plan TEXT NULL,
    at_ticks BIGINT NOT NULL);
CREATE INDEX terms_changes_tenant ON terms_changes (tenant, id);
