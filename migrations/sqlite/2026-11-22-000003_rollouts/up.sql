-- Rollouts: a tag (and paths) moved across the fleet in waves of steps. The plan is fixed at
-- creation: every step's clusters, with from/to per component, are stored in rollout_steps.
CREATE TABLE rollouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    artifact TEXT NOT NULL,
    component TEXT,
    oci_tag TEXT NOT NULL,
    -- JSON object: each component the rollout moves -> its new path, or null to keep it.
    component_paths TEXT NOT NULL,
    -- JSON array: the waves as planned (selectors, batch size, soak, approval).
    waves TEXT NOT NULL,
    state TEXT NOT NULL,
    -- How many steps have been applied.
    current_step BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    reason TEXT
);
CREATE INDEX rollouts_state ON rollouts (state);

CREATE TABLE rollout_steps (
    rollout BIGINT NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    step_index BIGINT NOT NULL,
    wave BIGINT NOT NULL,
    -- JSON array: each cluster of the step with from/to per component.
    clusters TEXT NOT NULL,
    applied_at TIMESTAMP,
    PRIMARY KEY (rollout, step_index)
);

-- What applied steps set, read by resolution (provenance "rollout <id>"). The key makes "at most
-- one active rollout per component per cluster" a constraint; deleting a rollout's pins returns
-- its clusters to what they ran before it.
CREATE TABLE rollout_pins (
    rollout BIGINT NOT NULL REFERENCES rollouts (id),
    cluster TEXT NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    component TEXT NOT NULL,
    oci_tag TEXT,
    component_path TEXT,
    PRIMARY KEY (cluster, component)
);
CREATE INDEX rollout_pins_rollout ON rollout_pins (rollout);
