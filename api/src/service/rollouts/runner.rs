//! The rollout runner: applies the steps of `auto` waves by itself once the step gate lets it.
//!
//! All its state is in the database, so it survives restarts, and several replicas may run it
//! together: each step applies in one write that first claims the rollout's row and checks,
//! inside that transaction, that the step is still the next one, so it applies exactly once
//! whether a replica, a restart or a person races it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::gate::{GateInput, StepGate, Verdict};
use super::{approvals, load, steps, view, waits, Rollout, RolloutState};
use crate::error::Error;
use crate::service::{AppState, Caller, Ctx};
use crate::store::rollouts as db;

/// The audit log's actor for what the runner does.
pub const ACTOR: &str = "runner";

/// What one round did to one rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Applied step `n` (0-based).
    Applied(i64),
    Completed,
    Halted(String),
    /// Halted and, as its wave's `on_failure: abort` (or `rollback`) asks, aborted.
    Aborted(String),
    /// The next step reaches a tier that asks for approvals it does not have yet.
    AwaitingApproval,
}

/// Whether the next move of `r` (its next step, or its completion) belongs to an `auto` wave.
pub fn next_is_auto(r: &Rollout) -> bool {
    if !r.state.may_advance() {
        return false;
    }
    let wave = match r.steps.iter().find(|s| s.applied_at.is_none()) {
        Some(step) => Some(step.wave),
        None => r.steps.last().map(|s| s.wave),
    };
    wave.and_then(|w| r.waves.get(w as usize))
        .is_some_and(|w| w.approval == "auto")
}

/// One round: every planned or running rollout whose next move is automatic and which the
/// gate lets through moves one step. Returns what happened, by rollout id.
pub fn run_once(state: &AppState, gate: &dyn StepGate) -> Result<Vec<(i64, Action)>, Error> {
    let candidates: Vec<Rollout> = {
        let mut conn = state.conn()?;
        db::in_states(
            &mut conn,
            &RolloutState::names(&[RolloutState::Planned, RolloutState::Running]),
        )?
        .into_iter()
        .map(|row| {
            let steps = db::steps(&mut conn, row.id)?;
            view(row, steps)
        })
        .collect::<Result<_, Error>>()?
    };
    let mut done = Vec::new();
    for r in candidates.iter().filter(|r| next_is_auto(r)) {
        // A cheap look outside any transaction first, so a soaking rollout costs no write.
        let waiting = {
            let mut conn = state.conn()?;
            let now = state.clock.now();
            let (_, catalog) = state.catalog(&mut conn)?;
            waits::window(&mut conn, &catalog, r, now)?.is_some()
                || matches!(gate.check(&mut conn, &input(r, now))?, Verdict::Wait(_))
        };
        if waiting {
            continue;
        }
        match try_move(state, gate, r.id, r.steps_applied) {
            Ok(Some(action)) => done.push((r.id, action)),
            Ok(None) => {}
            // A step the rules now refuse (a policy that changed, a vanished component) would
            // be refused every round: the rollout halts, saying why, for a person to decide.
            Err(e) if refused(&e) => match halt(state, r, &e) {
                Ok(why) => done.push((r.id, Action::Halted(why))),
                Err(e) => tracing::warn!(rollout = r.id, error = %e, "rollout runner: could not halt"),
            },
            // Anything else (the database, a lock) may pass: logged and tried again next round,
            // without stopping the other rollouts.
            Err(e) => tracing::warn!(rollout = r.id, error = %e, "rollout runner: the step did not apply"),
        }
    }
    Ok(done)
}

/// Errors that say the step breaks a rule, rather than that something failed on the way.
fn refused(e: &Error) -> bool {
    matches!(
        e,
        Error::Invalid(_)
            | Error::Catalog(_)
            | Error::InvalidCatalog(_)
            | Error::Validation { .. }
            | Error::Refused { .. }
            | Error::NotFound { .. }
    )
}

