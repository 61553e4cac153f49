-- One row every write updates first: it serialises writers on both backends and counts writes.
CREATE TABLE write_lock (
    id INTEGER PRIMARY KEY,
    generation BIGINT NOT NULL
);
INSERT INTO write_lock (id, generation) VALUES (1, 0);

-- The catalog as immutable revisions: every catalog change (import, component write, release,
-- tier policy) stores the whole validated document, so any past catalog can be shown again.
CREATE TABLE catalog_revisions (
    revision BIGINT PRIMARY KEY,
    document TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Builds of an artifact that CI registered. A tag never changes its digest once known.
CREATE TABLE artifact_tags (
    artifact_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT,
    actor TEXT NOT NULL,
    registered_at TIMESTAMP NOT NULL,
    PRIMARY KEY (artifact_id, tag)
);

CREATE TABLE clusters (
    name TEXT PRIMARY KEY,
    tier TEXT NOT NULL,
    labels TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    flux_namespace TEXT NOT NULL,
    oci_tag TEXT,
    revision BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE assignments (
    cluster TEXT NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    component TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    oci_tag TEXT,
    component_path TEXT,
    reason TEXT,
    author TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    PRIMARY KEY (cluster, component)
);
CREATE INDEX assignments_component ON assignments (component);

-- A cluster's desired state, one immutable row per revision: the effective config it resolved to.
CREATE TABLE cluster_revisions (
    cluster TEXT NOT NULL,
    revision BIGINT NOT NULL,
    effective TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    catalog_revision BIGINT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (cluster, revision)
);

-- Append-only: nothing updates or deletes these rows.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    request_id TEXT NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target);
CREATE INDEX audit_log_actor ON audit_log (actor);
CREATE INDEX audit_log_at ON audit_log (at);
