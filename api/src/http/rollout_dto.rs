//! Wire types of `/api/v1/rollouts`.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use catalog::{ArtifactId, ClusterName, ComponentId, ComponentPath, OciTag, TierName};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::{ClusterChangeDto, ComponentChangeDto, TagPathDto};
use super::hold_dto::SkippedDto;
use crate::error::{Error, Field};
use crate::service::rollouts::{
    Approval, CreateRollout, CreateWave, Moves, OnFailure, Rollout, Step, StepCluster, StepComponent,
};
use crate::service::time::Span;
use crate::service::ClusterChange;

/// A rollout to plan: exactly one of `component` or `release`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutInput {
    /// One catalog component: its own tag (and path) moves.
    #[serde(default)]
    pub component: Option<String>,
    /// An artifact id: every component following its default tag moves, then the default.
    #[serde(default)]
    pub release: Option<String>,
    /// The build to roll out; every target cluster's tier policy must allow it.
    #[schema(
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
        min_length = 1,
        max_length = 128,
        example = "v1.2.0"
    )]
    pub oci_tag: String,
    /// New version directories, per moved component.
    #[serde(default)]
    pub component_paths: BTreeMap<String, String>,
    /// Absent: one canary cluster of the lowest tier, then each tier in order, the last tier
    /// (prod) in batches of 10%.
    #[serde(default)]
    pub waves: Option<Vec<WaveInput>>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Admin only: skip the evidence and change-window rules for this write, saying why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<super::dto::BreakGlassInput>,
}

/// A wave: the clusters every given selector matches, among those no earlier wave took.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaveInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tiers: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Clusters changed per step; default: the whole wave at once.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub batch_size: Option<u32>,
    /// Minimum time (`10m`, `2h`) after each of this wave's steps before the next step (or the
    /// completion) may apply.
    #[serde(default)]
    #[schema(pattern = r"^[1-9][0-9]{0,9}[smhdw]$", example = "7d")]
    pub soak: Option<String>,
    /// Failed clusters the wave tolerates (default 0): when the step gate reports more, the
    /// runner halts the rollout.
    #[serde(default)]
    pub max_failures: Option<u32>,
    /// `manual` (default): each of the wave's steps waits for `POST .../advance`. `auto`: the
    /// rollout runner applies them itself once the step gate lets it (by default: every cluster
    /// of the previous step reported its new revision ready through Flux events, and the soak
    /// has passed; `serve --rollout-gate soak` waits for the soak alone); for the last wave,
    /// the completion too.
    #[serde(default)]
    pub approval: Option<String>,
    /// What passing `max_failures` does: `halt` (default; stop with what is applied kept),
    /// `abort` (stop and return every cluster the rollout changed to what it ran before) or
    /// `rollback` (as `abort`, the audit entry naming the failure events that decided it).
    #[serde(default)]
    pub on_failure: Option<String>,
}

impl TryFrom<RolloutInput> for CreateRollout {
    type Error = Error;
    fn try_from(i: RolloutInput) -> Result<Self, Error> {
        let oci_tag = Field::new("oci_tag").parsed(OciTag::parse(&i.oci_tag))?;
        let moves = match (i.component, i.release) {
            (Some(c), None) => Moves::Component(Field::new("component").parsed(ComponentId::parse(&c))?),
            (None, Some(a)) => Moves::Release(Field::new("release").parsed(ArtifactId::parse(&a))?),
            _ => {
                return Err(Error::refused(
                    Field::whole(),
                    "name exactly one of `component` (one component) or `release` (an artifact)",
                ))
            }
        };
        let mut component_paths = BTreeMap::new();
        for (id, path) in &i.component_paths {
            let at = Field::new("component_paths").named(id.clone());
            component_paths.insert(
                at.parsed(ComponentId::parse(id))?,
                at.parsed(ComponentPath::parse(path))?,
            );
        }
        let waves = (i
            .waves
            .map(|list| list.into_iter().enumerate().map(CreateWave::try_from).collect()))
        .transpose()?;
        Ok(CreateRollout {
            moves,
            oci_tag,
            component_paths,
            waves,
            reason: i.reason,
        })
    }
}

