//! The Flux Operator `ResourceSetInputProvider` `type: ExternalService` document:
//! `{"inputs": [{"id": …, …}]}`, one entry per component, ids unique.

use serde::Serialize;

use crate::error::Error;
use crate::ids::Digest;
use crate::resolve::{EffectiveComponent, EffectiveConfig};

use super::{pretty, Rendering};

/// Flux Operator refuses ExternalService responses of 900 KiB and more.
pub const INPUTS_LIMIT: usize = 900 * 1024;

/// One component's inputs for a ResourceSet template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputEntry {
    pub id: String,
    pub cluster: String,
    pub tier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub url: String,
    pub oci_tag: String,
    pub digest: Option<String>,
    pub component_path: String,
    /// The Kustomization path, `./<component_path>/<tier>`.
    pub path: String,
    pub interval: String,
    pub timeout: String,
    pub prune: bool,
    pub wait: bool,
    pub target_namespace: Option<String>,
    pub depends_on: Vec<String>,
}

impl InputEntry {
    pub(super) fn new(config: &EffectiveConfig, c: &EffectiveComponent, digest: Option<Digest>, revision: Option<u64>) -> Self {
        let k = &c.kustomization;
        InputEntry {
            id: c.id.to_string(),
            cluster: config.cluster.to_string(),
            tier: config.tier.to_string(),
            revision: revision.map(|r| r.to_string()),
            url: c.url.to_string(),
            oci_tag: c.oci_tag.value.to_string(),
            digest: digest.map(|d| d.to_string()),
            component_path: c.component_path.value.to_string(),
            path: c.overlay.clone(),
            interval: k.interval.to_string(),
            timeout: k.timeout.to_string(),
            prune: k.prune,
            wait: k.wait,
            target_namespace: k.target_namespace.as_ref().map(ToString::to_string),
            depends_on: c.depends_on.iter().map(ToString::to_string).collect(),
        }
    }
}

impl Rendering {
    /// The inputs document; refused when it would reach Flux Operator's size limit.
    pub fn inputs_json(&self) -> Result<String, Error> {
        let body = pretty(&serde_json::json!({ "inputs": self.inputs }));
        if body.len() >= INPUTS_LIMIT {
            return Err(Error::InputsTooLarge { size: body.len(), limit: INPUTS_LIMIT });
        }
        Ok(body)
    }
}
