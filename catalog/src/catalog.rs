//! The catalog: artifacts, tiers and components, as built from a validated COMPONENTS.yaml.

use crate::error::Error;
use crate::ids::{ArtifactId, ArtifactUrl, ComponentId, ComponentPath, FluxDuration, Namespace, TierName};
pub use crate::policy::Tier;
use crate::tag::OciTag;

/// An OCI repository holding builds of the platform monorepo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    pub id: ArtifactId,
    pub url: ArtifactUrl,
    /// The release every component of the artifact follows unless it names its own tag.
    pub oci_tag: OciTag,
    /// Plain http to the registry: only for local and test registries, and only when asked for.
    pub insecure: bool,
    /// How often the service lists the registry's tags; `None`: only on request.
    pub sync_interval: Option<FluxDuration>,
}

/// The Kustomization settings a component renders with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KustomizationDefaults {
    pub interval: FluxDuration,
    pub timeout: FluxDuration,
    pub prune: bool,
    pub wait: bool,
    pub target_namespace: Option<Namespace>,
}

impl KustomizationDefaults {
    pub const DEFAULT_INTERVAL: &'static str = "10m";
    pub const DEFAULT_TIMEOUT: &'static str = "5m";
}

/// A catalog entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub id: ComponentId,
    pub category: String,
    pub artifact: ArtifactId,
    pub component_path: ComponentPath,
    /// This component's own default tag; `None` follows the artifact's.
    pub oci_tag: Option<OciTag>,
    pub depends_on: Vec<ComponentId>,
    pub kustomization: KustomizationDefaults,
    pub enabled: bool,
}

/// A whole catalog. Built only through validation, so its references are known to hold:
/// every component's artifact exists, dependencies exist and form no cycle, ids are unique.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    artifacts: Vec<Artifact>,
    tiers: Vec<Tier>,
    components: Vec<Component>,
}

impl Catalog {
    /// The catalog before any is loaded: nothing to run, so nothing to check.
    pub fn empty() -> Self {
        Catalog {
            artifacts: Vec::new(),
            tiers: Vec::new(),
            components: Vec::new(),
        }
    }

    /// Assembles a catalog from parts that validation has already checked.
    pub(crate) fn from_checked_parts(
        artifacts: Vec<Artifact>,
        tiers: Vec<Tier>,
        mut components: Vec<Component>,
    ) -> Self {
        components.sort_by(|a, b| a.id.cmp(&b.id));
        Catalog {
            artifacts,
            tiers,
            components,
        }
    }

    pub fn artifacts(&self) -> &[Artifact] {
        &self.artifacts
    }

    /// Tiers in their declared order, lowest first.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// Components in id order.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    pub fn tier(&self, name: &str) -> Result<&Tier, Error> {
        self.tiers
            .iter()
            .find(|t| t.name.as_str() == name)
            .ok_or_else(|| Error::Unknown {
                kind: "tier",
                name: name.to_owned(),
                known: self.tiers.iter().map(|t| t.name.to_string()).collect(),
            })
    }

    pub fn artifact(&self, id: &ArtifactId) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| &a.id == id)
    }

    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components
            .binary_search_by(|c| c.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.components[i])
    }

    /// The tag a component runs when nothing overrides it: its own, else its artifact's.
    pub fn default_tag<'a>(&'a self, component: &'a Component) -> &'a OciTag {
        match (&component.oci_tag, self.artifact(&component.artifact)) {
            (Some(tag), _) => tag,
            (None, Some(artifact)) => &artifact.oci_tag,
            // Validation guarantees the artifact exists; a component without one keeps no tag.
            (None, None) => unreachable!("catalog components always reference a known artifact"),
        }
    }

    /// The artifact a component is built into.
    pub fn artifact_of(&self, component: &Component) -> &Artifact {
        self.artifact(&component.artifact)
            .unwrap_or_else(|| unreachable!("catalog components always reference a known artifact"))
    }

    pub fn tier_names(&self) -> impl Iterator<Item = &TierName> {
        self.tiers.iter().map(|t| &t.name)
    }
}
