-- v12 (issue 16): each tenant's working calendar for the forecast, and the bound a forecast-run-out rule fires on.
-- holidays: 'auto' (the public holidays of the license zone's country, derived again when the zone changes), 'none',
-- or an ISO 3166-1 alpha-2 code; closed_days: the tenant's own closure days as ISO dates separated by commas (at most
-- WorkCalendar.MaxClosureDays, read whole with the setting, so a column rather than a table). No row: 'auto', none.
CREATE TABLE work_calendars (
    tenant TEXT PRIMARY KEY REFERENCES tenants(id),
    holidays TEXT NOT NULL,
    closed_days TEXT NOT NULL,
    updated_ticks INTEGER NOT NULL);
-- NULL: 'expected' (the point forecast's run-out), as every rule made before v12 fired; 'pessimistic': the 10th
-- percentile run-out (the band's earliest).
ALTER TABLE alert_rules ADD COLUMN bound TEXT NULL;
