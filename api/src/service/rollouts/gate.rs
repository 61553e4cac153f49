//! The step gate: what the runner asks before it applies the next step of an `auto` wave.
//!
//! A gate sees the rollout, the last applied step (its clusters with from/to) and when it
//! applied, and the database, so a gate on observed health can be plugged in beside the
//! default one, which only waits out the wave's soak time.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;

use super::{Rollout, Step};
use crate::db::DbConnection;
use crate::error::Error;
use crate::service::observed::health::{step_health, Health, HealthQuery};
use crate::service::time::parse_duration;

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
            Some(until) if input.now < until => Ok(Verdict::Wait(format!(
                "soaking until {}",
                crate::service::time::rfc3339(until)
            ))),
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
    // Soaks are bounded where they enter; one stored before that bound (longer than the
    // maximum, or past the last representable time) soaks for ever rather than overflow.
    Ok(Some(
        parse_duration(soak)
            .ok()
            .and_then(|d| applied.checked_add_signed(d))
            .unwrap_or(NaiveDateTime::MAX),
    ))
}

/// Each component's Kustomization `wait` in the cluster's current revision: what the health
/// gate asks of its events depends on it (see `service::observed::readiness`).
fn component_waits(conn: &mut DbConnection, cluster: &str) -> Result<BTreeMap<String, bool>, Error> {
    let Some(row) = crate::store::cluster(conn, cluster)? else {
        return Ok(BTreeMap::new());
    };
    let Some(stored) = crate::store::revision(conn, cluster, row.revision)? else {
        return Ok(BTreeMap::new());
    };
    let record = crate::store::effective::EffectiveRecord::decode(&stored.effective)?;
    Ok(record.components.into_iter().map(|c| (c.id, c.wait)).collect())
}

/// The gate on what clusters report (Flux events, see `service::observed`): after the soak, the
/// next step applies only when every cluster of the last step runs the revision the step gave
/// it, ready. Failed clusters count toward the wave's `max_failures`: once they pass it the
/// gate says so at once (the runner halts); within it the gate waits for the rest to settle.
#[derive(Clone, Copy, Debug, Default)]
pub struct HealthGate;

impl StepGate for HealthGate {
    fn check(&self, conn: &mut DbConnection, input: &GateInput<'_>) -> Result<Verdict, Error> {
        let soak = SoakGate.check(conn, input)?;
        let (Some(step), Some(since)) = (input.last_step, input.applied_at) else {
            return Ok(soak);
        };
        let r = input.rollout;
        let mut queries = Vec::new();
        for c in &step.clusters {
            let waits = component_waits(conn, &c.cluster)?;
            let skipped = |x: &super::StepComponent| {
                step.skipped
                    .iter()
                    .any(|s| s.cluster == c.cluster && s.component == x.component)
            };
            for x in c.components.iter().filter(|x| !skipped(x)) {
                let digest = crate::store::tag(conn, &r.artifact, &x.to.oci_tag)?.and_then(|t| t.digest);
                queries.push(HealthQuery {
                    cluster: c.cluster.clone(),
                    component: x.component.clone(),
                    oci_tag: x.to.oci_tag.clone(),
                    digest,
                    // A component the cluster no longer has is held to the stricter rule.
                    wait: waits.get(&x.component).copied().unwrap_or(true),
                });
            }
        }
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        let mut pending: BTreeSet<String> = BTreeSet::new();
        for (cluster, component, health) in step_health(conn, &queries, since)? {
            match health {
                Health::Ready => {}
                Health::Pending => {
                    pending.insert(cluster);
                }
                Health::Failed { reason, message } => {
                    failed
                        .entry(cluster)
                        .or_insert(format!("{component}: {reason}: {message}"));
                }
            }
        }
        let budget = r.waves.get(step.wave as usize).map_or(0, |w| w.max_failures);
        let mut in_wave: BTreeSet<&str> = r
            .steps
            .iter()
            .filter(|s| s.wave == step.wave)
            .flat_map(|s| s.failed.iter().map(String::as_str))
            .collect();
        in_wave.extend(failed.keys().map(String::as_str));
        let verdict_fail = || Verdict::Fail {
            clusters: failed.keys().cloned().collect(),
            reason: failed
                .iter()
                .map(|(c, why)| format!("{c}: {why}"))
                .collect::<Vec<_>>()
                .join("; "),
        };
        if in_wave.len() as u64 > u64::from(budget) {
            return Ok(verdict_fail());
        }
        if !pending.is_empty() {
            let names: Vec<&str> = pending.iter().map(String::as_str).collect();
            return Ok(Verdict::Wait(format!(
                "waiting for {} cluster(s) to report the step's revision ready: {}",
                names.len(),
                names.join(", ")
            )));
        }
        if matches!(soak, Verdict::Wait(_)) {
            return Ok(soak);
        }
        Ok(if failed.is_empty() {
            Verdict::Proceed
        } else {
            verdict_fail()
        })
    }
}
