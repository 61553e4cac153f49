//! Moving a rollout along: advance (one step per call, then completion), pause, resume, abort.
//! Each action is one write: pins, step, state, new revisions and audit commit together.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{gate, load, Rollout, RolloutState, Skipped, ACTIVE};
use crate::db::models::RolloutPinRow;
use crate::error::Error;
use crate::service::holds::{keep_held, keep_held_pins, Holds};
use crate::service::overrides::{collapse_in_except, OverrideFilter};
use crate::service::{AppState, Caller, Ctx, Outcome};
use crate::store::rollouts as db;

/// Applies the next step; once every step is applied, completes the rollout: the catalog
/// default moves to the rollout's tag (and paths), overrides that made stale collapse, and the
/// pins go, so the clusters keep running the same build with catalog provenance.
pub fn advance(state: &AppState, caller: &Caller, id: i64, dry_run: bool) -> Result<Outcome<Rollout>, Error> {
    let reason = write_reason(state, id, format!("rollout {id}"))?;
    state.write(caller, dry_run, &reason, |ctx| {
        let r = load(ctx.conn, id)?;
        if !r.state.may_advance() {
            let hint = match r.state {
                RolloutState::Paused => "; resume it first".to_owned(),
                RolloutState::Halted => format!(
                    " ({}); abort it",
                    r.halted_reason.as_deref().unwrap_or("no reason recorded")
                ),
                RolloutState::AwaitingApproval => {
                    format!("; another operator approves it first (POST /api/v1/rollouts/{id}/approve)")
                }
                _ => String::new(),
            };
            return Err(Error::Conflict(format!("rollout {id} is {}{hint}", r.state)));
        }
        check_soak(ctx, &r)?;
        let catalog = ctx.catalog().clone();
        if let Some(p) = super::approvals::pending(ctx.conn, &catalog, &r)? {
            return Err(Error::Conflict(format!(
                "rollout {id} awaits approval: {}; another operator approves it first (POST /api/v1/rollouts/{id}/approve)",
                p.describe(&r)
            )));
        }
        step_or_complete(ctx, &r)?;
        load(ctx.conn, id)
    })
}

/// What the revisions a rollout's write makes say: `generic` and the reason the rollout was
/// created with, which never changes (so it is read before the write).
pub(super) fn write_reason(state: &AppState, id: i64, generic: String) -> Result<String, Error> {
    let mut conn = state.conn()?;
    let given = db::get(&mut conn, id)?.and_then(|r| r.reason);
    Ok(match given.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => format!("{generic}: {r}"),
        _ => generic,
    })
}

/// The one way a rollout moves on, for a person and for the runner alike: the next step, or
/// the completion once every step is applied. The caller has checked state and gate.
pub(super) fn step_or_complete(ctx: &mut Ctx<'_>, r: &Rollout) -> Result<(), Error> {
    // A rollout created breaking glass moves with that reason, each move audited as such.
    if let Some(reason) = &r.break_glass {
        ctx.carry_break_glass(reason);
    }
    match r.steps.iter().find(|s| s.applied_at.is_none()) {
        Some(step) => {
            apply_step(ctx, r, step.index)?;
            super::approvals::hold_if_needed(ctx, r.id).map(drop)
        }
        None => complete(ctx, r),
    }
}

