//! Approvals: a rollout step reaching a tier whose policy asks for `approvals: N` waits, in
//! state `awaiting_approval`, until N distinct operators other than the rollout's creator have
//! approved its wave. One approval covers the wave's steps, since a wave is the unit a person
//! plans and reviews; the tiers asked are those the wave's clusters are in now.

use std::collections::{BTreeMap, BTreeSet};

use catalog::Catalog;
use chrono::NaiveDateTime;
use serde_json::json;

use super::{load, steps::write_reason, Rollout, RolloutState};
use crate::db::models::RolloutApprovalRow;
use crate::db::DbConnection;
use crate::error::Error;
use crate::service::{AppState, Caller, Ctx, Outcome};
use crate::store::{self, rollouts as db};

/// One operator's approval of a wave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalGiven {
    pub wave: i64,
    pub by: String,
    pub at: NaiveDateTime,
}

impl From<RolloutApprovalRow> for ApprovalGiven {
    fn from(row: RolloutApprovalRow) -> Self {
        ApprovalGiven {
            wave: row.wave,
            by: row.actor,
            at: row.approved_at,
        }
    }
}

/// A wave held for approvals: how many it needs and who gave theirs.
#[derive(Clone, Debug)]
pub struct Pending {
    pub wave: i64,
    pub needed: u32,
    pub given: Vec<String>,
}

impl Pending {
    pub fn describe(&self, r: &Rollout) -> String {
        let name = r.waves.get(self.wave as usize).map_or("?", |w| w.name.as_str());
        format!(
            "wave {name} reaches a tier that asks for {} approval(s); {} given{}",
            self.needed,
            self.given.len(),
            match self.given.is_empty() {
                true => String::new(),
                false => format!(" ({})", self.given.join(", ")),
            }
        )
    }
}

/// The wave of the next step when it needs more approvals than it has; `None` when the next
/// move is the completion (which changes no cluster) or is approved enough.
pub fn pending(conn: &mut DbConnection, catalog: &Catalog, r: &Rollout) -> Result<Option<Pending>, Error> {
    let Some(next) = r.steps.iter().find(|s| s.applied_at.is_none()) else {
        return Ok(None);
    };
    let tier_of: BTreeMap<String, String> = store::clusters(conn)?.into_iter().map(|c| (c.name, c.tier)).collect();
    let tiers: BTreeSet<&str> = r
        .steps
        .iter()
        .filter(|s| s.wave == next.wave)
        .flat_map(|s| &s.clusters)
        .filter_map(|c| tier_of.get(&c.cluster).map(String::as_str))
        .collect();
    let needed = tiers
        .iter()
        .filter_map(|t| catalog.tier(t).ok())
        .map(|t| t.policy.approvals)
        .max()
        .unwrap_or(0);
    let given: Vec<String> = db::approvals(conn, r.id)?
        .into_iter()
        .filter(|a| a.wave == next.wave)
        .map(|a| a.actor)
        .collect();
    Ok((given.len() < needed as usize).then_some(Pending {
        wave: next.wave,
        needed,
        given,
    }))
}

/// After a write that planned or moved rollout `id`: when its next step waits for approvals,
/// the rollout says so (`awaiting_approval`). Returns whether it now waits.
pub(super) fn hold_if_needed(ctx: &mut Ctx<'_>, id: i64) -> Result<bool, Error> {
    let r = load(ctx.conn, id)?;
    if !r.state.may_advance() {
        return Ok(false);
    }
    let catalog = ctx.catalog().clone();
    let Some(p) = pending(ctx.conn, &catalog, &r)? else {
        return Ok(false);
    };
    db::set_state(
        ctx.conn,
        id,
        RolloutState::AwaitingApproval.as_str(),
        r.steps_applied,
        ctx.now,
    )?;
    ctx.audit(
        "rollout.await_approval",
        &format!("rollout/{id}"),
        Some(&json!({"state": r.state})),
        Some(&json!({"state": RolloutState::AwaitingApproval, "wave": p.wave, "needed": p.needed})),
    );
    Ok(true)
}

/// An operator other than the creator approves the wave the rollout waits on; with enough
/// approvals it goes back to where it was (planned or running) and moves as before.
pub fn approve(state: &AppState, caller: &Caller, id: i64, dry_run: bool) -> Result<Outcome<Rollout>, Error> {
    let reason = write_reason(state, id, format!("rollout {id} approved"))?;
    state.write(caller, dry_run, &reason, |ctx| {
        let r = load(ctx.conn, id)?;
        if r.state != RolloutState::AwaitingApproval {
            return Err(Error::Conflict(format!(
                "rollout {id} is {}; only a rollout awaiting approval can be approved",
                r.state
            )));
        }
        let actor = ctx.caller().actor.clone();
        if actor == r.created_by {
            return Err(Error::Forbidden(format!(
                "rule approvals: {actor} created rollout {id} and cannot approve it; another operator must"
            )));
        }
        let catalog = ctx.catalog().clone();
        let pending = pending(ctx.conn, &catalog, &r)?;
        if let Some(p) = &pending {
            if p.given.contains(&actor) {
                return Err(Error::Conflict(format!("{actor} approved already: {}", p.describe(&r))));
            }
            let row = RolloutApprovalRow {
                rollout: id,
                wave: p.wave,
                actor: actor.clone(),
                approved_at: ctx.now,
            };
            db::insert_approval(ctx.conn, &row)?;
        }
        let given = pending.as_ref().map_or(0, |p| p.given.len() + 1);
        let needed = pending.as_ref().map_or(0, |p| p.needed as usize);
        let next = match given >= needed {
            true if r.steps_applied == 0 => RolloutState::Planned,
            true => RolloutState::Running,
            false => RolloutState::AwaitingApproval,
        };
        db::set_state(ctx.conn, id, next.as_str(), r.steps_applied, ctx.now)?;
        ctx.audit(
            "rollout.approve",
            &format!("rollout/{id}"),
            Some(&json!({"state": r.state})),
            Some(
                &json!({"state": next, "wave": pending.as_ref().map(|p| p.wave), "approvals": given, "needed": needed}),
            ),
        );
        load(ctx.conn, id)
    })
}
