-- Which clusters each audit entry changed what they run (or was about): `GET /api/v1/audit?cluster=`
-- finds a cluster's own changes, its assignments, hotfixes, releases and rollout steps that
-- reached it with one indexed query.
CREATE TABLE audit_clusters (
    audit_id BIGINT NOT NULL REFERENCES audit_log (id) ON DELETE CASCADE,
    cluster TEXT NOT NULL,
    PRIMARY KEY (audit_id, cluster)
);
CREATE INDEX audit_clusters_cluster ON audit_clusters (cluster, audit_id);
-- Entries written before this table know only their target.
INSERT INTO audit_clusters (audit_id, cluster)
SELECT id, substr(target, 9, instr(substr(target, 9) || '/', '/') - 1)
FROM audit_log
WHERE target LIKE 'cluster/%';
