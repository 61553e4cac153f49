DROP TABLE rollout_approvals;
