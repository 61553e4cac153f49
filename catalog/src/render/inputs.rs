//! The Flux Operator `ResourceSetInputProvider` `type: ExternalService` document:
//! `{"inputs": [{"id": …, …}]}`, one entry per component, ids unique.

use serde::Serialize;

use crate::error::Error;

use super::{pretty, Rendering};

/// Flux Operator refuses ExternalService responses of 900 KiB and more.
pub const INPUTS_LIMIT: usize = 900 * 1024;

/// One component's inputs for a ResourceSet template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputEntry<'a> {
    pub id: &'a str,
    pub cluster: &'a str,
    pub tier: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<&'a str>,
    pub url: &'a str,
    pub oci_tag: &'a str,
    pub digest: Option<&'a str>,
    pub component_path: &'a str,
    /// The Kustomization path, `./<component_path>/<tier>`.
    pub path: &'a str,
    pub interval: &'a str,
    pub timeout: &'a str,
    pub prune: bool,
    pub wait: bool,
    pub target_namespace: Option<&'a str>,
    pub depends_on: Vec<&'a str>,
}

impl Rendering<'_> {
    /// One entry per component, in component order.
    pub fn inputs(&self) -> Vec<InputEntry<'_>> {
        let config = self.config;
        self.entries()
            .map(|(c, digest)| {
                let k = &c.kustomization;
                InputEntry {
                    id: c.id.as_str(),
                    cluster: config.cluster.as_str(),
                    tier: config.tier.as_str(),
                    revision: self.revision.as_deref(),
                    url: c.url.as_str(),
                    oci_tag: c.oci_tag.value.as_str(),
                    digest: digest.map(|d| d.as_str()),
                    component_path: c.component_path.value.as_str(),
                    path: &c.overlay,
                    interval: k.interval.as_str(),
                    timeout: k.timeout.as_str(),
                    prune: k.prune,
                    wait: k.wait,
                    target_namespace: k.target_namespace.as_ref().map(|n| n.as_str()),
                    depends_on: c.depends_on.iter().map(|d| d.as_str()).collect(),
                }
            })
            .collect()
    }

    /// The inputs document; refused when it would reach Flux Operator's size limit.
    pub fn inputs_json(&self) -> Result<String, Error> {
        let body = pretty(&serde_json::json!({ "inputs": self.inputs() }));
        if body.len() >= INPUTS_LIMIT {
            return Err(Error::InputsTooLarge {
                size: body.len(),
                limit: INPUTS_LIMIT,
            });
        }
        Ok(body)
    }
}
