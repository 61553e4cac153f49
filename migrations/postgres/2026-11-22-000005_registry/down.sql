DROP TABLE publish_jobs;
DROP TABLE artifact_syncs;
DROP TABLE artifact_tag_moves;
ALTER TABLE artifact_tags DROP COLUMN first_seen_at;
