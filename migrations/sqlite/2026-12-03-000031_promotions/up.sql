-- Promotions: a set of builds a source runs ready, moved to a target tier as one rollout. The
-- evidence it was taken on (per component: tag, digest, path, and each source cluster's applied
-- revision and since when it was ready) is kept as it was when the promotion was made.
CREATE TABLE promotions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- JSON: {"tier": name} or {"cluster": name}.
    source TEXT NOT NULL,
    target_tier TEXT NOT NULL,
    -- JSON array: each component promoted with its build and evidence.
    components TEXT NOT NULL,
    rollout BIGINT REFERENCES rollouts (id) ON DELETE SET NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    reason TEXT,
    break_glass TEXT
);
