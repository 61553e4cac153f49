//! Typed Flux objects: the fields we render, named and nested as the Flux CRDs declare them
//! (`source.toolkit.fluxcd.io/v1` OCIRepository, `kustomize.toolkit.fluxcd.io/v1` Kustomization).
//!
//! They borrow from the effective config they render, so building them costs almost nothing;
//! YAML is written straight from them and JSON through serde, from the one mapping.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::yaml::Emitter;

/// A string map kept as sorted pairs: serializes as a JSON object, in key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pairs<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Pairs<'a> {
    pub fn new(mut pairs: Vec<(&'a str, &'a str)>) -> Self {
        pairs.sort_unstable();
        Pairs(pairs)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a str, &'a str)> + '_ {
        self.0.iter().copied()
    }
}

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ObjectMeta<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub labels: Pairs<'a>,
    #[serde(skip_serializing_if = "Pairs::is_empty")]
    pub annotations: Pairs<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciRepository<'a> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta<'a>,
    pub spec: OciRepositorySpec<'a>,
}

impl OciRepository<'_> {
    pub const API_VERSION: &'static str = "source.toolkit.fluxcd.io/v1";
    pub const KIND: &'static str = "OCIRepository";
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OciRepositorySpec<'a> {
    pub interval: &'a str,
    pub url: &'a str,
    #[serde(rename = "ref")]
    pub reference: OciRepositoryRef<'a>,
}

/// Exactly one of `digest` or `tag`: a digest when the tier pins digests.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OciRepositoryRef<'a> {
    Digest(&'a str),
    Tag(&'a str),
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization<'a> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta<'a>,
    pub spec: KustomizationSpec<'a>,
}

impl Kustomization<'_> {
    pub const API_VERSION: &'static str = "kustomize.toolkit.fluxcd.io/v1";
    pub const KIND: &'static str = "Kustomization";
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec<'a> {
    pub interval: &'a str,
    pub source_ref: SourceRef<'a>,
    pub path: &'a str,
    pub prune: bool,
    pub wait: bool,
    pub timeout: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyRef<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceRef<'a> {
    pub kind: &'static str,
    pub name: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DependencyRef<'a> {
    pub name: &'a str,
}

/// One rendered object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum FluxObject<'a> {
    OciRepository(OciRepository<'a>),
    Kustomization(Kustomization<'a>),
}

impl ObjectMeta<'_> {
    fn write_yaml(&self, w: &mut Emitter<'_>) {
        w.open(0, "metadata");
        w.str(2, "name", self.name);
        w.str(2, "namespace", self.namespace);
        w.map(2, "labels", self.labels.iter());
        if !self.annotations.is_empty() {
            w.map(2, "annotations", self.annotations.iter());
        }
    }
}

impl FluxObject<'_> {
    /// Writes the object as one YAML document, field for field as its `Serialize` form.
    pub fn write_yaml(&self, out: &mut String) {
        let mut w = Emitter::new(out);
        match self {
            FluxObject::OciRepository(o) => {
                w.str(0, "apiVersion", o.api_version);
                w.str(0, "kind", o.kind);
                o.metadata.write_yaml(&mut w);
                w.open(0, "spec");
                w.str(2, "interval", o.spec.interval);
                w.str(2, "url", o.spec.url);
                w.open(2, "ref");
                match o.spec.reference {
                    OciRepositoryRef::Digest(digest) => w.str(4, "digest", digest),
                    OciRepositoryRef::Tag(tag) => w.str(4, "tag", tag),
                }
            }
            FluxObject::Kustomization(k) => {
                let s = &k.spec;
                w.str(0, "apiVersion", k.api_version);
                w.str(0, "kind", k.kind);
                k.metadata.write_yaml(&mut w);
                w.open(0, "spec");
                w.str(2, "interval", s.interval);
                w.open(2, "sourceRef");
                w.str(4, "kind", s.source_ref.kind);
                w.str(4, "name", s.source_ref.name);
                w.str(2, "path", s.path);
                w.bool(2, "prune", s.prune);
                w.bool(2, "wait", s.wait);
                w.str(2, "timeout", s.timeout);
                if let Some(ns) = s.target_namespace {
                    w.str(2, "targetNamespace", ns);
                }
                if !s.depends_on.is_empty() {
                    w.open(2, "dependsOn");
                    for d in &s.depends_on {
                        w.item_str(4, "name", d.name);
                    }
                }
            }
        }
    }
}
