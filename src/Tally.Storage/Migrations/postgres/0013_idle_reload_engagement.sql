-- v13 (R14): the engagement a scheduled reload's unit is judged by, so the waste report (IUsageReports.ReloadWasteAsync)
-- reads it from the unit row. engaged_ticks is NULL for a unit no scheduled reload started; for one it started, the
-- latest engagement of the unit's user on the unit's meter key at or before the reload (Meter.LastEngagementTicks, 0:
-- none). Whether a unit is idle depends on the quiet time a report asks for, so the instant is kept, not a flag.
ALTER TABLE units ADD COLUMN engaged_ticks BIGINT NULL;
-- The report reads only reload-started units: a partial index keeps them apart from the period's other units, and holds
-- every column the report reads, so it never visits the table (about 100,000 reload units a month on a big tenant).
CREATE INDEX units_tenant_period_reload ON units (tenant, period, start_ticks, engaged_ticks, minutes, user_name, app) WHERE engaged_ticks IS NOT NULL;
-- Backfill of the units a scheduled reload started before v13 (the unit's event is the 'scheduled-reload'). The script
-- cannot know which counting mode the tenant used, so it does not know the unit's meter key: it takes the latest
-- engaging event (R4) of the same user at or before the unit's start on the same device (device mode's key) or on the
-- same app (app mode's key), whichever is later. A later engagement only ever makes a unit look less idle, so an
-- old unit is never reported as waste it was not. One sorted pass per key kind over the engaging events and the
-- reload units together, a running maximum carrying each engagement forward to the units after it (an engagement at
-- the unit's start instant sorts first): no correlated look-up per unit into ledgers of millions of events.
WITH marks AS (
    SELECT tenant, user_name, device, app, time_ticks AS at, 0 AS is_unit, CAST(NULL AS BIGINT) AS unit_id FROM events
    WHERE action IN ('open-app', 'select', 'navigate', 'reload', 'insight', 'profile', 'create-bookmark', 'create-story', 'create-snapshot')
    UNION ALL
    SELECT u.tenant, u.user_name, u.device, u.app, u.start_ticks, 1, u.id FROM units u
    JOIN events e ON e.seq = u.event_seq WHERE e.action = 'scheduled-reload'),
latest AS (
    SELECT unit_id,
        MAX(CASE WHEN is_unit = 0 THEN at END) OVER (PARTITION BY tenant, user_name, device ORDER BY at, is_unit ROWS UNBOUNDED PRECEDING) AS on_device,
        MAX(CASE WHEN is_unit = 0 THEN at END) OVER (PARTITION BY tenant, user_name, app ORDER BY at, is_unit ROWS UNBOUNDED PRECEDING) AS on_app
    FROM marks)
UPDATE units SET engaged_ticks = GREATEST(COALESCE(latest.on_device, 0), COALESCE(latest.on_app, 0))
FROM latest WHERE latest.unit_id = units.id;
