//! Rollouts: a tag (and paths) of one component or a whole release, moved across the fleet
//! in waves of steps.
//!
//! The plan is fixed when the rollout is created: every step's clusters, with from/to per
//! component, are stored. An applied step leaves rollout pins, which resolution puts above
//! everything else; completion moves the catalog default and drops the pins, abort just drops
//! them. Step actions live in [`steps`], wave planning in [`waves`].

mod approvals;
mod choices;
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

use catalog::{Artifact, ArtifactId, ClusterName, ComponentId, ComponentPath, OciTag, TierName};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{AppState, Caller, Ctx, Outcome, TagPath};
use crate::db::models::{NewRolloutRow, RolloutRow, RolloutStepRow};
use crate::error::{Error, Field};
use crate::service::time::Span;
use crate::store::{self, rollouts as db};
pub use approvals::{approve, ApprovalGiven};
pub use choices::{Approval, OnFailure};
pub use steps::{abort, advance, pause, resume};
use targets::{check_named_skipped, targets, Planned};
use waves::{Target, Wave};

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

/// Plans and stores a rollout in state `planned`; nothing changes on any cluster yet.
///
/// With path verification on, every (tag, path, tier) of the plan is checked against the build
/// before anything is stored, so neither a person nor the runner meets a missing path mid-way.
pub fn create(
    state: &AppState,
    caller: &Caller,
    spec: CreateRollout,
    dry_run: bool,
) -> Result<Outcome<Rollout>, Error> {
    if !state.verifies_paths() {
        return plan_and_store(state, caller, &spec, dry_run);
    }
    let plan = plan_and_store(state, caller, &spec, true)?;
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    let need = files_needed(&mut conn, &plan.value)?;
    crate::service::verify::check_files(state, &catalog, &mut conn, need)?;
    drop(conn);
    if dry_run {
        return Ok(plan);
    }
    plan_and_store(state, caller, &spec, false)
}

/// The overlay files each build the rollout deploys must hold: `<path>/<tier>/kustomization.yaml`.
fn files_needed(
    conn: &mut crate::db::DbConnection,
    r: &Rollout,
) -> Result<BTreeMap<(String, String), BTreeSet<String>>, Error> {
    let tiers: BTreeMap<String, String> = store::clusters(conn)?.into_iter().map(|c| (c.name, c.tier)).collect();
    let mut need: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for cluster in r.steps.iter().flat_map(|s| &s.clusters) {
        let Some(tier) = tiers.get(&cluster.cluster) else {
            continue;
        };
        for c in &cluster.components {
            need.entry((r.artifact.clone(), c.to.oci_tag.clone()))
                .or_default()
                .insert(format!(
                    "{}/{tier}/kustomization.yaml",
                    c.to.component_path.trim_start_matches("./").trim_end_matches('/')
                ));
        }
    }
    Ok(need)
}

