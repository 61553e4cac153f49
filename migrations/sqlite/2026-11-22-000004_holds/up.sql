-- Holds: a cluster, a component, or one component on one cluster that no rollout, release or
-- hotfix may move until the hold ends (deleted, or past expires_at).
CREATE TABLE holds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT,
    component TEXT,
    reason TEXT NOT NULL,
    expires_at TIMESTAMP,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- JSON arrays of {cluster, component, reason, detail}: what planning left out of the rollout.
ALTER TABLE rollouts ADD COLUMN skipped TEXT NOT NULL DEFAULT '[]';
-- Why the runner stopped the rollout (state halted).
ALTER TABLE rollouts ADD COLUMN halted_reason TEXT;
-- JSON arrays: what a step left out when it applied (held since planning), and the clusters a
-- step gate reported failed after it.
ALTER TABLE rollout_steps ADD COLUMN skipped TEXT NOT NULL DEFAULT '[]';
ALTER TABLE rollout_steps ADD COLUMN failed TEXT NOT NULL DEFAULT '[]';
