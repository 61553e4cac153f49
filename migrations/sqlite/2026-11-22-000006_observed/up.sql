-- What Flux on each cluster reports back (notification-controller events): the latest state of
-- every Flux object it told us about, and a bounded history of the events themselves.
CREATE TABLE observed (
    cluster TEXT NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The component this object renders, or NULL for an object we did not render (flagged).
    component TEXT,
    -- ready, failed or progressing.
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    -- The revision of the latest event (what Flux last tried), and of the latest success.
    last_revision TEXT,
    applied_revision TEXT,
    applied_tag TEXT,
    applied_digest TEXT,
    -- The event's own time (the cluster's clock), and when we took it in (ours).
    event_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (cluster, kind, namespace, name)
);
CREATE INDEX observed_received_at ON observed (received_at);

CREATE TABLE flux_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    -- SHA-256 of what makes an event itself: a retried post has the same key and is stored once.
    event_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    component TEXT,
    severity TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    revision TEXT,
    reporting_controller TEXT,
    event_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    UNIQUE (cluster, event_key)
);
CREATE INDEX flux_events_cluster ON flux_events (cluster, id);

-- The key a cluster's notification-controller signs its posts with (generic-hmac). HMAC needs
-- the key itself, so it is stored as issued; it is shown once and never listed.
CREATE TABLE cluster_event_secrets (
    cluster TEXT PRIMARY KEY REFERENCES clusters (name) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
