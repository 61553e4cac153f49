//! Resolution: what a cluster should run for each component, and why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, KustomizationDefaults};
use crate::error::Error;
use crate::ids::{ArtifactId, ArtifactUrl, ClusterName, ComponentId, ComponentPath, Namespace, TierName};
use crate::tag::{OciTag, OrderedTag};

/// A cluster as resolution needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub name: ClusterName,
    pub tier: TierName,
    pub labels: BTreeMap<String, String>,
    pub enabled: bool,
    pub flux_namespace: Namespace,
    /// A cluster-wide tag every component follows unless overridden.
    pub oci_tag: Option<OciTag>,
}

impl Cluster {
    pub const DEFAULT_FLUX_NAMESPACE: &'static str = "flux-system";

    /// An enabled cluster with no labels or pin, in the default Flux namespace.
    pub fn new(name: ClusterName, tier: TierName) -> Self {
        Cluster {
            name,
            tier,
            labels: BTreeMap::new(),
            enabled: true,
            flux_namespace: Namespace::parse(Self::DEFAULT_FLUX_NAMESPACE)
                .unwrap_or_else(|_| unreachable!("the default Flux namespace is a valid name")),
            oci_tag: None,
        }
    }
}

/// A component on a cluster, with optional overrides.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Assignment {
    pub component: ComponentId,
    pub enabled: bool,
    pub oci_tag: Option<OciTag>,
    pub component_path: Option<ComponentPath>,
    /// Why the override exists (canary, rollback, hotfix, …).
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Assignment {
    /// The component enabled with no override.
    pub fn plain(component: ComponentId) -> Self {
        Assignment {
            component,
            enabled: true,
            oci_tag: None,
            component_path: None,
            reason: None,
            expires_at: None,
        }
    }

    /// Every catalog component, as a cluster gets them from the catalog defaults alone.
    pub fn catalog_defaults(catalog: &Catalog) -> Vec<Assignment> {
        catalog
            .components()
            .iter()
            .map(|c| Assignment::plain(c.id.clone()))
            .collect()
    }

    fn has_override(&self) -> bool {
        self.oci_tag.is_some() || self.component_path.is_some()
    }

    fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// What an active rollout step sets for one component on one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RolloutPin {
    pub rollout: String,
    pub component: ComponentId,
    pub oci_tag: Option<OciTag>,
    pub component_path: Option<ComponentPath>,
}

/// Where an effective value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provenance {
    Rollout {
        id: String,
    },
    Override {
        reason: Option<String>,
    },
    ClusterPin,
    /// The component's own default in the catalog.
    ComponentDefault,
    /// The default tag of the component's artifact.
    ArtifactDefault,
}

impl Provenance {
    /// The provenance kind as the API names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Provenance::Rollout { .. } => "rollout",
            Provenance::Override { .. } => "override",
            Provenance::ClusterPin => "cluster pin",
            Provenance::ComponentDefault | Provenance::ArtifactDefault => "catalog default",
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Rollout { id } => write!(f, "rollout {id}"),
            Provenance::Override { reason: Some(r) } => write!(f, "override ({r})"),
            Provenance::Override { reason: None } => f.write_str("override"),
            Provenance::ClusterPin => f.write_str("cluster pin"),
            Provenance::ComponentDefault => f.write_str("catalog default (component)"),
            Provenance::ArtifactDefault => f.write_str("catalog default (artifact)"),
        }
    }
}

/// A value with its provenance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Provenance,
}

/// What one cluster runs for one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveComponent {
    pub id: ComponentId,
    pub artifact: ArtifactId,
    pub url: ArtifactUrl,
    pub oci_tag: Sourced<OciTag>,
    pub component_path: Sourced<ComponentPath>,
    /// `./<component_path>/<tier>`, the Kustomization's path.
    pub overlay: String,
    /// Only dependencies enabled on this cluster.
    pub depends_on: Vec<ComponentId>,
    pub kustomization: KustomizationDefaults,
}

/// Something resolution noticed that a write must refuse or a report must show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// An override past its `expires_at`: ignored.
    ExpiredOverride {
        component: ComponentId,
        expired_at: DateTime<Utc>,
    },
    /// A dependency not enabled on this cluster: left out of `dependsOn`.
    MissingDependency {
        component: ComponentId,
        dependency: ComponentId,
    },
    /// An assignment for a component the catalog does not have.
    UnknownComponent { component: ComponentId },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::ExpiredOverride { component, expired_at } => {
                write!(
                    f,
                    "the override of {component} expired at {} and is ignored",
                    expired_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                )
            }
            Note::MissingDependency { component, dependency } => {
                write!(
                    f,
                    "{component} depends on {dependency}, which is not enabled on this cluster"
                )
            }
            Note::UnknownComponent { component } => write!(f, "{component} is not in the catalog"),
        }
    }
}

/// A cluster's effective config: every enabled component in id order, with notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveConfig {
    pub cluster: ClusterName,
    pub tier: TierName,
    /// Whether the tier pins digests: renders then carry `ref.digest`.
    pub pin_digest: bool,
    pub namespace: Namespace,
    pub components: Vec<EffectiveComponent>,
    pub notes: Vec<Note>,
}

