-- v15 (scale-out on Orleans): the fence. Each tenant's ledger has one writer at a time; a writer that starts claims the
-- tenant (epoch + 1, its owner name and when) before it replays the ledger, and every commit it makes bumps commits in
-- the same transaction only WHERE epoch is still the one it claimed. A writer that another has claimed the tenant from
-- (a frozen node that wakes up) then commits nothing: its update finds no row and its transaction rolls back.
CREATE TABLE tenant_owners (
    tenant TEXT NOT NULL PRIMARY KEY,
    epoch INTEGER NOT NULL,
    owner TEXT NOT NULL,
    claimed_ticks INTEGER NOT NULL,
    commits INTEGER NOT NULL DEFAULT 0);
