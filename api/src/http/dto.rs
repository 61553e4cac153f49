//! Wire types: what the API reads and writes. Only these derive `ToSchema`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::{ClusterChange, ComponentChange, TagPath};

/// A catalog component as the API and COMPONENTS.yaml write it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentInput {
    /// DNS-1123 label, unique; also the name of the component's Flux objects.
    pub id: String,
    pub category: String,
    /// The artifact id; optional when the catalog has one artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// Relative path inside the artifact, without `..` or a leading `/`.
    pub component_path: String,
    /// This component's own default tag; without it the artifact's applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Flux duration, default `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Flux duration, default `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A catalog component with every setting resolved.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComponentDto {
    pub id: String,
    pub category: String,
    pub artifact: String,
    pub component_path: String,
    pub oci_tag: Option<String>,
    pub target_namespace: Option<String>,
    pub depends_on: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub prune: bool,
    pub wait: bool,
    pub enabled: bool,
}

/// A cluster as written: tier, labels, enabled, Flux namespace, optional cluster-wide tag pin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterInput {
    /// DNS-1123 label; required on create, must match the path on PUT.
    #[serde(default)]
    pub name: Option<String>,
    pub tier: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Default `flux-system`.
    #[serde(default)]
    pub flux_namespace: Option<String>,
    /// A tag every component of the cluster follows unless overridden.
    #[serde(default)]
    pub oci_tag: Option<String>,
    /// Components to assign on create; default: every enabled catalog component.
    #[serde(default)]
    pub components: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterDto {
    pub name: String,
    pub tier: String,
    pub labels: BTreeMap<String, String>,
    pub enabled: bool,
    pub flux_namespace: String,
    pub oci_tag: Option<String>,
    /// The cluster's current revision.
    pub revision: i64,
    pub updated_at: String,
}

/// A component on a cluster, with optional overrides.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInput {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Override of the tag (canary, hotfix, rollback, …).
    #[serde(default)]
    pub oci_tag: Option<String>,
    /// Override of the path inside the artifact.
    #[serde(default)]
    pub component_path: Option<String>,
    /// Why the override exists: canary, hotfix, rollback, …
    #[serde(default)]
    pub reason: Option<String>,
    /// RFC 3339; after it the override is ignored.
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssignmentDto {
    pub cluster: String,
    pub component: String,
    pub enabled: bool,
    pub oci_tag: Option<String>,
    pub component_path: Option<String>,
    pub reason: Option<String>,
    pub author: String,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// The tag and path a component runs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagPathDto {
    pub oci_tag: String,
    pub component_path: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComponentChangeDto {
    pub component: String,
    pub from: Option<TagPathDto>,
    pub to: Option<TagPathDto>,
}

/// A cluster whose effective config the write changes (or, on a dry run, would change).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterChangeDto {
    pub cluster: String,
    pub from_revision: Option<i64>,
    pub to_revision: i64,
    pub components: Vec<ComponentChangeDto>,
}

/// What a write does: on a dry run, the plan; otherwise what it did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanDto {
    pub dry_run: bool,
    pub catalog_revision: i64,
    pub changes: Vec<ClusterChangeDto>,
}

fn tag_path(t: &Option<TagPath>) -> Option<TagPathDto> {
    t.as_ref().map(|t| TagPathDto {
        oci_tag: t.oci_tag.clone(),
        component_path: t.component_path.clone(),
    })
}

impl From<&ComponentChange> for ComponentChangeDto {
    fn from(c: &ComponentChange) -> Self {
        ComponentChangeDto {
            component: c.component.clone(),
            from: tag_path(&c.from),
            to: tag_path(&c.to),
        }
    }
}

impl From<&ClusterChange> for ClusterChangeDto {
    fn from(c: &ClusterChange) -> Self {
        ClusterChangeDto {
            cluster: c.cluster.clone(),
            from_revision: c.from_revision,
            to_revision: c.to_revision,
            components: c.components.iter().map(Into::into).collect(),
        }
    }
}

impl PlanDto {
    pub fn new(dry_run: bool, catalog_revision: i64, changes: &[ClusterChange]) -> Self {
        PlanDto {
            dry_run,
            catalog_revision,
            changes: changes.iter().map(Into::into).collect(),
        }
    }
}

/// A page of a list; `next_cursor` is absent on the last page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
