//! The stored form of a cluster's effective config: what a revision was, self-contained, so
//! any revision renders again exactly as it did.

use catalog::catalog::KustomizationDefaults;
use catalog::ids::{
    ArtifactId, ArtifactUrl, ClusterName, ComponentId, ComponentPath, FluxDuration, Namespace, TierName,
};
use catalog::resolve::{EffectiveComponent, EffectiveConfig, Provenance, Sourced};
use catalog::OciTag;
use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::Error;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveRecord {
    pub cluster: String,
    pub tier: String,
    pub pin_digest: bool,
    pub namespace: String,
    pub components: Vec<ComponentRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRecord {
    pub id: String,
    pub artifact: String,
    pub url: String,
    pub oci_tag: String,
    pub oci_tag_source: SourceRecord,
    pub component_path: String,
    pub component_path_source: SourceRecord,
    pub overlay: String,
    pub depends_on: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub prune: bool,
    pub wait: bool,
    pub target_namespace: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<&Provenance> for SourceRecord {
    fn from(p: &Provenance) -> Self {
        let (kind, detail) = match p {
            Provenance::Rollout { id } => ("rollout", Some(id.clone())),
            Provenance::Override { reason } => ("override", reason.clone()),
            Provenance::ClusterPin => ("cluster_pin", None),
            Provenance::ComponentDefault => ("component_default", None),
            Provenance::ArtifactDefault => ("artifact_default", None),
        };
        SourceRecord {
            kind: kind.to_owned(),
            detail,
        }
    }
}

impl TryFrom<&SourceRecord> for Provenance {
    type Error = Error;
    fn try_from(s: &SourceRecord) -> Result<Self, Error> {
        Ok(match s.kind.as_str() {
            "rollout" => Provenance::Rollout {
                id: s.detail.clone().unwrap_or_default(),
            },
            "override" => Provenance::Override {
                reason: s.detail.clone(),
            },
            "cluster_pin" => Provenance::ClusterPin,
            "component_default" => Provenance::ComponentDefault,
            "artifact_default" => Provenance::ArtifactDefault,
            other => return Err(Error::Internal(format!("stored provenance {other:?} is unknown"))),
        })
    }
}

impl From<&EffectiveConfig> for EffectiveRecord {
    fn from(c: &EffectiveConfig) -> Self {
        EffectiveRecord {
            cluster: c.cluster.to_string(),
            tier: c.tier.to_string(),
            pin_digest: c.pin_digest,
            namespace: c.namespace.to_string(),
            components: c
                .components
                .iter()
                .map(|e| ComponentRecord {
                    id: e.id.to_string(),
                    artifact: e.artifact.to_string(),
                    url: e.url.to_string(),
                    oci_tag: e.oci_tag.value.to_string(),
                    oci_tag_source: (&e.oci_tag.source).into(),
                    component_path: e.component_path.value.to_string(),
                    component_path_source: (&e.component_path.source).into(),
                    overlay: e.overlay.clone(),
                    depends_on: e.depends_on.iter().map(ToString::to_string).collect(),
                    interval: e.kustomization.interval.to_string(),
                    timeout: e.kustomization.timeout.to_string(),
                    prune: e.kustomization.prune,
                    wait: e.kustomization.wait,
                    target_namespace: e.kustomization.target_namespace.as_ref().map(ToString::to_string),
                })
                .collect(),
        }
    }
}

/// Stored values were valid when written; one that no longer parses is our fault, not the caller's.
fn stored<T>(r: Result<T, catalog::Error>) -> Result<T, Error> {
    r.map_err(|e| Error::Internal(format!("a stored revision no longer parses: {e}")))
}

impl TryFrom<&EffectiveRecord> for EffectiveConfig {
    type Error = Error;
    fn try_from(r: &EffectiveRecord) -> Result<Self, Error> {
        let components = r
            .components
            .iter()
            .map(|c| {
                Ok(EffectiveComponent {
                    id: stored(ComponentId::parse(&c.id))?,
                    artifact: stored(ArtifactId::parse(&c.artifact))?,
                    url: stored(ArtifactUrl::parse(&c.url))?,
                    oci_tag: Sourced {
                        value: stored(OciTag::parse(&c.oci_tag))?,
                        source: (&c.oci_tag_source).try_into()?,
                    },
                    component_path: Sourced {
                        value: stored(ComponentPath::parse(&c.component_path))?,
                        source: (&c.component_path_source).try_into()?,
                    },
                    overlay: c.overlay.clone(),
                    depends_on: c
                        .depends_on
                        .iter()
                        .map(|d| stored(ComponentId::parse(d)))
                        .collect::<Result<_, _>>()?,
                    kustomization: KustomizationDefaults {
                        interval: stored(FluxDuration::parse("interval", &c.interval))?,
                        timeout: stored(FluxDuration::parse("timeout", &c.timeout))?,
                        prune: c.prune,
                        wait: c.wait,
                        target_namespace: c
                            .target_namespace
                            .as_deref()
                            .map(Namespace::parse)
                            .transpose()
                            .map_err(|e| Error::Internal(format!("a stored revision no longer parses: {e}")))?,
                    },
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(EffectiveConfig {
            cluster: stored(ClusterName::parse(&r.cluster))?,
            tier: stored(TierName::parse(&r.tier))?,
            pin_digest: r.pin_digest,
            namespace: stored(Namespace::parse(&r.namespace))?,
            components,
            notes: Vec::new(),
        })
    }
}

impl EffectiveRecord {
    /// The canonical JSON and its SHA-256: equal configs give equal hashes.
    pub fn encode(&self) -> (String, String) {
        let json = serde_json::to_string(self).unwrap_or_else(|e| unreachable!("records serialize: {e}"));
        let hash = sha256_hex(json.as_bytes());
        (json, hash)
    }

    pub fn decode(json: &str) -> Result<Self, Error> {
        serde_json::from_str(json).map_err(|e| Error::Internal(format!("a stored revision is not readable: {e}")))
    }
}

/// What a write needs of a cluster's previous config, read without copying its strings: a
/// fleet-wide write reads thousands of them.
#[derive(Debug, Deserialize)]
pub struct PreviousRecord<'a> {
    #[serde(borrow)]
    pub tier: Cow<'a, str>,
    #[serde(borrow)]
    pub components: Vec<PreviousComponent<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct PreviousComponent<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub artifact: Cow<'a, str>,
    #[serde(borrow)]
    pub oci_tag: Cow<'a, str>,
    #[serde(borrow)]
    pub component_path: Cow<'a, str>,
}

impl<'a> PreviousRecord<'a> {
    pub fn decode(json: &'a str) -> Result<Self, Error> {
        serde_json::from_str(json).map_err(|e| Error::Internal(format!("a stored revision is not readable: {e}")))
    }

    /// The same record owning its strings, to keep once its JSON is gone.
    pub fn into_owned(self) -> PreviousRecord<'static> {
        let owned = |s: Cow<'a, str>| Cow::Owned(s.into_owned());
        PreviousRecord {
            tier: owned(self.tier),
            components: self
                .components
                .into_iter()
                .map(|c| PreviousComponent {
                    id: owned(c.id),
                    artifact: owned(c.artifact),
                    oci_tag: owned(c.oci_tag),
                    component_path: owned(c.component_path),
                })
                .collect(),
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    sha256_hex_of(&[bytes])
}

/// The SHA-256 of the parts one after the other, as lowercase hex: what [`sha256_hex`] gives
/// for their concatenation, without building it.
pub fn sha256_hex_of(parts: &[&[u8]]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let mut out = String::with_capacity(64);
    for b in hasher.finalize() {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_of_parts_is_the_hash_of_their_concatenation() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(b"abc"), abc);
        assert_eq!(sha256_hex_of(&[b"a", b"", b"bc"]), abc);
    }
}
