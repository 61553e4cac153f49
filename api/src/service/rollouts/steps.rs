//! Moving a rollout along: advance (one step per call, then completion), pause, resume, abort.
//! Each action is one write: pins, step, state, new revisions and audit commit together.

use serde_json::{json, Value};

use super::{load, Rollout, ACTIVE};
use crate::db::models::RolloutPinRow;
use crate::error::Error;
use crate::service::overrides::{collapse_in, OverrideFilter};
use crate::service::tokens::parse_duration;
use crate::service::{AppState, Caller, Ctx, Outcome};
use crate::store::rollouts as db;

/// Applies the next step; once every step is applied, completes the rollout: the catalog
/// default moves to the rollout's tag (and paths), overrides that made stale collapse, and the
/// pins go, so the clusters keep running the same build with catalog provenance.
pub fn advance(state: &AppState, caller: &Caller, id: i64, dry_run: bool) -> Result<Outcome<Rollout>, Error> {
    crate::service::verify::write_verified(state, caller, dry_run, &format!("rollout {id}"), |ctx| {
        let r = load(ctx.conn, id)?;
        if !matches!(r.state.as_str(), "planned" | "running") {
            let hint = if r.state == "paused" { "; resume it first" } else { "" };
            return Err(Error::Conflict(format!("rollout {id} is {}{hint}", r.state)));
        }
        check_soak(ctx, &r)?;
        match r.steps.iter().find(|s| s.applied_at.is_none()) {
            Some(step) => apply_step(ctx, &r, step.index),
            None => complete(ctx, &r),
        }?;
        load(ctx.conn, id)
    })
}

fn apply_step(ctx: &mut Ctx<'_>, r: &Rollout, index: i64) -> Result<(), Error> {
    let step = r
        .steps
        .iter()
        .find(|s| s.index == index)
        .ok_or_else(|| Error::Internal(format!("rollout {} has no step {index}", r.id)))?;
    for c in &step.clusters {
        for x in &c.components {
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
        ctx.touch(&c.cluster);
    }
    db::mark_step_applied(ctx.conn, r.id, index, ctx.now)?;
    db::set_state(ctx.conn, r.id, "running", index + 1, ctx.now)?;
    let clusters: Vec<&str> = step.clusters.iter().map(|c| c.cluster.as_str()).collect();
    ctx.audit(
        "rollout.advance",
        &format!("rollout/{}", r.id),
        Some(&json!({"state": r.state, "steps_applied": index})),
        Some(&json!({"state": "running", "steps_applied": index + 1, "step": index, "clusters": clusters})),
    );
    Ok(())
}

/// The wave of the last applied step may ask for a soak time before the next step (or the
/// completion) applies.
fn check_soak(ctx: &Ctx<'_>, r: &Rollout) -> Result<(), Error> {
    let Some(prev) = r.steps.iter().rev().find(|s| s.applied_at.is_some()) else {
        return Ok(());
    };
    let (Some(applied), Some(soak)) = (
        prev.applied_at,
        r.waves.get(prev.wave as usize).and_then(|w| w.soak.as_deref()),
    ) else {
        return Ok(());
    };
    let soak = parse_duration(soak).map_err(|e| Error::Internal(format!("stored soak: {e}")))?;
    let until = applied + soak;
    if ctx.now < until {
        return Err(Error::Conflict(format!(
            "rollout {} soaks until {}; advance after that",
            r.id,
            until.and_utc().to_rfc3339()
        )));
    }
    Ok(())
}

fn complete(ctx: &mut Ctx<'_>, r: &Rollout) -> Result<(), Error> {
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
    if doc != before {
        ctx.set_catalog(doc, "api")?;
    }
    // Overrides the new default caught up with would otherwise take over again once the pins
    // (which outranked them) are gone.
    for component in r.component_paths.keys() {
        let filter = OverrideFilter {
            cluster: None,
            component: Some(component.clone()),
        };
        collapse_in(ctx, &filter)?;
    }
    db::delete_pins_of_rollout(ctx.conn, r.id)?;
    ctx.touch_all();
    db::set_state(ctx.conn, r.id, "completed", r.steps_applied, ctx.now)?;
    ctx.audit(
        "rollout.complete",
        &format!("rollout/{}", r.id),
        Some(&json!({"state": r.state})),
        Some(&json!({"state": "completed", "oci_tag": r.oci_tag, "component_paths": r.component_paths})),
    );
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
    transition(state, caller, id, dry_run, &["running"], "paused", "rollout.pause")
}

/// paused -> running.
pub fn resume(state: &AppState, caller: &Caller, id: i64, dry_run: bool) -> Result<Outcome<Rollout>, Error> {
    transition(state, caller, id, dry_run, &["paused"], "running", "rollout.resume")
}

/// Any active state -> aborted: the rollout's pins go and every cluster it changed resolves
/// again to what it ran before (see `plan::recompute`).
pub fn abort(state: &AppState, caller: &Caller, id: i64, dry_run: bool) -> Result<Outcome<Rollout>, Error> {
    transition(state, caller, id, dry_run, &ACTIVE, "aborted", "rollout.abort")
}

fn transition(
    state: &AppState,
    caller: &Caller,
    id: i64,
    dry_run: bool,
    from: &[&str],
    to: &str,
    action: &str,
) -> Result<Outcome<Rollout>, Error> {
    state.write(caller, dry_run, &format!("rollout {id} {to}"), |ctx| {
        let r = load(ctx.conn, id)?;
        if !from.contains(&r.state.as_str()) {
            return Err(Error::Conflict(format!(
                "rollout {id} is {}; only a {} rollout can be {to}",
                r.state,
                from.join(" or ")
            )));
        }
        if to == "aborted" {
            for pin in db::pins_of_rollout(ctx.conn, id)? {
                ctx.touch(&pin.cluster);
            }
            db::delete_pins_of_rollout(ctx.conn, id)?;
        }
        db::set_state(ctx.conn, id, to, r.steps_applied, ctx.now)?;
        ctx.audit(
            action,
            &format!("rollout/{id}"),
            Some(&json!({"state": r.state})),
            Some(&json!({"state": to})),
        );
        load(ctx.conn, id)
    })
}
