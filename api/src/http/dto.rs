//! Wire types: what the API reads and writes. Only these derive `ToSchema`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use super::plan_dto::{ChangesView, ClusterChangeDto, ComponentChangeDto, PlanDto, PlanView, TagPathDto};

/// A catalog component as the API and COMPONENTS.yaml write it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentInput {
    /// DNS-1123 label, unique; also the name of the component's Flux objects.
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    pub id: String,
    /// DNS-1123 label grouping components (`core`, `observability`).
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    pub category: String,
    /// The artifact id; optional when the catalog has one artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    pub artifact: Option<String>,
    /// Relative path inside the artifact, without `..` or a leading `/`.
    #[schema(
        pattern = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        min_length = 1,
        max_length = 512,
        example = "observability/grafana/7.3.9"
    )]
    pub component_path: String,
    /// This component's own default tag; without it the artifact's applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
        min_length = 1,
        max_length = 128,
        example = "v1.2.0"
    )]
    pub oci_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    pub target_namespace: Option<String>,
    /// Ids of catalog components this one waits for, each once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Flux duration, default `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", example = "10m")]
    pub interval: Option<String>,
    /// Flux duration, default `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", example = "10m")]
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
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    pub name: Option<String>,
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    pub tier: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Default `flux-system`.
    #[serde(default)]
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    pub flux_namespace: Option<String>,
    /// A tag every component of the cluster follows unless overridden.
    #[serde(default)]
    #[schema(
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
        min_length = 1,
        max_length = 128,
        example = "v1.2.0"
    )]
    pub oci_tag: Option<String>,
    /// Components to assign on create; default: every enabled catalog component.
    #[serde(default)]
    pub components: Option<Vec<String>>,
    /// Admin only (PUT, PATCH): skip the evidence and change-window rules for this write, saying why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlassInput>,
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
    #[schema(
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
        min_length = 1,
        max_length = 128,
        example = "v1.2.0"
    )]
    pub oci_tag: Option<String>,
    /// Override of the path inside the artifact.
    #[serde(default)]
    #[schema(
        pattern = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        min_length = 1,
        max_length = 512,
        example = "observability/grafana/7.3.9"
    )]
    pub component_path: Option<String>,
    /// Why the override exists: canary, hotfix, rollback, …
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reason: Option<String>,
    /// RFC 3339; after it the override is ignored.
    #[serde(default)]
    #[schema(format = DateTime, example = "2026-12-31T00:00:00Z")]
    pub expires_at: Option<String>,
    /// Admin only: skip the evidence and change-window rules for this write, saying why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlassInput>,
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

/// An artifact: an OCI repository holding builds of the platform monorepo.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArtifactDto {
    pub id: String,
    pub url: String,
    /// The release every component follows unless it names its own tag.
    pub oci_tag: String,
    /// How many builds (tags) are registered for it.
    pub tag_count: i64,
    /// Plain http to its registry.
    pub insecure: bool,
    /// How often the service syncs its tags from the registry; absent: only on request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_interval: Option<String>,
    /// The last sync with the registry, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<super::registry_dto::SyncStatusDto>,
}

/// A build to register, as CI does after each push.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    /// The OCI tag, e.g. `v1.2.0` or the hotfix `v1.2.0-1`.
    #[schema(
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
        min_length = 1,
        max_length = 128,
        example = "v1.2.0"
    )]
    pub tag: String,
    /// `sha256:<64 hex>`, as the registry reports it; may be added later if unknown now.
    #[serde(default)]
    #[schema(pattern = r"^sha256:[0-9a-f]{64}$")]
    pub digest: Option<String>,
}

/// What kind of build a tag names (hotfix-aware).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TagKindDto {
    Release,
    Hotfix,
    Prerelease,
    /// Not a version (`latest`, `sha-abc`): it never orders and can change what it names.
    Mutable,
}

/// A registered build of an artifact.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TagDto {
    pub tag: String,
    pub digest: Option<String>,
    /// RFC 3339 UTC.
    pub registered_at: String,
    pub kind: TagKindDto,
    /// When a registry sync first saw the tag (RFC 3339 UTC); absent for tags only registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen_at: Option<String>,
    /// Set when the tag moved in the registry after its digest was pinned: `digest` stays the
    /// pinned one, this names what the registry holds now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<super::registry_dto::TagMoveDto>,
}

