//! The step gate: what the runner asks before it applies the next step of an `auto` wave.
//!
//! A gate sees the rollout, the last applied step (its clusters with from/to) and when it
//! applied, and the database, so a gate on observed health can be plugged in beside the
//! default one, which only waits out the wave's soak time.

use chrono::NaiveDateTime;

use super::{Rollout, Step};
use crate::db::DbConnection;
use crate::error::Error;
use crate::service::tokens::parse_duration;

/// What a gate says about going on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Proceed,
    /// Not yet; asked again on the runner's next round.
    Wait(String),
    /// These clusters of the last step failed; they count toward its wave's `max_failures`.
    Fail {
        clusters: Vec<String>,
        reason: String,
    },
}

/// What a gate decides on.
pub struct GateInput<'a> {
    pub rollout: &'a Rollout,
    /// The last applied step, `None` before the first.
    pub last_step: Option<&'a Step>,
    pub applied_at: Option<NaiveDateTime>,
    pub now: NaiveDateTime,
}

/// A check the runner asks before each automatic step. It runs inside the transaction that
/// would apply the step, so it sees exactly the state the step applies to.
pub trait StepGate: Send + Sync {
    fn check(&self, conn: &mut DbConnection, input: &GateInput<'_>) -> Result<Verdict, Error>;
}

/// The default gate: the soak time of the last applied step's wave has passed.
#[derive(Clone, Copy, Debug, Default)]
pub struct SoakGate;

impl StepGate for SoakGate {
    fn check(&self, _: &mut DbConnection, input: &GateInput<'_>) -> Result<Verdict, Error> {
        match soak_until(input.rollout, input.last_step)? {
            Some(until) if input.now < until => {
                Ok(Verdict::Wait(format!("soaking until {}", until.and_utc().to_rfc3339())))
            }
            _ => Ok(Verdict::Proceed),
        }
    }
}

/// When the soak after `last` ends, if its wave has one.
pub fn soak_until(r: &Rollout, last: Option<&Step>) -> Result<Option<NaiveDateTime>, Error> {
    let Some(step) = last else { return Ok(None) };
    let (Some(applied), Some(soak)) = (
        step.applied_at,
        r.waves.get(step.wave as usize).and_then(|w| w.soak.as_deref()),
    ) else {
        return Ok(None);
    };
    let soak = parse_duration(soak).map_err(|e| Error::Internal(format!("stored soak: {e}")))?;
    Ok(Some(applied + soak))
}
