-- The break-glass reason a rollout was created with; its later steps apply with it.
ALTER TABLE rollouts ADD COLUMN break_glass TEXT;
