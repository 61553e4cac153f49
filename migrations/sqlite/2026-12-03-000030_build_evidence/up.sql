-- What each cluster proved of a build: per (cluster, component, digest), when its current ready
-- period began (our receipt time of the first ready report), when it moved on to another
-- digest, and when it last reported the digest failed. Kept apart from the event history, which
-- is pruned to a few events per cluster, so evidence outlives the events that gave it.
CREATE TABLE build_evidence (
    cluster TEXT NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    component TEXT NOT NULL,
    digest TEXT NOT NULL,
    tag TEXT,
    ready_since TIMESTAMP NOT NULL,
    ready_until TIMESTAMP,
    failed_at TIMESTAMP,
    PRIMARY KEY (cluster, component, digest)
);
CREATE INDEX build_evidence_component ON build_evidence (component, digest);
