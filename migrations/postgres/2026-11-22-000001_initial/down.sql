DROP TABLE audit_log;
DROP TABLE cluster_revisions;
DROP TABLE assignments;
DROP TABLE clusters;
DROP TABLE artifact_tags;
DROP TABLE catalog_revisions;
DROP TABLE write_lock;
