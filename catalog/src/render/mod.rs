//! Rendering: a cluster's effective config as Flux objects, as multi-document
//! YAML, a JSON `List`, or the Flux Operator `ExternalService` inputs document.
//!
//! The output is byte-for-byte deterministic: components in id order, fields in a fixed order,
//! maps sorted, and our own YAML writer.

pub mod flux;
mod inputs;

use std::collections::HashMap;

use serde_json::Value;

use crate::error::Error;
use crate::ids::{ArtifactId, Digest};
use crate::resolve::{EffectiveComponent, EffectiveConfig};
use crate::tag::OciTag;
use flux::{
    DependencyRef, FluxObject, Kustomization, KustomizationSpec, ObjectMeta, OciRepository, OciRepositoryRef,
    OciRepositorySpec, Pairs, SourceRef,
};
pub use inputs::{InputEntry, INPUTS_LIMIT, RSIP_DEFAULT_LIMIT};

pub const MANAGED_BY: &str = "platform-catalog";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_COMPONENT: &str = "platform-catalog.io/component";
pub const ANNOTATION_REVISION: &str = "platform-catalog.io/revision";
pub const ANNOTATION_OCI_TAG: &str = "platform-catalog.io/oci-tag";

/// Where rendering finds the digest of a tag.
pub trait DigestLookup {
    fn digest(&self, artifact: &ArtifactId, tag: &OciTag) -> Option<Digest>;
}

/// No registry at hand: every lookup misses.
pub struct NoDigests;

impl DigestLookup for NoDigests {
    fn digest(&self, _: &ArtifactId, _: &OciTag) -> Option<Digest> {
        None
    }
}

impl DigestLookup for HashMap<(ArtifactId, OciTag), Digest> {
    fn digest(&self, artifact: &ArtifactId, tag: &OciTag) -> Option<Digest> {
        self.get(&(artifact.clone(), tag.clone())).cloned()
    }
}

/// What to do when a tier pins digests and a digest is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestMode {
    /// Refuse: the service never serves a pinned tier's config without its digest.
    Require,
    /// Render the tag and warn: offline rendering, where no registry is consulted.
    TagWhenUnknown,
}

pub struct RenderOptions<'a> {
    /// The cluster revision, shown as an annotation; `None` for offline renders.
    pub revision: Option<u64>,
    pub digests: &'a dyn DigestLookup,
    pub mode: DigestMode,
}

/// A rendered cluster: the effective config with the digest each component is pinned to.
/// Objects, YAML, JSON and inputs all come from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendering<'c> {
    config: &'c EffectiveConfig,
    /// Per component of `config`, in order: the pinned digest, if the tier pins digests.
    digests: Vec<Option<Digest>>,
    revision: Option<String>,
    /// What an operator should know: tags rendered where digests were wanted.
    pub warnings: Vec<String>,
}

/// Resolves the digests `config` needs; fails only when a pinned tier lacks one under
/// [`DigestMode::Require`].
pub fn render<'c>(config: &'c EffectiveConfig, opts: &RenderOptions<'_>) -> Result<Rendering<'c>, Error> {
    let mut digests = Vec::with_capacity(config.components.len());
    let mut undigested = Vec::new();
    for c in &config.components {
        let tag = &c.oci_tag.value;
        let digest = match (config.pin_digest, opts.mode) {
            (false, _) => None,
            (true, mode) => match (opts.digests.digest(&c.artifact, tag), mode) {
                (Some(d), _) => Some(d),
                (None, DigestMode::Require) => {
                    return Err(Error::DigestUnresolved {
                        tier: config.tier.to_string(),
                        component: c.id.to_string(),
                        tag: tag.to_string(),
                    })
                }
                (None, DigestMode::TagWhenUnknown) => {
                    undigested.push(format!("{} ({tag})", c.id));
                    None
                }
            },
        };
        digests.push(digest);
    }
    let mut warnings = Vec::new();
    if !undigested.is_empty() {
        warnings.push(format!(
            "tier {} pins digests, but no digest is known here: rendered tags instead for {}",
            config.tier,
            undigested.join(", ")
        ));
    }
    Ok(Rendering {
        config,
        digests,
        revision: opts.revision.map(|r| r.to_string()),
        warnings,
    })
}

