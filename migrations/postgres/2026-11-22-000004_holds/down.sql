ALTER TABLE rollout_steps DROP COLUMN failed;
ALTER TABLE rollout_steps DROP COLUMN skipped;
ALTER TABLE rollouts DROP COLUMN halted_reason;
ALTER TABLE rollouts DROP COLUMN skipped;
DROP TABLE holds;
