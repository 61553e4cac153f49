//! Rollouts: a tag (and paths) of one component or a whole release, moved across the fleet
//! in waves of steps.
//!
//! The plan is fixed when the rollout is created: every step's clusters, with from/to per
//! component, are stored. An applied step leaves rollout pins, which resolution puts above
//! everything else; completion moves the catalog default and drops the pins, abort just drops
//! them. Step actions live in [`steps`], wave planning in [`waves`].

mod approvals;
mod choices;
mod create;
pub mod gate;
pub mod promotion;
pub mod runner;
mod state;
mod steps;
mod targets;
mod waits;
pub mod waves;

use std::collections::{BTreeMap, BTreeSet};

use std::num::NonZeroU32;

use catalog::{ArtifactId, ClusterName, ComponentId, ComponentPath, OciTag, TierName};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{AppState, Ctx, TagPath};
use crate::db::models::{RolloutRow, RolloutStepRow};
use crate::error::Error;
use crate::service::time::Span;
use crate::store::rollouts as db;
pub use approvals::{approve, ApprovalGiven};
pub use choices::{Approval, OnFailure};
pub use create::create;
pub use steps::{abort, advance, pause, resume};
use targets::Planned;
use waves::Wave;

/// States in which a rollout holds (or will hold) its clusters and components.
pub use state::RolloutState;

/// The states in which a rollout still holds what it moves.
pub const ACTIVE: [RolloutState; 5] = RolloutState::ACTIVE;

/// Plan a rollout, every value parsed; whether what it names exists and the tiers admit the
/// tag is for the service to say.
#[derive(Clone, Debug)]
pub struct CreateRollout {
    pub moves: Moves,
    pub oci_tag: OciTag,
    /// New version directories, per moved component.
    pub component_paths: BTreeMap<ComponentId, ComponentPath>,
    /// `None`: the default waves.
    pub waves: Option<Vec<CreateWave>>,
    pub reason: Option<String>,
}

/// What a rollout moves.
#[derive(Clone, Debug)]
pub enum Moves {
    /// One component: its own tag (and path).
    Component(ComponentId),
    /// A release of an artifact: every component following its default tag, then the default.
    Release(ArtifactId),
}

/// A wave as a command states it; every selector given must match.
#[derive(Clone, Debug)]
pub struct CreateWave {
    pub name: Option<String>,
    pub tiers: Vec<TierName>,
    pub labels: BTreeMap<String, String>,
    pub clusters: Vec<ClusterName>,
    /// Clusters per step; `None`: the whole wave in one step.
    pub batch_size: Option<NonZeroU32>,
    pub soak: Option<Span>,
    pub max_failures: u32,
    pub approval: Approval,
    pub on_failure: OnFailure,
}

/// One component's planned change on one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepComponent {
    pub component: String,
    pub from: Option<TagPath>,
    pub to: TagPath,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepCluster {
    pub cluster: String,
    pub components: Vec<StepComponent>,
}

/// A component on a cluster the rollout left alone, and why: `held` (a hold covers it),
/// `pinned` (a cluster-wide pin decides its tag) or `override` (an override newer than the
/// rollout's tag).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub cluster: String,
    pub component: String,
    pub reason: String,
    pub detail: String,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub index: i64,
    pub wave: i64,
    pub clusters: Vec<StepCluster>,
    pub applied_at: Option<NaiveDateTime>,
    /// What became held between planning and this step applying.
    pub skipped: Vec<Skipped>,
    /// Clusters a step gate reported failed after this step.
    pub failed: Vec<String>,
}

/// A rollout with its waves and steps, as stored.
#[derive(Clone, Debug)]
pub struct Rollout {
    pub id: i64,
    pub kind: String,
    pub artifact: String,
    pub component: Option<String>,
    pub oci_tag: String,
    /// Each component the rollout moves -> its new path, `None` to keep the path.
    pub component_paths: BTreeMap<String, Option<String>>,
    pub state: RolloutState,
    pub steps_applied: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub reason: Option<String>,
    pub waves: Vec<Wave>,
    pub steps: Vec<Step>,
    /// What planning left out.
    pub skipped: Vec<Skipped>,
    /// Why the runner halted it (state `halted`).
    pub halted_reason: Option<String>,
    /// The break-glass reason it was created with; each later step applies with it.
    pub break_glass: Option<String>,
    /// Who approved which wave, and when.
    pub approvals: Vec<ApprovalGiven>,
    /// What it waits for now (approvals, a change window), when read for people to see.
    pub waiting: Option<String>,
}

fn internal(what: &str, e: serde_json::Error) -> Error {
    Error::Internal(format!("a stored rollout's {what} is not readable: {e}"))
}

