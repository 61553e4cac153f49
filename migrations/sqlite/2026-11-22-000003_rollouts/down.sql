DROP TABLE rollout_pins;
DROP TABLE rollout_steps;
DROP TABLE rollouts;