impl<'c> Rendering<'c> {
    pub fn config(&self) -> &'c EffectiveConfig {
        self.config
    }

    fn entries(&self) -> impl Iterator<Item = (&'c EffectiveComponent, Option<&Digest>)> + '_ {
        self.config
            .components
            .iter()
            .zip(self.digests.iter().map(Option::as_ref))
    }

    /// The Flux objects, two per component (source, then Kustomization), in component order.
    pub fn objects(&self) -> Vec<FluxObject<'_>> {
        let mut out = Vec::with_capacity(self.digests.len() * 2);
        for (c, digest) in self.entries() {
            out.push(FluxObject::OciRepository(self.oci_repository(c, digest)));
            out.push(FluxObject::Kustomization(self.kustomization(c)));
        }
        out
    }

    fn metadata<'s>(&'s self, c: &'c EffectiveComponent, tag_annotation: bool) -> ObjectMeta<'s> {
        let mut annotations = Vec::with_capacity(2);
        if tag_annotation {
            annotations.push((ANNOTATION_OCI_TAG, c.oci_tag.value.as_str()));
        }
        if let Some(rev) = &self.revision {
            annotations.push((ANNOTATION_REVISION, rev.as_str()));
        }
        ObjectMeta {
            name: c.id.as_str(),
            namespace: self.config.namespace.as_str(),
            labels: Pairs::new(vec![(LABEL_MANAGED_BY, MANAGED_BY), (LABEL_COMPONENT, c.id.as_str())]),
            annotations: Pairs::new(annotations),
        }
    }

    fn oci_repository<'s>(&'s self, c: &'c EffectiveComponent, digest: Option<&'s Digest>) -> OciRepository<'s> {
        OciRepository {
            api_version: OciRepository::API_VERSION,
            kind: OciRepository::KIND,
            // The tag belongs to the source; the Kustomization carries only the revision.
            metadata: self.metadata(c, true),
            spec: OciRepositorySpec {
                interval: c.kustomization.interval.as_str(),
                url: c.url.as_str(),
                reference: match digest {
                    Some(d) => OciRepositoryRef::Digest(d.as_str()),
                    None => OciRepositoryRef::Tag(c.oci_tag.value.as_str()),
                },
            },
        }
    }

    fn kustomization<'s>(&'s self, c: &'c EffectiveComponent) -> Kustomization<'s> {
        let k = &c.kustomization;
        Kustomization {
            api_version: Kustomization::API_VERSION,
            kind: Kustomization::KIND,
            metadata: self.metadata(c, false),
            spec: KustomizationSpec {
                interval: k.interval.as_str(),
                source_ref: SourceRef {
                    kind: OciRepository::KIND,
                    name: c.id.as_str(),
                },
                path: &c.overlay,
                prune: k.prune,
                wait: k.wait,
                timeout: k.timeout.as_str(),
                target_namespace: k.target_namespace.as_ref().map(|n| n.as_str()),
                depends_on: c
                    .depends_on
                    .iter()
                    .map(|d| DependencyRef { name: d.as_str() })
                    .collect(),
            },
        }
    }

    /// Each object as JSON, in render order.
    pub fn values(&self) -> Vec<Value> {
        self.objects().iter().map(to_value).collect()
    }

    /// Multi-document YAML, each document opened by `---`.
    pub fn to_yaml(&self) -> String {
        let mut out = String::with_capacity(self.digests.len() * 1100);
        for (c, digest) in self.entries() {
            out.push_str("---\n");
            FluxObject::OciRepository(self.oci_repository(c, digest)).write_yaml(&mut out);
            out.push_str("---\n");
            FluxObject::Kustomization(self.kustomization(c)).write_yaml(&mut out);
        }
        out
    }

    /// A Kubernetes `v1` `List` holding every object, pretty-printed.
    pub fn to_json(&self) -> String {
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": self.values()});
        pretty(&list)
    }
}

fn to_value(object: &FluxObject<'_>) -> Value {
    // Plain structs of strings, bools and maps always serialize.
    serde_json::to_value(object).unwrap_or_else(|e| unreachable!("Flux objects serialize: {e}"))
}

pub(crate) fn pretty(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|e| unreachable!("JSON values serialize: {e}"));
    s.push('\n');
    s
}
