//! The shapes of the merge patches (RFC 7396) the API takes for components and clusters. The
//! handlers merge the patch into the resource as shown and read the result as its input type;
//! these types only describe, for the document, which fields a patch may carry.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

/// A merge patch of a component: only the fields sent change; `null` resets a field to its
/// default. The id cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ComponentPatchInput {
    #[schema(value_type = String, required = false, pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    category: Option<String>,
    /// `null`: the catalog's only artifact.
    #[schema(
        nullable = true,
        pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    artifact: Option<String>,
    #[schema(value_type = String, required = false, pattern = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", min_length = 1, max_length = 512)]
    component_path: Option<String>,
    /// `null`: follow the artifact's tag.
    #[schema(
        nullable = true,
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
        min_length = 1,
        max_length = 128
    )]
    oci_tag: Option<String>,
    #[schema(
        nullable = true,
        pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    target_namespace: Option<String>,
    #[schema(nullable = true)]
    depends_on: Option<Vec<String>>,
    /// Flux duration; `null`: `10m`.
    #[schema(nullable = true, pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")]
    interval: Option<String>,
    /// Flux duration; `null`: `5m`.
    #[schema(nullable = true, pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")]
    timeout: Option<String>,
    #[schema(nullable = true)]
    prune: Option<bool>,
    #[schema(nullable = true)]
    wait: Option<bool>,
    #[schema(nullable = true)]
    enabled: Option<bool>,
}

/// A merge patch of a cluster's settings: only the fields sent change; `null` resets a field
/// to its default, and a label set to `null` is removed. The name, revision and update time
/// cannot be patched; assignments are changed under `/clusters/{name}/components`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ClusterPatchInput {
    #[schema(value_type = String, required = false, pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    tier: Option<String>,
    labels: Option<BTreeMap<String, Option<String>>>,
    /// `null`: enabled.
    #[schema(nullable = true)]
    enabled: Option<bool>,
    /// `null`: `flux-system`.
    #[schema(
        nullable = true,
        pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    flux_namespace: Option<String>,
    /// `null`: no cluster-wide pin.
    #[schema(
        nullable = true,
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
        min_length = 1,
        max_length = 128
    )]
    oci_tag: Option<String>,
    /// Admin only: skip the evidence and change-window rules for this write, saying why.
    break_glass: Option<super::dto::BreakGlassInput>,
}
