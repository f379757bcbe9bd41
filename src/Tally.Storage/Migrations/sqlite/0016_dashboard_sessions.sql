-- v16: dashboard sign-in sessions a cluster's nodes share (tally serve --cluster), so a browser signed in through one
-- node is signed in on every node and a sign-out through any node ends the session everywhere. One row per session:
-- the SHA-256 of the cookie's token (never the token), the API key it stands for, when it began and when it was last
-- used. A single node keeps its sessions in memory and leaves this table empty.
CREATE TABLE dashboard_sessions (
    id TEXT NOT NULL PRIMARY KEY,
    key_id TEXT NOT NULL,
    created_ticks INTEGER NOT NULL,
    last_seen_ticks INTEGER NOT NULL);
CREATE INDEX dashboard_sessions_last_seen ON dashboard_sessions (last_seen_ticks);
