-- Who approved a rollout's wave into a tier whose policy asks for approvals, and when. One row
-- per approver: the key makes "N distinct approvers" a count.
CREATE TABLE rollout_approvals (
    rollout BIGINT NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    wave BIGINT NOT NULL,
    actor TEXT NOT NULL,
    approved_at TIMESTAMP NOT NULL,
    PRIMARY KEY (rollout, wave, actor)
);
