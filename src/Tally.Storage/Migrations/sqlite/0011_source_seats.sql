-- v11: what the last pull of a source set aside, and the seats a source has assigned (who holds a Professional or Analyzer seat there), as its last successful pull
-- read them: a JSON array of {user, type, since}. A snapshot replaced whole at each pull and read whole (the Qlik-shaped
-- assignments of an observing tenant, the seat advisor), so one column beside the source's license rather than a
-- table; the scheduler's listing of sources does not read it.
ALTER TABLE import_sources ADD COLUMN seats TEXT NULL;
-- The records the last pull set aside as unusable (an empty id, a negative length...) and why the first of them was:
-- the pull goes on past them, so one bad record does not hold back every record after it.
ALTER TABLE import_sources ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;
ALTER TABLE import_sources ADD COLUMN rejection TEXT NULL;
