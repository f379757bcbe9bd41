-- v14 (issue 18): what a client (Tally.Client) decided on its own while Tally was unreachable. The events it buffered
-- reach the ledger through /api/v1/events as any others; a report says which access checks it allowed offline under
-- its grace budget, how many it denied and how many events its full buffer dropped. The client's report id is unique
-- per tenant: a report sent twice is kept once. period: the tenant's month holding the report's from_ticks, fixed when
-- the report is received, so the list of a month never moves when the license's zone changes later.
CREATE TABLE offline_reports (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    client TEXT NOT NULL,
    policy TEXT NOT NULL,
    grace_budget_minutes INTEGER NOT NULL,
    from_ticks INTEGER NOT NULL,
    to_ticks INTEGER NOT NULL,
    received_ticks INTEGER NOT NULL,
    period TEXT NOT NULL,
    grants INTEGER NOT NULL,
    grace_minutes INTEGER NOT NULL,
    denied_checks INTEGER NOT NULL,
    dropped_events INTEGER NOT NULL,
    PRIMARY KEY (tenant, id));
CREATE INDEX offline_reports_tenant_period ON offline_reports (tenant, period, received_ticks);
-- One row per grant, in the report's order (idx). event_id is the id the client buffered the event under: joined to
-- events (tenant, event_id), the server's own decision on it once that event arrived.
CREATE TABLE offline_grants (
    tenant TEXT NOT NULL,
    report_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    device TEXT NULL,
    app TEXT NOT NULL,
    action TEXT NOT NULL,
    time_ticks INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    PRIMARY KEY (tenant, report_id, idx),
    FOREIGN KEY (tenant, report_id) REFERENCES offline_reports (tenant, id));