fn plan_and_store(
    state: &AppState,
    caller: &Caller,
    spec: &CreateRollout,
    dry_run: bool,
) -> Result<Outcome<Rollout>, Error> {
    let tag = spec.oci_tag.clone();
    let (kind, component) = match &spec.moves {
        Moves::Component(id) => ("component", Some(id.to_string())),
        Moves::Release(_) => ("release", None),
    };
    let paths: BTreeMap<String, ComponentPath> = (spec.component_paths.iter())
        .map(|(id, p)| (id.to_string(), p.clone()))
        .collect();
    state.write(caller, dry_run, "rollout planned", |ctx| {
        let (artifact, components) = moved(ctx, spec)?;
        if let Some(id) = paths.keys().find(|id| !components.contains(*id)) {
            return Err(Error::refused(
                Field::new("component_paths").named(id.to_string()),
                format!("the rollout does not move {id}"),
            ));
        }
        let (targets, skipped) = targets(ctx, &components, &tag, &paths)?;
        if targets.is_empty() {
            let why = match skipped.first() {
                Some(s) => format!(" (all skipped; first: {} on {}, {})", s.component, s.cluster, s.detail),
                None => String::new(),
            };
            return Err(Error::refused(
                Field::whole(),
                format!("no enabled cluster runs what the rollout would move{why}"),
            ));
        }
        check_named_skipped(spec.waves.as_deref(), &targets, &skipped)?;
        let tiers: BTreeSet<&str> = targets.iter().map(|(t, _)| t.tier.as_str()).collect();
        crate::service::releases::check_tag_in_tiers(ctx, artifact.id.as_str(), &tag, |t| tiers.contains(t))?;
        let known: BTreeSet<String> = store::clusters(ctx.conn)?.into_iter().map(|c| c.name).collect();
        let planned: Vec<Target> = targets.iter().map(|(t, _)| t.clone()).collect();
        let plan = waves::plan(ctx.catalog(), &planned, spec.waves.as_deref(), &known)?;
        check_conflicts(ctx, &targets)?;
        let component_paths: BTreeMap<&String, Option<&str>> = components
            .iter()
            .map(|c| (c, paths.get(c).map(ComponentPath::as_str)))
            .collect();
        let waves: Vec<&Wave> = plan.iter().map(|(w, _)| w).collect();
        let id = db::insert(
            ctx.conn,
            &NewRolloutRow {
                kind: kind.into(),
                artifact: artifact.id.to_string(),
                component,
                oci_tag: tag.to_string(),
                component_paths: crate::service::json_text(&component_paths),
                waves: crate::service::json_text(&waves),
                state: RolloutState::Planned.as_str().to_owned(),
                current_step: 0,
                created_by: ctx.caller().actor.clone(),
                created_at: ctx.now,
                updated_at: ctx.now,
                reason: spec.reason.clone(),
                skipped: crate::service::json_text(&skipped),
                break_glass: ctx.caller().break_glass.clone(),
            },
        )?;
        let by_name: BTreeMap<&str, &StepCluster> = targets.iter().map(|(t, s)| (t.name.as_str(), s)).collect();
        let mut index = 0;
        for (wave, (_, steps)) in plan.iter().enumerate() {
            for names in steps {
                let clusters: Vec<&StepCluster> =
                    names.iter().filter_map(|n| by_name.get(n.as_str()).copied()).collect();
                db::insert_step(
                    ctx.conn,
                    &RolloutStepRow {
                        rollout: id,
                        step_index: index,
                        wave: wave as i64,
                        clusters: crate::service::json_text(&clusters),
                        applied_at: None,
                        skipped: "[]".into(),
                        failed: "[]".into(),
                    },
                )?;
                index += 1;
            }
        }
        let rollout = load(ctx.conn, id)?;
        ctx.audit(
            "rollout.create",
            &format!("rollout/{id}"),
            None::<&()>,
            Some(&summary(&rollout)),
        );
        match approvals::hold_if_needed(ctx, id)? {
            true => load(ctx.conn, id),
            false => Ok(rollout),
        }
    })
}

/// What the audit log keeps of a rollout.
fn summary(r: &Rollout) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "kind": r.kind, "artifact": r.artifact, "component": r.component, "oci_tag": r.oci_tag,
        "component_paths": r.component_paths, "state": r.state, "steps_applied": r.steps_applied, "skipped": r.skipped,
        "steps": r.steps.iter().map(|s| s.clusters.iter().map(|c| c.cluster.clone()).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

/// The artifact and the components a rollout moves: the one component, or every component of
/// the artifact that follows its default tag.
fn moved(ctx: &Ctx<'_>, spec: &CreateRollout) -> Result<(Artifact, BTreeSet<String>), Error> {
    let catalog = ctx.catalog();
    let name = match &spec.moves {
        Moves::Component(id) => {
            let c = (catalog.component(id.as_str()))
                .ok_or_else(|| Error::refused("component", format!("unknown component {:?}", id.as_str())))?;
            return Ok((catalog.artifact_of(c).clone(), BTreeSet::from([id.to_string()])));
        }
        Moves::Release(name) => name,
    };
    let artifact = catalog
        .artifacts()
        .iter()
        .find(|a| &a.id == name)
        .cloned()
        .ok_or_else(|| {
            let known: Vec<&str> = catalog.artifacts().iter().map(|a| a.id.as_str()).collect();
            Error::refused(
                "release",
                format!("unknown artifact {:?} (known: {})", name.as_str(), known.join(", ")),
            )
        })?;
    let components: BTreeSet<String> = catalog
        .components()
        .iter()
        .filter(|c| c.artifact == artifact.id && c.oci_tag.is_none())
        .map(|c| c.id.to_string())
        .collect();
    if components.is_empty() {
        return Err(Error::refused(
            "release",
            format!("every component of {name} has its own tag; roll them out one by one"),
        ));
    }
    Ok((artifact, components))
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