fn apply_step(ctx: &mut Ctx<'_>, r: &Rollout, index: i64) -> Result<(), Error> {
    let step = r
        .steps
        .iter()
        .find(|s| s.index == index)
        .ok_or_else(|| Error::Internal(format!("rollout {} has no step {index}", r.id)))?;
    check_step_policy(ctx, r, step)?;
    let holds = Holds::load(ctx.conn, ctx.now)?;
    let mut skipped = Vec::new();
    for c in &step.clusters {
        let mut pinned = false;
        for x in &c.components {
            // A hold placed after planning still wins: the step leaves it out and says so.
            if let Some(hold) = holds.covering(&c.cluster, &x.component) {
                skipped.push(Skipped {
                    cluster: c.cluster.clone(),
                    component: x.component.clone(),
                    reason: "held".into(),
                    detail: hold.label(),
                });
                continue;
            }
            pinned = true;
            if let Some(other) = db::pin(ctx.conn, &c.cluster, &x.component)? {
                return Err(Error::Conflict(format!(
                    "rollout {} already pins {} on cluster {}",
                    other.rollout, x.component, c.cluster
                )));
            }
            let path = r.component_paths.get(&x.component).cloned().flatten();
            db::insert_pin(
                ctx.conn,
                &RolloutPinRow {
                    rollout: r.id,
                    cluster: c.cluster.clone(),
                    component: x.component.clone(),
                    oci_tag: Some(r.oci_tag.clone()),
                    component_path: path,
                },
            )?;
        }
        if pinned {
            ctx.touch(&c.cluster);
        }
    }
    db::mark_step_applied(ctx.conn, r.id, index, ctx.now, &crate::service::json_text(&skipped))?;
    db::set_state(ctx.conn, r.id, RolloutState::Running.as_str(), index + 1, ctx.now)?;
    let clusters: Vec<&str> = step.clusters.iter().map(|c| c.cluster.as_str()).collect();
    ctx.audit(
        "rollout.advance",
        &format!("rollout/{}", r.id),
        Some(&json!({"state": r.state, "steps_applied": index})),
        Some(&json!({"state": "running", "steps_applied": index + 1, "step": index, "clusters": clusters, "skipped": skipped})),
    );
    Ok(())
}

/// Tier policies may have changed since planning, and clusters may have changed tier: the tag
/// must still pass the policy of every tier the step reaches now.
fn check_step_policy(ctx: &mut Ctx<'_>, r: &Rollout, step: &super::Step) -> Result<(), Error> {
    let tier_of: BTreeMap<String, String> = crate::store::clusters(ctx.conn)?
        .into_iter()
        .map(|c| (c.name, c.tier))
        .collect();
    let tiers: BTreeSet<&str> = step
        .clusters
        .iter()
        .filter_map(|c| tier_of.get(&c.cluster).map(String::as_str))
        .collect();
    let tag = catalog::OciTag::parse(&r.oci_tag)
        .map_err(|e| Error::Internal(format!("rollout {} stores tag {:?}: {e}", r.id, r.oci_tag)))?;
    crate::service::releases::check_tag_in_tiers(ctx, &r.artifact, &tag, |t| tiers.contains(t))
}

/// The wave of the last applied step may ask for a soak time before the next step (or the
/// completion) applies.
fn check_soak(ctx: &Ctx<'_>, r: &Rollout) -> Result<(), Error> {
    let last = r.steps.iter().rev().find(|s| s.applied_at.is_some());
    let Some(until) = gate::soak_until(r, last)? else {
        return Ok(());
    };
    if ctx.now < until {
        return Err(Error::Conflict(format!(
            "rollout {} soaks until {}; advance after that",
            r.id,
            crate::service::time::rfc3339(until)
        )));
    }
    Ok(())
}

fn complete(ctx: &mut Ctx<'_>, r: &Rollout) -> Result<(), Error> {
    if r.kind == "promotion" {
        return super::promotion::complete(ctx, r);
    }
    let mut doc = ctx.catalog().to_document();
    let before = ctx.catalog().to_document();
    if r.kind == "release" {
        let index = ctx
            .catalog()
            .artifacts()
            .iter()
            .position(|a| a.id.as_str() == r.artifact)
            .ok_or_else(|| Error::Conflict(format!("artifact {} is no longer in the catalog", r.artifact)))?;
        set(&mut doc, "artifacts", index, "oci_tag", Some(&r.oci_tag))?;
    }
    for (component, path) in &r.component_paths {
        let index = ctx
            .catalog()
            .components()
            .iter()
            .position(|c| c.id.as_str() == component)
            .ok_or_else(|| Error::Conflict(format!("component {component} is no longer in the catalog")))?;
        if r.kind == "component" {
            set(&mut doc, "components", index, "oci_tag", Some(&r.oci_tag))?;
        }
        set(&mut doc, "components", index, "component_path", path.as_deref())?;
    }
    // Held clusters (left out at planning or at their step) run from the default, which is
    // about to move: they keep what they run.
    let moved: BTreeSet<String> = r.component_paths.keys().cloned().collect();
    let repathed: BTreeSet<String> = r
        .component_paths
        .iter()
        .filter(|(_, p)| p.is_some())
        .map(|(c, _)| c.clone())
        .collect();
    keep_held(ctx, &moved, &repathed)?;
    keep_held_pins(ctx, r.id)?;
    if doc != before {
        ctx.set_catalog(doc, "api")?;
    }
    // Overrides the new default caught up with would otherwise take over again once the pins
    // (which outranked them) are gone. Held ones stay: a hold outranks tidying up.
    let holds = Holds::load(ctx.conn, ctx.now)?;
    for component in r.component_paths.keys() {
        let filter = OverrideFilter {
            cluster: None,
            component: Some(component.clone()),
        };
        collapse_in_except(ctx, &filter, &|cluster, component| {
            holds.covering(cluster, component).is_some()
        })?;
    }
    db::delete_pins_of_rollout(ctx.conn, r.id)?;
    ctx.touch_all();
    mark_completed(
        ctx,
        r,
        json!({"state": "completed", "oci_tag": r.oci_tag, "component_paths": r.component_paths}),
    )
}

