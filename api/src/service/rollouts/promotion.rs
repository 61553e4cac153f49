//! Rollouts of kind `promotion`: a set of components, each with its own tag and path, moved
//! over one tier's clusters as one rollout (one plan, one gate, one abort for the whole set).
//!
//! Steps already carry each component's own `to` (tag and path), so the step model is shared
//! with every other rollout. What differs is scope and completion: only the target tier's
//! clusters are planned, and completing does not move the catalog default (which every tier
//! follows) but leaves each stepped cluster an override at the promoted build.

use std::collections::BTreeMap;

use catalog::{ComponentId, ComponentPath, OciTag};
use serde_json::json;

use super::targets::{targets, Planned};
use super::waves::{self, Target};
use super::{check_conflicts, CreateWave, Rollout, RolloutState};
use crate::db::models::NewRolloutRow;
use crate::error::{Error, Field};
use crate::service::cluster_model::{AssignmentKey, AssignmentSettings, PutAssignment};
use crate::service::{Ctx, Expected};
use crate::store;

/// One component a promotion moves, and the build it moves to.
#[derive(Clone, Debug)]
pub struct Promoted {
    pub component: String,
    pub artifact: String,
    pub oci_tag: OciTag,
    pub component_path: ComponentPath,
}

/// Plans and stores a promotion's rollout over the clusters of `tier`: the tier's default waves
/// unless `specs` are given. Components a target already runs at the promoted build are no step.
pub(crate) fn plan_in(
    ctx: &mut Ctx<'_>,
    set: &[Promoted],
    tier: &str,
    specs: Option<&[CreateWave]>,
    reason: Option<String>,
) -> Result<Rollout, Error> {
    let mut by_cluster: BTreeMap<String, Planned> = BTreeMap::new();
    let mut skipped = Vec::new();
    for p in set {
        let one = [p.component.clone()].into_iter().collect();
        let paths = BTreeMap::from([(p.component.clone(), p.component_path.clone())]);
        let (found, left) = targets(ctx, &one, &p.oci_tag, &paths)?;
        skipped.extend(left);
        for (target, mut step) in found.into_iter().filter(|(t, _)| t.tier == tier) {
            step.components.retain(|c| c.from.as_ref() != Some(&c.to));
            let entry = by_cluster.entry(target.name.clone()).or_insert_with(|| {
                let empty = super::StepCluster {
                    cluster: step.cluster.clone(),
                    components: Vec::new(),
                };
                (target, empty)
            });
            entry.1.components.append(&mut step.components);
        }
    }
    let planned: Vec<Planned> = by_cluster
        .into_values()
        .filter(|(_, s)| !s.components.is_empty())
        .collect();
    if planned.is_empty() {
        return Err(Error::refused(
            Field::whole(),
            format!("every enabled cluster of tier {tier} already runs the promoted builds"),
        ));
    }
    let known = store::clusters(ctx.conn)?.into_iter().map(|c| c.name).collect();
    let targets: Vec<Target> = planned.iter().map(|(t, _)| t.clone()).collect();
    let plan = waves::plan(ctx.catalog(), &targets, specs, &known)?;
    check_conflicts(ctx, &planned)?;
    let paths: BTreeMap<&str, Option<&str>> = set
        .iter()
        .map(|p| (p.component.as_str(), Some(p.component_path.as_str())))
        .collect();
    let tags: Vec<&str> = set.iter().map(|p| p.oci_tag.as_str()).collect();
    let waves_planned: Vec<&waves::Wave> = plan.iter().map(|(w, _)| w).collect();
    let row = NewRolloutRow {
        kind: "promotion".into(),
        artifact: set.first().map(|p| p.artifact.clone()).unwrap_or_default(),
        component: None,
        // One tag when the set shares it; each component's own is in its steps.
        oci_tag: match tags.iter().all(|t| Some(t) == tags.first()) {
            true => tags.first().copied().unwrap_or_default().to_owned(),
            false => "(per component)".into(),
        },
        component_paths: crate::service::json_text(&paths),
        waves: crate::service::json_text(&waves_planned),
        state: RolloutState::Planned.as_str().to_owned(),
        current_step: 0,
        created_by: ctx.caller().actor.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
        reason,
        skipped: crate::service::json_text(&skipped),
        break_glass: ctx.caller().break_glass.clone(),
    };
    super::create::store_rollout(ctx, &row, &plan, &planned)
}

/// Completes a promotion: each stepped cluster keeps the promoted build as an override (the
/// catalog default, which other tiers follow, stays), then the rollout's pins go.
pub(super) fn complete(ctx: &mut Ctx<'_>, r: &Rollout) -> Result<(), Error> {
    let why = format!("promotion (rollout {})", r.id);
    for step in r.steps.iter().filter(|s| s.applied_at.is_some()) {
        for cluster in &step.clusters {
            for c in &cluster.components {
                let parse = |e: catalog::Error| Error::Internal(format!("rollout {} stored {e}", r.id));
                let command = PutAssignment {
                    key: AssignmentKey {
                        cluster: catalog::ClusterName::parse(&cluster.cluster).map_err(parse)?,
                        component: ComponentId::parse(&c.component).map_err(parse)?,
                        expected: Expected::Any,
                    },
                    settings: AssignmentSettings::parse(
                        true,
                        Some(&c.to.oci_tag),
                        Some(&c.to.component_path),
                        Some(why.clone()),
                        None,
                    )?,
                };
                crate::service::clusters::put_assignment_in(ctx, &command)?;
            }
        }
    }
    super::steps::release_pins(ctx, r.id)?;
    super::steps::mark_completed(
        ctx,
        r,
        json!({"state": "completed", "kind": r.kind, "component_paths": r.component_paths}),
    )
}
