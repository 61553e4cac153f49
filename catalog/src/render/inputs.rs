//! The Flux Operator `ResourceSetInputProvider` `type: ExternalService` document:
//! `{"inputs": [{"id": …, …}]}`, one entry per component, ids unique.
//!
//! Every input has every key, never `null`: the API server prunes nulls from the provider's
//! `.status.exportedInputs` (its schema is not nullable), so a template reading the key would
//! fail under `missingkey=error`, and `defaultValues` cannot fill a key that was sent. An unset
//! string is `""` (`digest` on tiers that do not pin digests, `target_namespace` when unset,
//! `revision` in offline renders).

use serde::Serialize;

use crate::error::Error;

use super::{pretty, Rendering};

/// Flux Operator refuses ExternalService responses of 900 KiB and more.
pub const INPUTS_LIMIT: usize = 900 * 1024;

/// How many inputs a `ResourceSetInputProvider` keeps by default (`spec.filter.limit`, at most
/// 10,000): a cluster with more components needs the limit raised, or the rest are cut.
pub const RSIP_DEFAULT_LIMIT: usize = 100;

/// One component's inputs for a ResourceSet template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputEntry<'a> {
    pub id: &'a str,
    pub cluster: &'a str,
    pub tier: &'a str,
    /// The cluster revision; `""` in offline renders.
    pub revision: &'a str,
    pub url: &'a str,
    pub oci_tag: &'a str,
    /// The pinned digest; `""` on tiers that do not pin digests.
    pub digest: &'a str,
    pub component_path: &'a str,
    /// The Kustomization path, `./<component_path>/<tier>`.
    pub path: &'a str,
    pub interval: &'a str,
    pub timeout: &'a str,
    pub prune: bool,
    pub wait: bool,
    /// `""` when unset.
    pub target_namespace: &'a str,
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
                    revision: self.revision.as_deref().unwrap_or(""),
                    url: c.url.as_str(),
                    oci_tag: c.oci_tag.value.as_str(),
                    digest: digest.map_or("", |d| d.as_str()),
                    component_path: c.component_path.value.as_str(),
                    path: &c.overlay,
                    interval: k.interval.as_str(),
                    timeout: k.timeout.as_str(),
                    prune: k.prune,
                    wait: k.wait,
                    target_namespace: k.target_namespace.as_ref().map_or("", |n| n.as_str()),
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
