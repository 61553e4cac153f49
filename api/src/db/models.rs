//! Database rows, as stored. Domain types and wire DTOs are built from them elsewhere.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    api_tokens, artifact_tags, assignments, audit_log, catalog_revisions, cluster_revisions, clusters, holds,
    rollout_approvals, rollout_pins, rollout_steps, rollouts,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = catalog_revisions)]
pub struct CatalogRevisionRow {
    pub revision: i64,
    pub document: String,
    pub sha256: String,
    pub source: String,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = artifact_tags)]
pub struct ArtifactTagRow {
    pub artifact_id: String,
    pub tag: String,
    pub digest: Option<String>,
    pub actor: String,
    pub registered_at: NaiveDateTime,
    /// When a registry sync first saw the tag; `None` for tags only registered through the API.
    pub first_seen_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = clusters, treat_none_as_null = true)]
pub struct ClusterRow {
    pub name: String,
    pub tier: String,
    /// Labels as a JSON object of strings.
    pub labels: String,
    pub enabled: bool,
    pub flux_namespace: String,
    pub oci_tag: Option<String>,
    pub revision: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = assignments, treat_none_as_null = true)]
pub struct AssignmentRow {
    pub cluster: String,
    pub component: String,
    pub enabled: bool,
    pub oci_tag: Option<String>,
    pub component_path: Option<String>,
    pub reason: Option<String>,
    pub author: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

/// The columns of an assignment that resolution reads: a fleet-wide write reads one row per
/// cluster and component, so who wrote it and when are left out.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = assignments)]
pub struct AssignmentInput {
    pub cluster: String,
    pub component: String,
    pub enabled: bool,
    pub oci_tag: Option<String>,
    pub component_path: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cluster_revisions)]
pub struct ClusterRevisionRow {
    pub cluster: String,
    pub revision: i64,
    /// The effective config, as `store::EffectiveRecord` JSON.
    pub effective: String,
    pub sha256: String,
    pub catalog_revision: i64,
    pub actor: String,
    pub reason: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub request_id: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditRow {
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub request_id: String,
}

/// An API token as stored: the hash of its secret, never the secret.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub token_id: String,
    pub secret_sha256: String,
    pub role: String,
    pub cluster: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewTokenRow {
    pub name: String,
    pub token_id: String,
    pub secret_sha256: String,
    pub role: String,
    pub cluster: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

/// A rollout as stored; `component_paths` and `waves` are JSON (see the migration).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rollouts)]
pub struct RolloutRow {
    pub id: i64,
    pub kind: String,
    pub artifact: String,
    pub component: Option<String>,
    pub oci_tag: String,
    pub component_paths: String,
    pub waves: String,
    pub state: String,
    pub current_step: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub reason: Option<String>,
    pub skipped: String,
    pub halted_reason: Option<String>,
    pub break_glass: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = rollouts)]
pub struct NewRolloutRow {
    pub kind: String,
    pub artifact: String,
    pub component: Option<String>,
    pub oci_tag: String,
    pub component_paths: String,
    pub waves: String,
    pub state: String,
    pub current_step: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub reason: Option<String>,
    pub skipped: String,
    /// The break-glass reason it was created with: its later steps apply with it.
    pub break_glass: Option<String>,
}

/// One step of a rollout; `clusters` is JSON: each cluster with from/to per component.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rollout_steps)]
pub struct RolloutStepRow {
    pub rollout: i64,
    pub step_index: i64,
    pub wave: i64,
    pub clusters: String,
    pub applied_at: Option<NaiveDateTime>,
    pub skipped: String,
    pub failed: String,
}

/// What an applied step sets for one component on one cluster.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rollout_pins)]
pub struct RolloutPinRow {
    pub rollout: i64,
    pub cluster: String,
    pub component: String,
    pub oci_tag: Option<String>,
    pub component_path: Option<String>,
}

/// One operator's approval of a rollout's wave.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rollout_approvals)]
pub struct RolloutApprovalRow {
    pub rollout: i64,
    pub wave: i64,
    pub actor: String,
    pub approved_at: NaiveDateTime,
}

/// A hold as stored: `cluster`, `component` or both say what it covers.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = holds)]
pub struct HoldRow {
    pub id: i64,
    pub cluster: Option<String>,
    pub component: Option<String>,
    pub reason: String,
    pub expires_at: Option<NaiveDateTime>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = holds)]
pub struct NewHoldRow {
    pub cluster: Option<String>,
    pub component: Option<String>,
    pub reason: String,
    pub expires_at: Option<NaiveDateTime>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}
