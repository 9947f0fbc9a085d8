-- As-run records carry the playout session that wrote them (ASRUN-002): one record per
-- (channel, playlog event, session), so a write retried after a lost connection or a failover
-- never duplicates. Records written before this migration keep a NULL session: NULLs are
-- distinct in a unique index, so they never conflict.
ALTER TABLE as_run ADD COLUMN session_id TEXT;

CREATE UNIQUE INDEX as_run_once ON as_run (channel_id, playlog_id, session_id);
