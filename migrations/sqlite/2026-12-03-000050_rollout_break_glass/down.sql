ALTER TABLE rollouts DROP COLUMN break_glass;