/// Halts `r` because its next step was refused; nothing else changes.
fn halt(state: &AppState, r: &Rollout, e: &Error) -> Result<String, Error> {
    let caller = Caller::internal(ACTOR, format!("runner-{}-{}-halt", r.id, r.steps_applied));
    let why = format!("step {} was refused: {e}", r.steps_applied);
    state.write(&caller, false, &format!("rollout {} halted", r.id), |ctx| {
        // A person may have paused or aborted it meanwhile; then that stands.
        if load(ctx.conn, r.id)?.state != r.state {
            return Ok(());
        }
        db::set_halted(ctx.conn, r.id, &why, ctx.now)?;
        ctx.audit(
            "rollout.halt",
            &format!("rollout/{}", r.id),
            Some(&json!({"state": r.state})),
            Some(&json!({"state": "halted", "reason": why})),
        );
        Ok(())
    })?;
    Ok(why)
}

fn input(r: &Rollout, now: chrono::NaiveDateTime) -> GateInput<'_> {
    let last_step = r.steps.iter().rev().find(|s| s.applied_at.is_some());
    GateInput {
        rollout: r,
        last_step,
        applied_at: last_step.and_then(|s| s.applied_at),
        now,
    }
}

/// Moves rollout `id` on if it is still where the round saw it (`seen_applied` steps applied).
pub fn try_move(state: &AppState, gate: &dyn StepGate, id: i64, seen_applied: i64) -> Result<Option<Action>, Error> {
    let caller = Caller::internal(ACTOR, format!("runner-{id}-{seen_applied}"));
    let reason = super::steps::write_reason(state, id, format!("rollout {id} ({ACTOR})"))?;
    let outcome = state.write(&caller, false, &reason, |ctx| {
        if !db::claim(ctx.conn, id)? {
            return Ok(None);
        }
        let r = load(ctx.conn, id)?;
        if r.steps_applied != seen_applied || !next_is_auto(&r) {
            return Ok(None);
        }
        // A closed window holds the step back without a trace: it goes once the window opens.
        let catalog = ctx.catalog().clone();
        if waits::window(ctx.conn, &catalog, &r, ctx.now)?.is_some() {
            return Ok(None);
        }
        if approvals::hold_if_needed(ctx, id)? {
            return Ok(Some(Action::AwaitingApproval));
        }
        let verdict = gate.check(ctx.conn, &input(&r, ctx.now))?;
        match verdict {
            Verdict::Wait(_) => Ok(None),
            Verdict::Proceed => proceed(ctx, &r).map(Some),
            Verdict::Fail { clusters, reason } => match record_failures(ctx, &r, &clusters, &reason)? {
                Some(halted) => Ok(Some(halted)),
                None => proceed(ctx, &r).map(Some),
            },
        }
    })?;
    Ok(outcome.value)
}

fn proceed(ctx: &mut Ctx<'_>, r: &Rollout) -> Result<Action, Error> {
    let next = r.steps.iter().find(|s| s.applied_at.is_none()).map(|s| s.index);
    steps::step_or_complete(ctx, r)?;
    Ok(next.map_or(Action::Completed, Action::Applied))
}

