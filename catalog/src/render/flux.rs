//! Typed Flux objects: the fields we render, named and nested as the Flux CRDs declare them
//! (`source.toolkit.fluxcd.io/v1` OCIRepository, `kustomize.toolkit.fluxcd.io/v1` Kustomization).

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciRepository {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: OciRepositorySpec,
}

impl OciRepository {
    pub const API_VERSION: &'static str = "source.toolkit.fluxcd.io/v1";
    pub const KIND: &'static str = "OCIRepository";
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OciRepositorySpec {
    pub interval: String,
    pub url: String,
    #[serde(rename = "ref")]
    pub reference: OciRepositoryRef,
}

/// Exactly one of `tag` or `digest` is set: a digest when the tier pins digests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OciRepositoryRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: KustomizationSpec,
}

impl Kustomization {
    pub const API_VERSION: &'static str = "kustomize.toolkit.fluxcd.io/v1";
    pub const KIND: &'static str = "Kustomization";
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    pub interval: String,
    pub source_ref: SourceRef,
    pub path: String,
    pub prune: bool,
    pub wait: bool,
    pub timeout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceRef {
    pub kind: &'static str,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DependencyRef {
    pub name: String,
}

/// One rendered object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FluxObject {
    OciRepository(OciRepository),
    Kustomization(Kustomization),
}
