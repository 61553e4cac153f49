-- What the registry holds: when a sync first saw each tag, tags whose digest moved in the
-- registry after the catalog pinned them, the last sync of each artifact, and the outbox of
-- cluster revisions to publish as Flux artifacts.
ALTER TABLE artifact_tags ADD COLUMN first_seen_at TIMESTAMP;

CREATE TABLE artifact_tag_moves (
    id BIGSERIAL PRIMARY KEY,
    artifact_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    pinned_digest TEXT NOT NULL,
    registry_digest TEXT NOT NULL,
    detected_at TIMESTAMP NOT NULL,
    UNIQUE (artifact_id, tag, registry_digest)
);

CREATE TABLE artifact_syncs (
    artifact_id TEXT PRIMARY KEY,
    last_attempt_at TIMESTAMP NOT NULL,
    last_success_at TIMESTAMP,
    last_error TEXT,
    registry_tags BIGINT NOT NULL,
    new_tags BIGINT NOT NULL,
    moved_tags BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL
);

CREATE TABLE publish_jobs (
    id BIGSERIAL PRIMARY KEY,
    cluster TEXT NOT NULL,
    revision BIGINT NOT NULL,
    target TEXT NOT NULL,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    next_attempt_at TIMESTAMP NOT NULL,
    digest TEXT,
    created_at TIMESTAMP NOT NULL,
    done_at TIMESTAMP,
    UNIQUE (cluster, revision, target)
);
CREATE INDEX publish_jobs_due ON publish_jobs (state, next_attempt_at);
