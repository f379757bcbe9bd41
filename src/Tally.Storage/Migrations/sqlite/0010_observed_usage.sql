-- v10: observed usage (rule R13), imported from another license service, and the sources it comes from.
-- An observed record is appended like an event, so every report reads it where it reads Tally's own usage: an events
-- row (action 'observed', at the record's end time, the session as its device, an 'observed' decision in the row for
-- the period of its end time) and one units row per unit the source drew (at least one, so a seat holder's record
-- counts as a unit of 0 minutes, as Tally's own do), which carries the source's session in units.session (NULL for
-- Tally's own units, whose session is their user and device). observed_records keeps the record exactly as the source reported
-- it, and its key is what makes an import exactly-once: a record is appended once per (source, record id), whatever
-- the network repeats.
ALTER TABLE units ADD COLUMN session TEXT NULL;
CREATE TABLE observed_records (
    tenant TEXT NOT NULL,
    source TEXT NOT NULL,
    record_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    app TEXT NOT NULL,
    session TEXT NOT NULL,
    end_ticks INTEGER NOT NULL,
    duration_ticks INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    units INTEGER NOT NULL,
    license_usage TEXT NOT NULL,
    allotment TEXT NULL,
    PRIMARY KEY (tenant, source, record_id));
-- A source per tenant: where to pull from, its settings (JSON, nothing secret) and its secret (an API key or a
-- certificate password, encrypted by the server before it is stored), how often, how far it has read (the newest end
-- or change time seen) and its status.
CREATE TABLE import_sources (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    settings TEXT NOT NULL,
    secret BLOB NULL,
    interval_seconds INTEGER NOT NULL,
    created_ticks INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    watermark_ticks INTEGER NOT NULL,
    last_attempt_ticks INTEGER NULL,
    last_success_ticks INTEGER NULL,
    failure TEXT NULL,
    last_error TEXT NULL,
    records INTEGER NOT NULL,
    repeats INTEGER NOT NULL,
    conflicts INTEGER NOT NULL,
    license TEXT NULL,
    PRIMARY KEY (tenant, id));
