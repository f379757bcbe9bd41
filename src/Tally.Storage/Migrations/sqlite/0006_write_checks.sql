-- v6: the one-row table the readiness check (CheckWritable) increments, so its commit always changes bytes.
CREATE TABLE write_checks (id INTEGER PRIMARY KEY, checks BIGINT NOT NULL);
INSERT INTO write_checks (id, checks) VALUES (1, 0);
