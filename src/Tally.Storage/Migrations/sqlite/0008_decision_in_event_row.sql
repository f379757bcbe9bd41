-- v8: an ordinary event's decision is kept in its own event row. Nearly every event has exactly one decision, for its
-- own user and app, not denied (charged, covered or free); a separate decisions row for it cost a second row, its
-- primary key, its (tenant, period, kind) index entry and a foreign-key probe per event, half of the ledger's write
-- work. The decisions table now holds only the rest: denials, and every decision of an event that has several (a
-- scheduled reload) or one for another user or app. Nothing reads a non-denied decision row, and a denial is always
-- in the decisions table, so the report queries are unchanged. Existing ordinary decisions move into their rows.
ALTER TABLE events ADD COLUMN decision_kind TEXT NULL;
ALTER TABLE events ADD COLUMN decision_period TEXT NULL;
ALTER TABLE events ADD COLUMN unit_start_ticks INTEGER NULL;
ALTER TABLE events ADD COLUMN unit_end_ticks INTEGER NULL;
ALTER TABLE events ADD COLUMN decision_minutes INTEGER NULL;
UPDATE events SET decision_kind = d.kind, decision_period = d.period, unit_start_ticks = d.unit_start_ticks,
    unit_end_ticks = d.unit_end_ticks, decision_minutes = d.minutes
FROM decisions d
WHERE d.event_seq = events.seq AND d.idx = 0 AND d.kind <> 'denied' AND d.reason IS NULL AND d.retry_after_ticks = 0
    AND d.user_name = events.user_name AND d.app = events.app
    AND NOT EXISTS (SELECT 1 FROM decisions other WHERE other.event_seq = events.seq AND other.idx <> 0);
DELETE FROM decisions WHERE idx = 0 AND EXISTS (SELECT 1 FROM events e WHERE e.seq = decisions.event_seq AND e.decision_kind IS NOT NULL);