/// Stores each failed cluster on the applied step that moved it (the last applied step when
/// none did); when the failures of the last step's wave pass the wave's `max_failures` the
/// rollout halts, and the halt is the only thing this write does.
fn record_failures(ctx: &mut Ctx<'_>, r: &Rollout, clusters: &[String], reason: &str) -> Result<Option<Action>, Error> {
    let Some(last) = r.steps.iter().rev().find(|s| s.applied_at.is_some()) else {
        return Ok(None);
    };
    let mut failed: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for c in clusters {
        let step = r
            .steps
            .iter()
            .find(|s| s.applied_at.is_some() && s.clusters.iter().any(|x| &x.cluster == c))
            .unwrap_or(last);
        failed
            .entry(step.index)
            .or_insert_with(|| step.failed.iter().cloned().collect())
            .insert(c.clone());
    }
    for (index, names) in &failed {
        db::set_step_failed(ctx.conn, r.id, *index, &crate::service::json_text(names))?;
    }
    let mut in_wave: BTreeSet<&str> = BTreeSet::new();
    for s in r.steps.iter().filter(|s| s.wave == last.wave) {
        match failed.get(&s.index) {
            Some(names) => in_wave.extend(names.iter().map(String::as_str)),
            None => in_wave.extend(s.failed.iter().map(String::as_str)),
        }
    }
    let wave = r
        .waves
        .get(last.wave as usize)
        .ok_or_else(|| Error::Internal(format!("rollout {} has no wave {}", r.id, last.wave)))?;
    if in_wave.len() as u64 <= u64::from(wave.max_failures) {
        return Ok(None);
    }
    let why = format!(
        "wave {} has {} failed cluster(s) ({}), over its max_failures {}: {reason}",
        wave.name,
        in_wave.len(),
        in_wave.iter().copied().collect::<Vec<_>>().join(", "),
        wave.max_failures
    );
    db::set_halted(ctx.conn, r.id, &why, ctx.now)?;
    ctx.audit(
        "rollout.halt",
        &format!("rollout/{}", r.id),
        Some(&json!({"state": r.state})),
        Some(&json!({"state": "halted", "reason": why, "failed": in_wave})),
    );
    if matches!(wave.on_failure.as_str(), "abort" | "rollback") {
        steps::release_pins(ctx, r.id)?;
        db::set_state(ctx.conn, r.id, RolloutState::Aborted.as_str(), r.steps_applied, ctx.now)?;
        let mut after = json!({"state": "aborted", "reason": format!("on_failure {}: {why}", wave.on_failure)});
        let action = match wave.on_failure.as_str() {
            "rollback" => {
                after["events"] = json!(failure_events(ctx, r, last.wave, &in_wave)?);
                "rollout.rollback"
            }
            _ => "rollout.abort",
        };
        ctx.audit(
            action,
            &format!("rollout/{}", r.id),
            Some(&json!({"state": "halted"})),
            Some(&after),
        );
        return Ok(Some(Action::Aborted(why)));
    }
    Ok(Some(Action::Halted(why)))
}

/// The ids of the error events the failed clusters of `wave` reported since its first step
/// applied: what the rollback's audit entry links to.
fn failure_events(ctx: &mut Ctx<'_>, r: &Rollout, wave: i64, failed: &BTreeSet<&str>) -> Result<Vec<i64>, Error> {
    let Some(since) = r
        .steps
        .iter()
        .filter(|s| s.wave == wave)
        .filter_map(|s| s.applied_at)
        .min()
    else {
        return Ok(Vec::new());
    };
    // Flux stamps events in whole seconds; the step's time has fractions.
    let since = since.checked_sub_signed(chrono::Duration::seconds(1)).unwrap_or(since);
    let clusters: Vec<&str> = failed.iter().copied().collect();
    Ok(crate::store::observed::failure_events(ctx.conn, &clusters, since)?)
}

/// Runs rounds forever, every `every`; started by `serve`.
pub async fn run_forever(
    state: std::sync::Arc<AppState>,
    gate: std::sync::Arc<dyn StepGate>,
    every: std::time::Duration,
) {
    let mut ticks = crate::server::ticks(every);
    loop {
        ticks.tick().await;
        let (state, gate) = (state.clone(), gate.clone());
        match actix_web::web::block(move || run_once(&state, gate.as_ref())).await {
            Ok(Ok(done)) => {
                for (id, action) in done {
                    tracing::info!(rollout = id, ?action, "rollout runner");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "rollout runner: round failed; retrying"),
            Err(e) => tracing::warn!(error = %e, "rollout runner: round did not run"),
        }
    }
}
