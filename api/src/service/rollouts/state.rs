//! The states a rollout moves through, as one type: what may happen next is decided on it,
//! never on the stored text.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// `planned` → `running` ⇄ `paused`; `running` → `halted` (a step the rules or the gate
/// refused); `planned`/`running` → `awaiting_approval` (the next step reaches a tier that asks
/// for approvals) → back once approved; any active state → `aborted`; the last advance →
/// `completed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RolloutState {
    Planned,
    Running,
    Paused,
    Halted,
    Completed,
    Aborted,
    #[serde(rename = "awaiting_approval")]
    AwaitingApproval,
}

impl RolloutState {
    /// The states in which a rollout still holds what it moves.
    pub const ACTIVE: [RolloutState; 5] = [
        RolloutState::Planned,
        RolloutState::Running,
        RolloutState::Paused,
        RolloutState::Halted,
        RolloutState::AwaitingApproval,
    ];

    const ALL: [RolloutState; 7] = [
        RolloutState::AwaitingApproval,
        RolloutState::Planned,
        RolloutState::Running,
        RolloutState::Paused,
        RolloutState::Halted,
        RolloutState::Completed,
        RolloutState::Aborted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Planned => "planned",
            RolloutState::Running => "running",
            RolloutState::Paused => "paused",
            RolloutState::Halted => "halted",
            RolloutState::Completed => "completed",
            RolloutState::Aborted => "aborted",
            RolloutState::AwaitingApproval => "awaiting_approval",
        }
    }

    /// A stored state; anything else is a corrupt row.
    pub fn from_stored(text: &str) -> Result<RolloutState, Error> {
        RolloutState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| Error::Internal(format!("a stored rollout has an unknown state {text:?}")))
    }

    /// Whether the next step (or the completion) may be applied: planned or running.
    pub fn may_advance(self) -> bool {
        matches!(self, RolloutState::Planned | RolloutState::Running)
    }

    /// Whether it still holds (or will hold) what it moves.
    pub fn is_active(self) -> bool {
        RolloutState::ACTIVE.contains(&self)
    }

    /// The stored names of `states`, for queries.
    pub fn names(states: &[RolloutState]) -> Vec<&'static str> {
        states.iter().map(|s| s.as_str()).collect()
    }
}

impl fmt::Display for RolloutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
