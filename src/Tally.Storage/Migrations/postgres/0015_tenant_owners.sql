-- v15 (scale-out on Orleans): the fence. Each tenant's ledger has one writer at a time; a writer that starts claims the
-- tenant (epoch + 1, its owner name and when) before it replays the ledger, and every commit it makes bumps commits in
-- the same transaction only WHERE epoch is still the one it claimed. A writer that another has claimed the tenant from
-- (a frozen node that wakes up) then commits nothing: its update finds no row and its transaction rolls back.
CREATE TABLE tenant_owners (
    tenant TEXT NOT NULL PRIMARY KEY,
    epoch BIGINT NOT NULL,
    owner TEXT NOT NULL,
    claimed_ticks BIGINT NOT NULL,
    commits BIGINT NOT NULL DEFAULT 0);

-- The cluster's membership (tally serve --cluster, issue 19), kept beside the ledger so a cluster needs nothing but
-- PostgreSQL. Orleans' ADO.NET clustering provider reads the statements it runs from orleansquery, by key, and binds
-- its values by name (@DeploymentId, @Address, ...); it reads answers by column name, so the statements alias Tally's
-- columns to the names it expects. One row per cluster (its version, an optimistic lock the provider increments with
-- every change) and one row per node incarnation (address, port and generation).
CREATE TABLE orleans_clusters (
    deployment_id VARCHAR(150) PRIMARY KEY,
    changed       TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    version       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE orleans_nodes (
    deployment_id VARCHAR(150) NOT NULL REFERENCES orleans_clusters (deployment_id),
    address       VARCHAR(45) NOT NULL,
    port          INTEGER NOT NULL,
    generation    INTEGER NOT NULL,
    silo_name     VARCHAR(150) NOT NULL,
    host_name     VARCHAR(150) NOT NULL,
    status        INTEGER NOT NULL,
    proxy_port    INTEGER,
    suspect_times VARCHAR(8000),
    start_time    TIMESTAMPTZ(3) NOT NULL,
    i_am_alive    TIMESTAMPTZ(3) NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

CREATE TABLE orleansquery (
    querykey  VARCHAR(64) PRIMARY KEY,
    querytext VARCHAR(8000) NOT NULL
);

-- Statements that report success answer one row with one integer: how many rows the change touched (0: refused, as
-- when another node changed the cluster's version first). Each is one statement, so it is all or nothing.
INSERT INTO orleansquery (querykey, querytext) VALUES
('InsertMembershipVersionKey', '
WITH added AS (
    INSERT INTO orleans_clusters (deployment_id) VALUES (@DeploymentId)
    ON CONFLICT (deployment_id) DO NOTHING RETURNING 1)
SELECT CAST(COUNT(*) AS INTEGER) FROM added;'),

-- A node joins only at the version it read: the version row is locked first (a concurrent change makes the lock find
-- no row at that version), the node is added, and the version moves on only if it was.
('InsertMembershipKey', '
WITH current_version AS (
    SELECT deployment_id FROM orleans_clusters WHERE deployment_id = @DeploymentId AND version = @Version FOR UPDATE),
added AS (
    INSERT INTO orleans_nodes (deployment_id, address, port, generation, silo_name, host_name, status, proxy_port, start_time, i_am_alive)
    SELECT deployment_id, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime FROM current_version
    ON CONFLICT (deployment_id, address, port, generation) DO NOTHING RETURNING deployment_id),
moved AS (
    UPDATE orleans_clusters SET version = version + 1, changed = now()
    WHERE deployment_id IN (SELECT deployment_id FROM added) RETURNING 1)
SELECT CAST(COUNT(*) AS INTEGER) FROM moved;'),

-- A node's status and suspicions change at the version read, likewise.
('UpdateMembershipKey', '
WITH current_version AS (
    SELECT deployment_id FROM orleans_clusters WHERE deployment_id = @DeploymentId AND version = @Version FOR UPDATE),
changed AS (
    UPDATE orleans_nodes SET status = @Status, suspect_times = @SuspectTimes, i_am_alive = @IAmAliveTime
    WHERE deployment_id IN (SELECT deployment_id FROM current_version) AND address = @Address AND port = @Port AND generation = @Generation
    RETURNING deployment_id),
moved AS (
    UPDATE orleans_clusters SET version = version + 1, changed = now()
    WHERE deployment_id IN (SELECT deployment_id FROM changed) RETURNING 1)
SELECT CAST(COUNT(*) AS INTEGER) FROM moved;'),

-- The heartbeat: no version change, as the provider expects.
('UpdateIAmAlivetimeKey', '
UPDATE orleans_nodes SET i_am_alive = @IAmAliveTime
WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation;'),

-- The cluster's row comes back even with no node (the outer join): the provider needs its version to join.
('MembershipReadRowKey', '
SELECT c.deployment_id AS DeploymentId, n.address AS Address, n.port AS Port, n.generation AS Generation, n.silo_name AS SiloName,
    n.host_name AS HostName, n.status AS Status, n.proxy_port AS ProxyPort, n.suspect_times AS SuspectTimes, n.start_time AS StartTime,
    n.i_am_alive AS IAmAliveTime, c.version AS Version
FROM orleans_clusters c
LEFT JOIN orleans_nodes n ON n.deployment_id = c.deployment_id AND n.address = @Address AND n.port = @Port AND n.generation = @Generation
WHERE c.deployment_id = @DeploymentId;'),

('MembershipReadAllKey', '
SELECT c.deployment_id AS DeploymentId, n.address AS Address, n.port AS Port, n.generation AS Generation, n.silo_name AS SiloName,
    n.host_name AS HostName, n.status AS Status, n.proxy_port AS ProxyPort, n.suspect_times AS SuspectTimes, n.start_time AS StartTime,
    n.i_am_alive AS IAmAliveTime, c.version AS Version
FROM orleans_clusters c
LEFT JOIN orleans_nodes n ON n.deployment_id = c.deployment_id
WHERE c.deployment_id = @DeploymentId;'),

('DeleteMembershipTableEntriesKey', '
DELETE FROM orleans_nodes WHERE deployment_id = @DeploymentId;
DELETE FROM orleans_clusters WHERE deployment_id = @DeploymentId;'),

('GatewaysQueryKey', '
SELECT address AS Address, proxy_port AS ProxyPort, generation AS Generation FROM orleans_nodes
WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0;'),

-- Rows of nodes long gone (status 6, dead, or never joined) whose heartbeat stopped before the given time; an active
-- node (status 3) is never removed here.
('CleanupDefunctSiloEntriesKey', '
DELETE FROM orleans_nodes WHERE deployment_id = @DeploymentId AND i_am_alive < @IAmAliveTime AND status <> 3;');
