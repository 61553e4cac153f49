//! Wire types of `/api/v1/holds`, `/api/v1/hotfixes`, and what releases and rollouts left alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::{ClusterChangeDto, PlanDto, PlanView};
use crate::service::holds::{Hold, Kept};
use crate::service::releases::LeftAlone;
use crate::service::rollouts::Skipped;

fn time(t: chrono::NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A hold to place: a `cluster`, a `component`, or both (that component on that cluster).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldInput {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub component: Option<String>,
    /// Why nothing may move it (required).
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
    /// When the hold ends by itself (RFC 3339); absent: when it is deleted.
    #[serde(default)]
    #[schema(format = DateTime, example = "2026-12-31T00:00:00Z")]
    pub expires_at: Option<String>,
}

/// A hold: while active, no rollout, release or hotfix moves what it covers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HoldDto {
    pub id: i64,
    pub cluster: Option<String>,
    pub component: Option<String>,
    pub reason: String,
    pub expires_at: Option<String>,
    /// Whether it holds now (not past `expires_at`).
    pub active: bool,
    pub created_by: String,
    pub created_at: String,
}

impl HoldDto {
    pub fn new(h: &Hold, now: chrono::NaiveDateTime) -> Self {
        HoldDto {
            id: h.id,
            cluster: h.cluster.clone(),
            component: h.component.clone(),
            reason: h.reason.clone(),
            expires_at: h.expires_at.map(time),
            active: h.active_at(now),
            created_by: h.created_by.clone(),
            created_at: time(h.created_at),
        }
    }
}

/// A component on a cluster a change left alone, and why: `held`, `pinned` (a cluster-wide
/// pin decides its tag), `override` (a newer override decides it) or `rollout` (a rollout
/// moves it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SkippedDto {
    pub cluster: String,
    pub component: String,
    pub reason: String,
    pub detail: String,
}

impl From<&Skipped> for SkippedDto {
    fn from(s: &Skipped) -> Self {
        SkippedDto {
            cluster: s.cluster.clone(),
            component: s.component.clone(),
            reason: s.reason.clone(),
            detail: s.detail.clone(),
        }
    }
}

/// A held component a release kept at what it ran, with an override (reason `hold <id>`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeldDto {
    pub cluster: String,
    pub component: String,
    pub oci_tag: String,
    pub hold: i64,
}

impl From<&Kept> for HeldDto {
    fn from(k: &Kept) -> Self {
        HeldDto {
            cluster: k.cluster.clone(),
            component: k.component.clone(),
            oci_tag: k.oci_tag.clone(),
            hold: k.hold,
        }
    }
}

/// A component a release did not move, and why: `own_tag` (it follows a tag of its own;
/// `cluster` is null), `override` (that cluster's override decides its tag) or `pinned` (that
/// cluster's pin decides it). Held components are listed in `held` instead.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LeftAloneDto {
    pub component: String,
    pub cluster: Option<String>,
    pub reason: String,
    pub detail: String,
}

impl From<&LeftAlone> for LeftAloneDto {
    fn from(l: &LeftAlone) -> Self {
        LeftAloneDto {
            component: l.component.clone(),
            cluster: l.cluster.clone(),
            reason: l.reason.to_owned(),
            detail: l.detail.clone(),
        }
    }
}

/// What a release did (on a dry run, would do), the held components it kept, and what it left
/// alone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReleaseDto {
    #[serde(flatten)]
    pub plan: PlanDto,
    pub held: Vec<HeldDto>,
    pub left_alone: Vec<LeftAloneDto>,
}

/// A [`ReleaseDto`] as it is written out, its changes borrowed (see [`PlanView`]).
#[derive(Serialize)]
pub struct ReleaseView<'a> {
    #[serde(flatten)]
    pub plan: PlanView<'a>,
    pub held: Vec<HeldDto>,
    pub left_alone: Vec<LeftAloneDto>,
}

/// Clusters a hotfix selects: every given selector must match.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectorInput {
    #[serde(default)]
    pub tiers: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub clusters: Vec<String>,
}

/// A hotfix: `component` pinned to `oci_tag` (and `component_path`) on the selected clusters.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HotfixInput {
    pub component: String,
    #[schema(
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
        min_length = 1,
        max_length = 128,
        example = "v1.2.0"
    )]
    pub oci_tag: String,
    #[serde(default)]
    #[schema(
        pattern = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        min_length = 1,
        max_length = 512,
        example = "observability/grafana/7.3.9"
    )]
    pub component_path: Option<String>,
    pub selector: SelectorInput,
    /// Stored in the overrides' reason after `hotfix: `.
    #[serde(default)]
    pub reason: Option<String>,
    /// Admin only: skip the evidence and change-window rules for this write, saying why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<super::dto::BreakGlassInput>,
}

/// What a hotfix did (on a dry run, would do).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HotfixDto {
    pub dry_run: bool,
    pub component: String,
    pub oci_tag: String,
    /// The clusters now overridden to the hotfix.
    pub clusters: Vec<String>,
    pub skipped: Vec<SkippedDto>,
    pub changes: Vec<ClusterChangeDto>,
}