impl TryFrom<(usize, WaveInput)> for CreateWave {
    type Error = Error;
    fn try_from((n, w): (usize, WaveInput)) -> Result<Self, Error> {
        let at = |field: &'static str| Field::new("waves").index(n).field(field);
        Ok(CreateWave {
            tiers: (w.tiers.iter().enumerate())
                .map(|(j, t)| at("tiers").index(j).parsed(TierName::parse(t)))
                .collect::<Result<_, _>>()?,
            clusters: (w.clusters.iter().enumerate())
                .map(|(j, c)| at("clusters").index(j).parsed(ClusterName::parse(c)))
                .collect::<Result<_, _>>()?,
            batch_size: (w.batch_size)
                .map(|b| at("batch_size").parsed(NonZeroU32::new(b).ok_or("must be at least 1")))
                .transpose()?,
            soak: (w.soak.as_deref())
                .map(|s| at("soak").parsed(Span::parse(s)))
                .transpose()?,
            approval: (w.approval.as_deref())
                .map_or(Ok(Approval::Manual), |a| at("approval").parsed(Approval::parse(a)))?,
            on_failure: (w.on_failure.as_deref())
                .map_or(Ok(OnFailure::Halt), |f| at("on_failure").parsed(OnFailure::parse(f)))?,
            max_failures: w.max_failures.unwrap_or(0),
            labels: w.labels,
            name: w.name,
        })
    }
}

/// A rollout and its progress. On a dry run nothing is stored: `dry_run` is true and `id` and
/// `state` are null.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RolloutDto {
    /// Whether this is only a plan (`?dry_run=true`), not a stored rollout.
    pub dry_run: bool,
    /// The stored rollout's id; null on a dry run.
    pub id: Option<i64>,
    /// `component` or `release`.
    pub kind: String,
    pub artifact: String,
    pub component: Option<String>,
    pub oci_tag: String,
    /// Each moved component and its new path (`null`: the path stays).
    pub component_paths: BTreeMap<String, Option<String>>,
    /// Null on a dry run of its creation: nothing is stored yet.
    pub state: Option<crate::service::rollouts::RolloutState>,
    /// Why the runner halted it, when `halted`.
    pub halted_reason: Option<String>,
    /// The break-glass reason it was created with: each of its steps applies with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<String>,
    pub steps_applied: i64,
    pub steps_total: usize,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub reason: Option<String>,
    pub waves: Vec<WaveDto>,
    /// What planning left out: held, pinned, or decided by a newer override.
    pub skipped: Vec<SkippedDto>,
    /// Who approved which wave, and when (waves reaching tiers that ask for approvals).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<super::safety_dto::ApprovalDto>,
    /// What the rollout waits for now: approvals, or the change window of the tiers its next
    /// automatic step reaches (with the next opening).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WaveDto {
    pub name: String,
    pub tiers: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub clusters: Vec<String>,
    pub batch_size: Option<u32>,
    pub soak: Option<String>,
    pub max_failures: u32,
    pub approval: String,
    pub on_failure: String,
    pub steps: Vec<StepDto>,
}

/// One step: its clusters with from/to per component (as planned), and when it was applied.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StepDto {
    pub index: i64,
    pub applied_at: Option<String>,
    pub clusters: Vec<StepClusterDto>,
    /// What the step left out when it applied: held since planning.
    pub skipped: Vec<SkippedDto>,
    /// Clusters the step gate reported failed after this step.
    pub failed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StepClusterDto {
    pub cluster: String,
    /// `pending` (its step has not applied), `applied`, `skipped` (held when its step applied:
    /// nothing of it moved) or `failed` (the step gate reported it failed).
    pub state: String,
    pub components: Vec<ComponentChangeDto>,
}