/// A tier's tag policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierPolicyDto {
    /// Whether moving tags (`latest`, `main`, non-versions) may run.
    pub allow_mutable: bool,
    /// Whether pre-release tags (`-rc1`, `-beta`) may run; hotfix tags always may.
    pub allow_prerelease: bool,
    /// Render `ref.digest` instead of `ref.tag`.
    pub pin_digest: bool,
    /// Tags must be registered for their artifact.
    pub require_known_tag: bool,
    /// A regular expression every tag must match; absent or null for none.
    #[serde(default)]
    #[schema(min_length = 1)]
    pub pattern: Option<String>,
    // Promotion safety: when the tier's clusters may change, and who must agree first.
    /// Weekly change windows; outside every one, writes that change what the tier's clusters
    /// run are refused (422) and automatic rollout steps wait. Absent: any time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<super::safety_dto::ChangeWindowDto>,
    /// Freezes: nothing of the tier changes in them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freezes: Vec<super::safety_dto::FreezeDto>,
    /// Distinct operators, other than its creator, who approve a rollout step into the tier.
    #[serde(default, skip_serializing_if = "super::safety_dto::is_zero")]
    #[schema(maximum = 10)]
    pub approvals: u32,
    /// Evidence a build needs from other tiers before it reaches this one; absent for none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_verified: Vec<RequireVerifiedDto>,
}

/// At least `clusters` clusters of `tier` reported the build's digest applied and ready for at
/// least `ready_for`, and none reported it failed since.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequireVerifiedDto {
    #[schema(example = "qa")]
    pub tier: String,
    #[schema(minimum = 1, example = 1)]
    pub clusters: u64,
    #[schema(example = "1h")]
    pub ready_for: String,
}

/// Why an admin skips the evidence and change-window rules for this one write; audited.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassInput {
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "CVE-2026-1234: the fix must reach prod before qa soaks it"
    )]
    pub reason: String,
}

/// An environment class with its policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TierDto {
    pub name: String,
    pub policy: TierPolicyDto,
}

/// A release: the artifact's default tag moves, or (with `components`) those components' own.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseInput {
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", min_length = 1, max_length = 63)]
    pub artifact: String,
    /// The build to release; it must pass every tier's policy.
    #[schema(
        pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
        min_length = 1,
        max_length = 128,
        example = "v1.2.0"
    )]
    pub oci_tag: String,
    /// Absent: move the artifact's default (components with their own tag keep it). Present:
    /// set these components' own tag (and path, when given) instead.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub components: Option<Vec<ReleaseComponentInput>>,
    /// Why; it becomes the reason of every cluster revision the release makes.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reason: Option<String>,
    /// Admin only: skip the evidence and change-window rules for this write, saying why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlassInput>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseComponentInput {
    pub id: String,
    /// The component's new version directory inside the build, when it changes.
    #[serde(default)]
    pub component_path: Option<String>,
}

/// Whether a stale override is a leftover or someone's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StaleKindDto {
    /// The default caught up with it (a hotfix the next release superseded): a collapse
    /// without a filter removes it.
    Superseded,
    /// A rollback pin (reason `rollback…`), a canary (`canary…`) or kept by an active hold:
    /// collapsed only when `cluster` and `component` both name it.
    Deliberate,
}

/// An override the default has caught up with: its tag is not newer than the default.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StaleOverrideDto {
    pub cluster: String,
    pub component: String,
    pub override_tag: String,
    /// What the cluster runs without the override (cluster pin or catalog default).
    pub default_tag: String,
    /// Why the override was made (hotfix, canary, …).
    pub reason: Option<String>,
    pub kind: StaleKindDto,
    /// Why it is of its kind, in a sentence.
    pub why: String,
}

/// Which stale overrides to collapse. `{}` collapses every superseded one; a deliberate one
/// (rollback, canary, hold) only when `cluster` and `component` both name it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollapseInput {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub component: Option<String>,
    /// Why; it becomes the reason of the clusters' new revisions.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

/// What a collapse did (on a dry run, would do): the plan, the overrides removed and the
/// deliberate ones left in place.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CollapseDto {
    #[serde(flatten)]
    pub plan: PlanDto,
    pub collapsed: Vec<StaleOverrideDto>,
    /// Stale overrides the filter selected but left: deliberate, and not named.
    pub kept: Vec<StaleOverrideDto>,
}

/// A page of a list; `next_cursor` is absent on the last page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An API token as listed: never its secret or its hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenDto {
    pub name: String,
    /// `admin`, `operator`, `viewer` or `cluster`.
    pub role: String,
    /// The cluster a `cluster` token may read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Who issued it.
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// Recorded at most once a minute.
    pub last_used_at: Option<String>,
}

/// A token just issued: the only time its secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenCreatedDto {
    /// Send it as `Authorization: Bearer <token>`; it cannot be shown again.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenDto,
}

/// A token to issue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,62}$", example = "flux-prod-eu-1")]
    pub name: String,
    /// `admin`, `operator`, `viewer` or `cluster`.
    #[schema(pattern = r"^(admin|operator|viewer|cluster)$", example = "viewer")]
    pub role: String,
    /// Required for (and only for) a `cluster` token.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Lifetime like `30d`, `12h`, `90m`; without it the token does not expire.
    #[serde(default)]
    #[schema(pattern = r"^[1-9][0-9]{0,9}[smhdw]$", example = "7d")]
    pub expires: Option<String>,
}
