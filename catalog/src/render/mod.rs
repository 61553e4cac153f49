//! Rendering (DESIGN.md §6): a cluster's effective config as Flux objects, as multi-document
//! YAML, a JSON `List`, or the Flux Operator `ExternalService` inputs document.
//!
//! The output is byte-for-byte deterministic: components in id order, fields in a fixed order,
//! maps sorted, and our own YAML writer.

pub mod flux;
mod inputs;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::catalog::Catalog;
use crate::error::Error;
use crate::ids::{ArtifactId, Digest};
use crate::resolve::{EffectiveComponent, EffectiveConfig};
use crate::tag::OciTag;
use crate::yaml;
use flux::{
    DependencyRef, FluxObject, Kustomization, KustomizationSpec, ObjectMeta, OciRepository, OciRepositoryRef,
    OciRepositorySpec, SourceRef,
};
pub use inputs::{InputEntry, INPUTS_LIMIT};

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

/// A rendered cluster: its Flux objects, the inputs entries, and warnings for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendering {
    pub objects: Vec<FluxObject>,
    pub inputs: Vec<InputEntry>,
    pub warnings: Vec<String>,
}

/// Renders `config`; fails only when a pinned tier lacks a digest under [`DigestMode::Require`].
pub fn render(catalog: &Catalog, config: &EffectiveConfig, opts: &RenderOptions<'_>) -> Result<Rendering, Error> {
    let tier = catalog.tier(config.tier.as_str())?;
    let mut out = Rendering { objects: Vec::with_capacity(config.components.len() * 2), inputs: Vec::new(), warnings: Vec::new() };
    let mut undigested = Vec::new();
    for c in &config.components {
        let tag = &c.oci_tag.value;
        let digest = if tier.policy.pin_digest {
            match (opts.digests.digest(&c.artifact, tag), opts.mode) {
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
            }
        } else {
            None
        };
        let meta = metadata(c, config, opts.revision);
        out.objects.push(FluxObject::OciRepository(oci_repository(c, meta.clone(), digest.as_ref())));
        out.objects.push(FluxObject::Kustomization(kustomization(c, strip_annotations(meta))));
        out.inputs.push(InputEntry::new(config, c, digest, opts.revision));
    }
    if !undigested.is_empty() {
        out.warnings.push(format!(
            "tier {} pins digests, but no digest is known here: rendered tags instead for {}",
            config.tier,
            undigested.join(", ")
        ));
    }
    Ok(out)
}

fn metadata(c: &EffectiveComponent, config: &EffectiveConfig, revision: Option<u64>) -> ObjectMeta {
    let labels = BTreeMap::from([
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        (LABEL_COMPONENT.to_owned(), c.id.to_string()),
    ]);
    let mut annotations = BTreeMap::from([(ANNOTATION_OCI_TAG.to_owned(), c.oci_tag.value.to_string())]);
    if let Some(rev) = revision {
        annotations.insert(ANNOTATION_REVISION.to_owned(), rev.to_string());
    }
    ObjectMeta { name: c.id.to_string(), namespace: config.namespace.to_string(), labels, annotations }
}

/// The Kustomization carries the revision but not the tag: the tag belongs to the source.
fn strip_annotations(mut meta: ObjectMeta) -> ObjectMeta {
    meta.annotations.remove(ANNOTATION_OCI_TAG);
    meta
}

fn oci_repository(c: &EffectiveComponent, metadata: ObjectMeta, digest: Option<&Digest>) -> OciRepository {
    let reference = match digest {
        Some(d) => OciRepositoryRef { digest: Some(d.to_string()), tag: None },
        None => OciRepositoryRef { digest: None, tag: Some(c.oci_tag.value.to_string()) },
    };
    OciRepository {
        api_version: OciRepository::API_VERSION,
        kind: OciRepository::KIND,
        metadata,
        spec: OciRepositorySpec {
            interval: c.kustomization.interval.to_string(),
            url: c.url.to_string(),
            reference,
        },
    }
}

fn kustomization(c: &EffectiveComponent, metadata: ObjectMeta) -> Kustomization {
    let k = &c.kustomization;
    Kustomization {
        api_version: Kustomization::API_VERSION,
        kind: Kustomization::KIND,
        metadata,
        spec: KustomizationSpec {
            interval: k.interval.to_string(),
            source_ref: SourceRef { kind: OciRepository::KIND, name: c.id.to_string() },
            path: c.overlay.clone(),
            prune: k.prune,
            wait: k.wait,
            timeout: k.timeout.to_string(),
            target_namespace: k.target_namespace.as_ref().map(ToString::to_string),
            depends_on: c.depends_on.iter().map(|d| DependencyRef { name: d.to_string() }).collect(),
        },
    }
}

impl Rendering {
    /// Each object as JSON, in render order.
    pub fn values(&self) -> Vec<Value> {
        self.objects.iter().map(to_value).collect()
    }

    /// Multi-document YAML, each document opened by `---`.
    pub fn to_yaml(&self) -> String {
        let mut out = String::with_capacity(self.objects.len() * 512);
        for object in &self.objects {
            out.push_str("---\n");
            yaml::write_document(&mut out, &to_value(object));
        }
        out
    }

    /// A Kubernetes `v1` `List` holding every object, pretty-printed.
    pub fn to_json(&self) -> String {
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": self.values()});
        pretty(&list)
    }
}

fn to_value(object: &FluxObject) -> Value {
    // Serializing plain structs of strings, bools and maps into a Value cannot fail.
    serde_json::to_value(object).unwrap_or_else(|e| unreachable!("Flux objects serialize: {e}"))
}

pub(crate) fn pretty(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|e| unreachable!("JSON values serialize: {e}"));
    s.push('\n');
    s
}