/// Where one cluster of a step stands.
fn cluster_state(step: &Step, c: &StepCluster) -> &'static str {
    let skipped = |x: &StepComponent| {
        step.skipped
            .iter()
            .any(|s| s.cluster == c.cluster && s.component == x.component)
    };
    if step.failed.contains(&c.cluster) {
        "failed"
    } else if step.applied_at.is_none() {
        "pending"
    } else if c.components.iter().all(skipped) {
        "skipped"
    } else {
        "applied"
    }
}

/// What a rollout action did (on a dry run, would do): the rollout after it, and the clusters
/// whose effective config changed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RolloutActionDto {
    pub dry_run: bool,
    pub rollout: RolloutDto,
    pub changes: Vec<ClusterChangeDto>,
}

fn time(t: chrono::NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn change(c: &StepComponent) -> ComponentChangeDto {
    let tp = |t: &crate::service::TagPath| TagPathDto {
        oci_tag: t.oci_tag.clone(),
        component_path: t.component_path.clone(),
    };
    ComponentChangeDto {
        component: c.component.clone(),
        from: c.from.as_ref().map(tp),
        to: Some(tp(&c.to)),
    }
}

impl From<&Rollout> for RolloutDto {
    fn from(r: &Rollout) -> Self {
        let waves = r
            .waves
            .iter()
            .enumerate()
            .map(|(i, w)| WaveDto {
                name: w.name.clone(),
                tiers: w.tiers.clone(),
                labels: w.labels.clone(),
                clusters: w.clusters.clone(),
                batch_size: w.batch_size,
                soak: w.soak.clone(),
                max_failures: w.max_failures,
                approval: w.approval.clone(),
                on_failure: w.on_failure.clone(),
                steps: r
                    .steps
                    .iter()
                    .filter(|s| s.wave == i as i64)
                    .map(|s| StepDto {
                        index: s.index,
                        applied_at: s.applied_at.map(time),
                        clusters: s
                            .clusters
                            .iter()
                            .map(|c| StepClusterDto {
                                cluster: c.cluster.clone(),
                                state: cluster_state(s, c).to_owned(),
                                components: c.components.iter().map(change).collect(),
                            })
                            .collect(),
                        skipped: s.skipped.iter().map(SkippedDto::from).collect(),
                        failed: s.failed.clone(),
                    })
                    .collect(),
            })
            .collect();
        RolloutDto {
            dry_run: false,
            id: Some(r.id),
            kind: r.kind.clone(),
            artifact: r.artifact.clone(),
            component: r.component.clone(),
            oci_tag: r.oci_tag.clone(),
            component_paths: r.component_paths.clone(),
            state: Some(r.state),
            halted_reason: r.halted_reason.clone(),
            break_glass: r.break_glass.clone(),
            steps_applied: r.steps_applied,
            steps_total: r.steps.len(),
            created_by: r.created_by.clone(),
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
            reason: r.reason.clone(),
            waves,
            skipped: r.skipped.iter().map(SkippedDto::from).collect(),
            approvals: r
                .approvals
                .iter()
                .map(|a| super::safety_dto::ApprovalDto {
                    wave: a.wave,
                    by: a.by.clone(),
                    at: time(a.at),
                })
                .collect(),
            waiting: r.waiting.clone(),
        }
    }
}

impl RolloutDto {
    /// The rollout a dry run of its creation planned: nothing was stored, so no id or state.
    pub fn planned_only(r: &Rollout) -> Self {
        RolloutDto {
            dry_run: true,
            id: None,
            state: None,
            ..r.into()
        }
    }
}

impl RolloutActionDto {
    pub fn new(dry_run: bool, rollout: &Rollout, changes: &[ClusterChange]) -> Self {
        RolloutActionDto {
            dry_run,
            rollout: RolloutDto {
                dry_run,
                ..rollout.into()
            },
            changes: changes.iter().map(Into::into).collect(),
        }
    }
}