/// Marks a rollout completed and audits it, `after` saying what it left in place.
pub(super) fn mark_completed(ctx: &mut Ctx<'_>, r: &Rollout, after: serde_json::Value) -> Result<(), Error> {
    db::set_state(
        ctx.conn,
        r.id,
        RolloutState::Completed.as_str(),
        r.steps_applied,
        ctx.now,
    )?;
    ctx.audit(
        "rollout.complete",
        &format!("rollout/{}", r.id),
        Some(&json!({"state": r.state})),
        Some(&after),
    );
    Ok(())
}

/// Drops the rollout's pins, so every cluster it changed resolves again to what it ran before
/// (see `plan::recompute`); held clusters stay on what the rollout gave them.
pub(super) fn release_pins(ctx: &mut Ctx<'_>, id: i64) -> Result<(), Error> {
    keep_held_pins(ctx, id)?;
    for pin in db::pins_of_rollout(ctx.conn, id)? {
        ctx.touch(&pin.cluster);
    }
    db::delete_pins_of_rollout(ctx.conn, id)?;
    Ok(())
}

/// Sets `doc[list][index][key]`; `None` leaves the key as it is.
fn set(doc: &mut Value, list: &str, index: usize, key: &str, value: Option<&str>) -> Result<(), Error> {
    let Some(value) = value else { return Ok(()) };
    doc.get_mut(list)
        .and_then(|l| l.get_mut(index))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::Internal(format!("a catalog document without {list}[{index}]")))?
        .insert(key.to_owned(), value.into());
    Ok(())
}

/// running -> paused: no step applies until it is resumed.
pub fn pause(state: &AppState, caller: &Caller, id: i64, dry_run: bool) -> Result<Outcome<Rollout>, Error> {
    use RolloutState::*;
    transition(state, caller, id, dry_run, &[Running], Paused, "rollout.pause")
}

/// paused -> running.
pub fn resume(state: &AppState, caller: &Caller, id: i64, dry_run: bool) -> Result<Outcome<Rollout>, Error> {
    use RolloutState::*;
    transition(state, caller, id, dry_run, &[Paused], Running, "rollout.resume")
}

/// Any active state -> aborted: the rollout's pins go and every cluster it changed resolves
/// again to what it ran before (see `plan::recompute`).
pub fn abort(state: &AppState, caller: &Caller, id: i64, dry_run: bool) -> Result<Outcome<Rollout>, Error> {
    transition(
        state,
        caller,
        id,
        dry_run,
        &ACTIVE,
        RolloutState::Aborted,
        "rollout.abort",
    )
}

fn transition(
    state: &AppState,
    caller: &Caller,
    id: i64,
    dry_run: bool,
    from: &[RolloutState],
    to: RolloutState,
    action: &str,
) -> Result<Outcome<Rollout>, Error> {
    let reason = write_reason(state, id, format!("rollout {id} {to}"))?;
    state.write(caller, dry_run, &reason, |ctx| {
        let r = load(ctx.conn, id)?;
        if !from.contains(&r.state) {
            return Err(Error::Conflict(format!(
                "rollout {id} is {}; only a {} rollout can be {to}",
                r.state,
                RolloutState::names(from).join(" or ")
            )));
        }
        if to == RolloutState::Aborted {
            release_pins(ctx, id)?;
        }
        db::set_state(ctx.conn, id, to.as_str(), r.steps_applied, ctx.now)?;
        ctx.audit(
            action,
            &format!("rollout/{id}"),
            Some(&json!({"state": r.state})),
            Some(&json!({"state": to})),
        );
        load(ctx.conn, id)
    })
}