/// Resolves `cluster`'s effective config at `now`.
///
/// Tag: rollout ?? active override ?? cluster pin ?? component default ?? artifact default.
/// Path: rollout ?? active override ?? component default.
pub fn resolve(
    catalog: &Catalog,
    cluster: &Cluster,
    assignments: &[Assignment],
    rollouts: &[RolloutPin],
    now: DateTime<Utc>,
) -> Result<EffectiveConfig, Error> {
    let tier = catalog.tier(cluster.tier.as_str())?;
    let mut config = EffectiveConfig {
        cluster: cluster.name.clone(),
        tier: cluster.tier.clone(),
        pin_digest: tier.policy.pin_digest,
        namespace: cluster.flux_namespace.clone(),
        components: Vec::new(),
        notes: Vec::new(),
    };
    if !cluster.enabled {
        return Ok(config);
    }
    let mut active: Vec<&Assignment> = Vec::new();
    for a in assignments {
        match catalog.component(a.component.as_str()) {
            None => config.notes.push(Note::UnknownComponent {
                component: a.component.clone(),
            }),
            Some(c) if c.enabled && a.enabled => active.push(a),
            Some(_) => {}
        }
    }
    active.sort_by(|a, b| a.component.cmp(&b.component));
    active.dedup_by(|a, b| a.component == b.component);
    let enabled: BTreeSet<&ComponentId> = active.iter().map(|a| &a.component).collect();

    for a in active {
        let Some(component) = catalog.component(a.component.as_str()) else {
            continue;
        };
        let artifact = catalog.artifact_of(component);
        let rollout = rollouts.iter().find(|r| r.component == a.component);
        let expired = a.has_override() && a.is_expired(now);
        if let (true, Some(at)) = (expired, a.expires_at) {
            config.notes.push(Note::ExpiredOverride {
                component: a.component.clone(),
                expired_at: at,
            });
        }
        let live = (!expired).then_some(a);
        let by_override = || Provenance::Override {
            reason: a.reason.clone(),
        };

        let oci_tag = if let Some((r, tag)) = rollout.and_then(|r| Some((r, r.oci_tag.clone()?))) {
            Sourced {
                value: tag,
                source: Provenance::Rollout { id: r.rollout.clone() },
            }
        } else if let Some(tag) = live.and_then(|a| a.oci_tag.clone()) {
            Sourced {
                value: tag,
                source: by_override(),
            }
        } else if let Some(tag) = cluster.oci_tag.clone() {
            Sourced {
                value: tag,
                source: Provenance::ClusterPin,
            }
        } else if let Some(tag) = component.oci_tag.clone() {
            Sourced {
                value: tag,
                source: Provenance::ComponentDefault,
            }
        } else {
            Sourced {
                value: artifact.oci_tag.clone(),
                source: Provenance::ArtifactDefault,
            }
        };
        let component_path = if let Some((r, p)) = rollout.and_then(|r| Some((r, r.component_path.clone()?))) {
            Sourced {
                value: p,
                source: Provenance::Rollout { id: r.rollout.clone() },
            }
        } else if let Some(p) = live.and_then(|a| a.component_path.clone()) {
            Sourced {
                value: p,
                source: by_override(),
            }
        } else {
            Sourced {
                value: component.component_path.clone(),
                source: Provenance::ComponentDefault,
            }
        };

        let mut depends_on = Vec::new();
        for dep in &component.depends_on {
            if enabled.contains(dep) {
                depends_on.push(dep.clone());
            } else {
                config.notes.push(Note::MissingDependency {
                    component: a.component.clone(),
                    dependency: dep.clone(),
                });
            }
        }
        config.components.push(EffectiveComponent {
            id: component.id.clone(),
            artifact: artifact.id.clone(),
            url: artifact.url.clone(),
            overlay: component_path.value.overlay(&cluster.tier),
            oci_tag,
            component_path,
            depends_on,
            kustomization: component.kustomization.clone(),
        });
    }
    Ok(config)
}

/// An override a release made redundant: its tag is not newer than the default it overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleOverride {
    pub component: ComponentId,
    pub override_tag: OciTag,
    pub default_tag: OciTag,
}

/// The overrides on `cluster` whose tag is not newer than what the cluster would run without
/// them. Unorderable tags cannot be compared and are never called stale.
pub fn stale_overrides(catalog: &Catalog, cluster: &Cluster, assignments: &[Assignment]) -> Vec<StaleOverride> {
    let mut out = Vec::new();
    for a in assignments {
        let (Some(tag), Some(component)) = (&a.oci_tag, catalog.component(a.component.as_str())) else {
            continue;
        };
        let default = cluster
            .oci_tag
            .as_ref()
            .unwrap_or_else(|| catalog.default_tag(component));
        let (Ok(o), Ok(d)) = (OrderedTag::try_from(tag.clone()), OrderedTag::try_from(default.clone())) else {
            continue;
        };
        if o.version() <= d.version() {
            out.push(StaleOverride {
                component: a.component.clone(),
                override_tag: tag.clone(),
                default_tag: default.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.component.cmp(&b.component));
    out
}
