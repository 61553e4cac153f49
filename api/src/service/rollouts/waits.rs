//! What a rollout waits for besides its gate: the change windows of the tiers its next step
//! reaches, and approvals. Shown on the rollout (`waiting`) and asked by the runner.

use std::collections::{BTreeMap, BTreeSet};

use catalog::Catalog;
use chrono::NaiveDateTime;

use super::{approvals, runner, Rollout, RolloutState};
use crate::db::DbConnection;
use crate::error::Error;
use crate::store;

/// The tiers the clusters of the next unapplied step are in now; empty before the completion.
pub(super) fn next_tiers(conn: &mut DbConnection, r: &Rollout) -> Result<BTreeSet<String>, Error> {
    let Some(next) = r.steps.iter().find(|s| s.applied_at.is_none()) else {
        return Ok(BTreeSet::new());
    };
    let tier_of: BTreeMap<String, String> = store::clusters(conn)?.into_iter().map(|c| (c.name, c.tier)).collect();
    Ok(next
        .clusters
        .iter()
        .filter_map(|c| tier_of.get(&c.cluster).cloned())
        .collect())
}

/// Why the next step may not go at `now` for the tiers it reaches: a closed window or a freeze,
/// naming the next opening.
pub(super) fn window(
    conn: &mut DbConnection,
    catalog: &Catalog,
    r: &Rollout,
    now: NaiveDateTime,
) -> Result<Option<String>, Error> {
    let tiers = next_tiers(conn, r)?;
    Ok(
        crate::service::windows::closed(catalog, &tiers, now)
            .map(|why| format!("waiting for the change window: {why}")),
    )
}

/// What the rollout waits for now, for people to see: approvals, or (for an automatic next
/// step) the change window.
pub(super) fn annotate(
    conn: &mut DbConnection,
    catalog: &Catalog,
    now: NaiveDateTime,
    r: &mut Rollout,
) -> Result<(), Error> {
    r.waiting = match r.state {
        RolloutState::AwaitingApproval => {
            approvals::pending(conn, catalog, r)?.map(|p| format!("awaiting approval: {}", p.describe(r)))
        }
        _ if runner::next_is_auto(r) => window(conn, catalog, r, now)?,
        _ => None,
    };
    Ok(())
}
