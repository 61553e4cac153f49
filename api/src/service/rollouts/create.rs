//! Creating a rollout: its targets and waves planned, the paths it needs checked, the plan
//! stored with its steps.

use std::collections::{BTreeMap, BTreeSet};

use catalog::{Artifact, ComponentPath};

use super::targets::{check_named_skipped, targets, Planned};
use super::waves::{self, Target, Wave};
use super::{approvals, check_conflicts, load, CreateRollout, Moves, Rollout, RolloutState, StepCluster};
use crate::db::models::{NewRolloutRow, RolloutStepRow};
use crate::error::{Error, Field};
use crate::service::{AppState, Caller, Ctx, Outcome};
use crate::store::{self, rollouts as db};

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

/// Stores a planned rollout and one step per planned group of clusters, audits it, and holds
/// its first wave when that wave reaches a tier that asks for approvals.
pub(super) fn store_rollout(
    ctx: &mut Ctx<'_>,
    row: &NewRolloutRow,
    plan: &waves::Plan,
    planned: &[Planned],
) -> Result<Rollout, Error> {
    let id = db::insert(ctx.conn, row)?;
    let by_name: BTreeMap<&str, &StepCluster> = planned.iter().map(|(t, s)| (t.name.as_str(), s)).collect();
    let mut index = 0;
    for (wave, (_, steps)) in plan.iter().enumerate() {
        for names in steps {
            let clusters: Vec<&StepCluster> = names.iter().filter_map(|n| by_name.get(n.as_str()).copied()).collect();
            let step = RolloutStepRow {
                rollout: id,
                step_index: index,
                wave: wave as i64,
                clusters: crate::service::json_text(&clusters),
                applied_at: None,
                skipped: "[]".into(),
                failed: "[]".into(),
            };
            db::insert_step(ctx.conn, &step)?;
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
        let row = NewRolloutRow {
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
        };
        store_rollout(ctx, &row, &plan, &targets)
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