/// Reads a rollout and its steps; 404 when there is none.
pub fn load(conn: &mut crate::db::DbConnection, id: i64) -> Result<Rollout, Error> {
    let row = db::get(conn, id)?.ok_or(Error::NotFound {
        kind: "rollout",
        name: id.to_string(),
    })?;
    let steps = db::steps(conn, id)?;
    let mut r = view(row, steps)?;
    r.approvals = db::approvals(conn, id)?.into_iter().map(ApprovalGiven::from).collect();
    Ok(r)
}

fn view(row: RolloutRow, steps: Vec<RolloutStepRow>) -> Result<Rollout, Error> {
    let steps = steps
        .into_iter()
        .map(|s| {
            Ok(Step {
                index: s.step_index,
                wave: s.wave,
                clusters: serde_json::from_str(&s.clusters).map_err(|e| internal("step", e))?,
                applied_at: s.applied_at,
                skipped: serde_json::from_str(&s.skipped).map_err(|e| internal("step's skipped", e))?,
                failed: serde_json::from_str(&s.failed).map_err(|e| internal("step's failures", e))?,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Rollout {
        id: row.id,
        kind: row.kind,
        artifact: row.artifact,
        component: row.component,
        oci_tag: row.oci_tag,
        component_paths: serde_json::from_str(&row.component_paths).map_err(|e| internal("paths", e))?,
        state: RolloutState::from_stored(&row.state)?,
        steps_applied: row.current_step,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
        reason: row.reason,
        waves: serde_json::from_str(&row.waves).map_err(|e| internal("waves", e))?,
        steps,
        skipped: serde_json::from_str(&row.skipped).map_err(|e| internal("skipped", e))?,
        halted_reason: row.halted_reason,
        break_glass: row.break_glass,
        approvals: Vec::new(),
        waiting: None,
    })
}

/// Every rollout, newest first.
pub fn list(state: &AppState) -> Result<Vec<Rollout>, Error> {
    let mut conn = state.conn()?;
    let rows = db::all(&mut conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(shown(state, &mut conn, id)?);
    }
    Ok(out)
}

pub fn get(state: &AppState, id: i64) -> Result<Rollout, Error> {
    let mut conn = state.conn()?;
    shown(state, &mut conn, id)
}

/// A rollout as people read it: with what it waits for now.
fn shown(state: &AppState, conn: &mut crate::db::DbConnection, id: i64) -> Result<Rollout, Error> {
    let mut r = load(conn, id)?;
    if r.state.is_active() {
        let (_, catalog) = state.catalog(conn)?;
        waits::annotate(conn, &catalog, state.clock.now(), &mut r)?;
    }
    Ok(r)
}

/// At most one active rollout per component per cluster: the first overlap is a 409 naming it.
/// Refuses `what` when an active rollout moves one of `components`: its completion would set
/// the catalog default to its own tag and path, silently undoing (or downgrading) the change.
pub fn refuse_if_moving<'a>(
    conn: &mut crate::db::DbConnection,
    components: impl IntoIterator<Item = &'a str>,
    what: &str,
) -> Result<(), Error> {
    let wanted: BTreeSet<&str> = components.into_iter().collect();
    for other in db::in_states(conn, &RolloutState::names(&ACTIVE))? {
        let moves: BTreeMap<String, Option<String>> =
            serde_json::from_str(&other.component_paths).map_err(|e| internal("paths", e))?;
        if let Some(c) = moves.keys().find(|c| wanted.contains(c.as_str())) {
            return Err(Error::Conflict(format!(
                "rollout {} ({}) is moving {c} to {}: complete or abort it before {what}",
                other.id, other.state, other.oci_tag
            )));
        }
    }
    Ok(())
}

fn check_conflicts(ctx: &mut Ctx<'_>, targets: &[Planned]) -> Result<(), Error> {
    let mine: BTreeSet<(&str, &str)> = targets
        .iter()
        .flat_map(|(_, s)| s.components.iter().map(|c| (s.cluster.as_str(), c.component.as_str())))
        .collect();
    for other in db::in_states(ctx.conn, &RolloutState::names(&ACTIVE))? {
        for step in db::steps(ctx.conn, other.id)? {
            let clusters: Vec<StepCluster> = serde_json::from_str(&step.clusters).map_err(|e| internal("step", e))?;
            for c in &clusters {
                if let Some(x) = c
                    .components
                    .iter()
                    .find(|x| mine.contains(&(c.cluster.as_str(), x.component.as_str())))
                {
                    return Err(Error::Conflict(format!(
                        "rollout {} ({}) already moves {} on cluster {}; complete or abort it first",
                        other.id, other.state, x.component, c.cluster
                    )));
                }
            }
        }
    }
    Ok(())
}
